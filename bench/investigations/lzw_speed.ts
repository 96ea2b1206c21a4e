/**
 * LZW speed on a push/pull body of N members (default 10,000), ours beside Go's
 * `compress/lzw` (the code hashicorp/memberlist runs), and what that costs a simulation.
 *
 * In issue #4's 10,000-node lan simulation each node push/pulls once per pushPullScale(30 s,
 * N) = 300 s, so 2N/300 bodies are built and as many received per simulated second. Just after
 * a membership change every one of them is compressed anew. Compressing and decompressing
 * them is work the simulation cannot skip and one thread has to do: `floorMsPerSimSecond`
 * gives it in ms of CPU per simulated second, for our code and for Go's.
 *
 *   npx deno run -A bench/investigations/lzw_speed.ts [--n 10000] [--out file]
 *
 * Go's figures need `go` on the PATH (scripts/test installs it); without it they are null.
 * Writes bench/results/lzw_speed.json (one entry per runtime).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lzwCompress, lzwDecompress } from "../../memberlist/wire/lzw.ts";
import { pushPullScale } from "../../memberlist/mod.ts";
import type { PushNodeState } from "../../memberlist/wire/push_state.ts";
import { encodePushPull } from "../../memberlist/wire/stream.ts";
import { seededRandom } from "../../transport/mod.ts";
import { mergeResults, resultsPath, runtimeName, writeResults } from "../results_file.ts";
import { arg } from "../args.ts";

/** One runtime's measurement. */
export interface LzwSpeedResult {
  runtime: string;
  members: number;
  bodyBytes: number;
  compressedBytes: number;
  /** Median ms per call, ours. */
  compressMs: number;
  decompressMs: number;
  /** The same body through Go's compress/lzw (null without Go). */
  go: { compressMs: number; decompressMs: number; compressedBytes: number } | null;
  /** Bodies built (and as many received) per simulated second on lan just after a change. */
  bodiesPerSimSecond: number;
  /** CPU ms of LZW alone per simulated second: ours, and Go's. */
  floorMsPerSimSecond: { ours: number; go: number | null };
}

const ROUNDS = 7;
const PER_ROUND = 20;
const LAN_PUSH_PULL_MS = 30_000;

// A converged node's push/pull body: every member alive, in a shuffled (probe) order.
function pushPullBody(members: number): Uint8Array {
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < members; i++) {
    const k = i + 1;
    nodes.push({
      name: `n${i}`,
      addr: Uint8Array.of(10, (k >> 16) & 255, (k >> 8) & 255, k & 255),
      port: 7946,
      meta: null,
      incarnation: 1,
      state: 0,
      vsn: Uint8Array.of(1, 5, 2, 0, 0, 0),
    });
  }
  const random = seededRandom(1);
  for (let i = nodes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
  }
  return encodePushPull({ join: false }, nodes, new Uint8Array(0));
}

function medianMs(fn: () => void): number {
  const per: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    for (let i = 0; i < PER_ROUND; i++) fn();
    per.push((performance.now() - t) / PER_ROUND);
  }
  per.sort((a, b) => a - b);
  return Math.round(per[ROUNDS >> 1] * 1000) / 1000;
}

function goFigures(body: Uint8Array): LzwSpeedResult["go"] {
  const dir = mkdtempSync(join(tmpdir(), "lzw-speed-"));
  try {
    const file = join(dir, "body.bin");
    writeFileSync(file, body);
    const main = fileURLToPath(new URL("./lzw_go/main.go", import.meta.url));
    const out = execFileSync("go", ["run", main, file], { encoding: "utf8" });
    const go = JSON.parse(out) as NonNullable<LzwSpeedResult["go"]>;
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    return { ...go, compressMs: ms(go.compressMs), decompressMs: ms(go.decompressMs) };
  } catch (e) {
    console.log(`Go's figures skipped: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const members = Number(arg("n", "10000"));
  const body = pushPullBody(members);
  let z = lzwCompress(body);
  const plain = lzwDecompress(z);
  if (plain.length !== body.length || plain.some((b, i) => b !== body[i])) {
    throw new Error("LZW round trip changed the body");
  }
  const compressMs = medianMs(() => (z = lzwCompress(body)));
  const decompressMs = medianMs(() => lzwDecompress(z));
  const go = goFigures(body);
  const bodiesPerSimSecond = (2 * members * 1000) / pushPullScale(LAN_PUSH_PULL_MS, members);
  const floor = (c: number, d: number) => Math.round(bodiesPerSimSecond * (c + d));
  const runtime = runtimeName();
  const result: LzwSpeedResult = {
    runtime,
    members,
    bodyBytes: body.length,
    compressedBytes: z.length,
    compressMs,
    decompressMs,
    go,
    bodiesPerSimSecond: Math.round(bodiesPerSimSecond * 10) / 10,
    floorMsPerSimSecond: {
      ours: floor(compressMs, decompressMs),
      go: go === null ? null : floor(go.compressMs, go.decompressMs),
    },
  };
  console.log(
    `${runtime}: ${members} members, body ${body.length} B -> ${z.length} B; compress ${compressMs} ms, decompress ${decompressMs} ms` +
      (go === null ? "" : `; Go: ${go.compressMs} ms, ${go.decompressMs} ms`),
  );
  console.log(
    `lan, just after a change: ${result.bodiesPerSimSecond} bodies built and received per simulated second = ${result.floorMsPerSimSecond.ours} ms of LZW per simulated second (Go's code: ${
      result.floorMsPerSimSecond.go ?? "?"
    } ms)`,
  );
  const out = resultsPath("lzw_speed.json", arg("out", ""));
  const results = mergeResults(out, [result], (r) => r.runtime.split(" ")[0]);
  const doc = {
    benchmark: "LZW on a push/pull body (bench/investigations/lzw_speed.ts)",
    date: new Date().toISOString(),
    notes: [
      "compressMs/decompressMs: median of 7 rounds of 20 calls on one body; go: the same body through Go's compress/lzw.",
      "floorMsPerSimSecond: bodiesPerSimSecond × (compress + decompress), the LZW work of one simulated second of a lan cluster of this size just after a change.",
    ],
    results,
  };
  writeResults(out, doc);
}

main();
