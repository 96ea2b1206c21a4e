/**
 * Steady-state traffic per node: a 10-node cluster on 127.0.0.1 (lan preset), measured over
 * `--seconds` (default 60) once it has converged and settled.
 *
 *   npx deno run -A bench/steady_state.ts [--impl ts,go] [--seconds 60] [--nodes 10] [--preset lan]
 *
 * Method. Bytes are UDP and TCP payload bytes (no IP/UDP/TCP headers), counted by a
 * decorator around the Network our nodes bind (bench/byte_meter.ts): datagrams plus the TCP
 * push/pull and fallback-ping streams.
 * - ts: 10 of our nodes in this process; per node = the mean over the 10 nodes.
 * - go: the Go memberlist has no byte counter, so the cluster is 9 Go peers (separate
 *   processes) plus 1 of our nodes, and the figure is what that one node receives per
 *   second. In a symmetric cluster a node receives what an average member sends to it, and
 *   here 9 of 10 senders are Go, so this is Go's per-node rate (plus the acks and replies
 *   the Go peers send to our node's own probes and push/pulls, which Go also drives). What
 *   our node sends into the Go cluster is reported too.
 * The headline "bytes per node per second" is the received rate, comparable in both setups.
 *
 * Writes bench/results/steady_state.json (steady_state-node.json on Node), merging
 * entries by impl.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Memberlist } from "../memberlist/mod.ts";
import { presets } from "../presets/mod.ts";
import { nodeNetwork } from "../transport/node.ts";
import { type PeerProcess, startGoPeer, stopAllPeers } from "../tests/support/go_peer.ts";
import { type ByteCounts, diffCounts, MeteredNetwork, zeroCounts } from "./byte_meter.ts";

const ARGS: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);
function arg(name: string, dflt: string): string {
  const i = ARGS.indexOf(`--${name}`);
  return i >= 0 && i + 1 < ARGS.length ? ARGS[i + 1] : dflt;
}

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
const runtime = isDeno
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `node ${process.version}`;
const SECONDS = Number(arg("seconds", "60"));
const NODES = Number(arg("nodes", "10"));
const PRESET = arg("preset", "lan") as "local" | "lan" | "wan";
const IMPLS = arg("impl", "ts,go").split(",").filter(Boolean);
const SETTLE_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms: number,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Per-second rates of one node. */
interface Rates {
  inBytesPerSec: number;
  outBytesPerSec: number;
  udpInPerSec: number;
  udpOutPerSec: number;
  tcpInPerSec: number;
  tcpOutPerSec: number;
}

function rates(c: ByteCounts, seconds: number): Rates {
  const r = (x: number): number => Math.round(x / seconds);
  return {
    inBytesPerSec: r(c.udpIn + c.tcpIn),
    outBytesPerSec: r(c.udpOut + c.tcpOut),
    udpInPerSec: r(c.udpIn),
    udpOutPerSec: r(c.udpOut),
    tcpInPerSec: r(c.tcpIn),
    tcpOutPerSec: r(c.tcpOut),
  };
}

interface Result {
  impl: string;
  runtime: string;
  preset: string;
  nodes: number;
  seconds: number;
  method: string;
  /** The headline: received payload bytes per node per second. */
  bytesPerNodePerSec: number;
  perNode: Rates;
  /**
   * Only for impl ts: heap growth per Memberlist instance, converged cluster (after a GC when
   * the runtime exposes one: deno --v8-flags=--expose-gc, node --expose-gc).
   */
  heapPerNodeBytes?: number;
  /** Only for impl go: what our one node sent into the Go cluster. */
  ourNodeInGoCluster?: Rates;
  error?: string;
}

/** Joins, retrying twice: one failed join must not void a 60-second measurement. */
async function joinWithRetry(list: Memberlist, seed: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await list.join([seed]);
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      console.error(
        `${list.name}: join attempt ${attempt} failed (${(e as Error).message}); retrying`,
      );
      await sleep(500);
    }
  }
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

async function measureTs(): Promise<Result> {
  const meter = new MeteredNetwork(nodeNetwork);
  const lists: Memberlist[] = [];
  const heap0 = heapUsed();
  try {
    for (let i = 0; i < NODES; i++) {
      lists.push(
        await Memberlist.create({
          name: `ss-${i}`,
          network: meter,
          bind: { host: "127.0.0.1", port: 0 },
          tuning: presets[PRESET].memberlist,
        }),
      );
    }
    const seed = `${lists[0].address.host}:${lists[0].address.port}`;
    await Promise.all(lists.slice(1).map((l) => joinWithRetry(l, seed)));
    await waitFor(
      "convergence",
      () => lists.every((l) => l.aliveMembers().length === NODES),
      60_000,
    );
    await sleep(SETTLE_MS);
    const heapPerNodeBytes = Math.round((heapUsed() - heap0) / NODES);
    const before = meter.counts();
    await sleep(SECONDS * 1000);
    const after = meter.counts();
    const total = zeroCounts();
    for (let i = 0; i < NODES; i++) {
      const d = diffCounts(before[i], after[i]);
      total.udpIn += d.udpIn / NODES;
      total.udpOut += d.udpOut / NODES;
      total.tcpIn += d.tcpIn / NODES;
      total.tcpOut += d.tcpOut / NODES;
    }
    if (!lists.every((l) => l.aliveMembers().length === NODES)) {
      throw new Error("the cluster did not stay converged during the measurement");
    }
    const perNode = rates(total, SECONDS);
    return {
      impl: "ts",
      runtime,
      preset: PRESET,
      nodes: NODES,
      seconds: SECONDS,
      method: `${NODES} of our nodes in one process; mean over nodes of UDP+TCP payload bytes`,
      bytesPerNodePerSec: perNode.inBytesPerSec,
      perNode,
      heapPerNodeBytes,
    };
  } finally {
    await Promise.all(lists.map((l) => l.shutdown()));
  }
}

async function measureGo(): Promise<Result> {
  const meter = new MeteredNetwork(nodeNetwork);
  const ours = await Memberlist.create({
    name: "ss-ts",
    network: meter,
    bind: { host: "127.0.0.1", port: 0 },
    tuning: presets[PRESET].memberlist,
  });
  const peers: PeerProcess[] = [];
  try {
    const seed = `${ours.address.host}:${ours.address.port}`;
    for (let i = 0; i < NODES - 1; i++) {
      peers.push(await startGoPeer({ name: `ss-go-${i}`, preset: PRESET, join: [seed] }));
    }
    await waitFor("convergence", async () => {
      if (ours.aliveMembers().length !== NODES) return false;
      const views = await Promise.all(peers.map((p) => p.members()));
      return views.every((v) => v.filter((m) => m.state === "alive").length === NODES);
    }, 60_000);
    await sleep(SETTLE_MS);
    const before = meter.counts()[0];
    await sleep(SECONDS * 1000);
    const d = diffCounts(before, meter.counts()[0]);
    if (ours.aliveMembers().length !== NODES) {
      throw new Error("the cluster did not stay converged during the measurement");
    }
    const r = rates(d, SECONDS);
    return {
      impl: "go",
      runtime: "go memberlist v0.2.2 (measured at one of our nodes)",
      preset: PRESET,
      nodes: NODES,
      seconds: SECONDS,
      method: `${NODES - 1} Go peers + 1 of ours; bytes our node receives per second ` +
        "(Go has no byte counter; 9 of 10 senders are Go)",
      bytesPerNodePerSec: r.inBytesPerSec,
      perNode: { ...r, outBytesPerSec: NaN, udpOutPerSec: NaN, tcpOutPerSec: NaN },
      ourNodeInGoCluster: r,
    };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
    await ours.shutdown();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const impl of IMPLS) {
    const t0 = Date.now();
    try {
      const r = impl === "go" ? await measureGo() : await measureTs();
      results.push(r);
      console.log(
        `${impl.padEnd(3)} ${r.bytesPerNodePerSec} B/s per node received ` +
          `(udp ${r.perNode.udpInPerSec}, tcp ${r.perNode.tcpInPerSec}); ` +
          `${((Date.now() - t0) / 1000).toFixed(0)} s`,
      );
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      console.log(`${impl}: ${error}`);
      results.push({
        impl,
        runtime,
        preset: PRESET,
        nodes: NODES,
        seconds: SECONDS,
        method: "",
        bytesPerNodePerSec: NaN,
        perNode: rates(zeroCounts(), 1),
        error,
      });
    }
  }
  await stopAllPeers();

  const file = isDeno ? "steady_state.json" : "steady_state-node.json";
  const out = fileURLToPath(new URL(`./results/${file}`, import.meta.url))
    .replace(/build[\\/]bench-node[\\/]bench/, "bench");
  mkdirSync(dirname(out), { recursive: true });
  let previous: Result[] = [];
  if (existsSync(out)) {
    try {
      previous = (JSON.parse(readFileSync(out, "utf8")) as { results: Result[] }).results ?? [];
    } catch { /* rewrite a broken file */ }
  }
  const doc = {
    benchmark: `steady-state payload bytes per node per second, ${NODES}-node cluster on ` +
      `127.0.0.1, ${PRESET} preset, ${SECONDS} s after convergence`,
    updatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", runtime },
    results: [...previous.filter((p) => !results.some((r) => r.impl === p.impl)), ...results],
  };
  writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  console.log(`wrote bench/results/${file}`);
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    console.error(`failed: ${failed.map((r) => `${r.impl}: ${r.error}`).join("; ")}`);
    process.exitCode = 1;
  }
}

await main();
