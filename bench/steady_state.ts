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
 * The headline "bytes per node per second" is the received rate, made comparable in two ways:
 * - Same names: every node is named `ss-ts-<i>` or `ss-go-<i>` (7 characters), since names
 *   ride in every ping and push/pull entry (shorter names alone made ours look cheaper).
 * - Push/pull at its expected rate: each node starts one push/pull per (scaled) interval to
 *   a random peer, so a node takes part in 2 per interval on average; but the number started
 *   towards ONE node in a 60 s window is Binomial(18, 1/9) (mean 2, sd 1.3), so that node's
 *   TCP rate swings by about ±30 % from run to run (the mean over 10 nodes of the ts setup
 *   has no such noise). So the TCP part is (TCP bytes received per push/pull exchange) ×
 *   2 / interval in both setups; UDP is as measured. The raw rate and count are reported too.
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
import { Memberlist, type MemberlistCounters, pushPullScale } from "../memberlist/mod.ts";
import { presets } from "../presets/mod.ts";
import { nodeNetwork } from "../transport/node.ts";
import { type PeerProcess, startGoPeer, stopAllPeers } from "../testing/go_peer.ts";
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
  /** The headline: received payload bytes per node per second, push/pull at its expected rate. */
  bytesPerNodePerSec: number;
  /** Received payload bytes per node per second as counted, push/pulls as they fell. */
  measuredInBytesPerSec: number;
  /** Push/pull exchanges (started or answered) per measured node in the window. */
  pushPullsPerNode: number;
  /** TCP payload bytes a node received per push/pull exchange. */
  tcpInPerPushPull: number;
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

/** Push/pull exchanges a node started or answered (both move the full state both ways). */
function pushPulls(c: MemberlistCounters): number {
  return (c.streamsIn.pushPull ?? 0) + (c.streamsOut.pushPull ?? 0);
}

/**
 * The comparable received rate: UDP as measured, TCP as bytes per exchange times the
 * expected exchanges per node per second (one started, one answered per scaled interval).
 */
function comparable(
  udpIn: number,
  tcpIn: number,
  exchanges: number,
): { bytesPerSec: number; tcpInPerPushPull: number } {
  if (exchanges === 0) {
    return { bytesPerSec: Math.round((udpIn + tcpIn) / SECONDS), tcpInPerPushPull: 0 };
  }
  const perExchange = tcpIn / exchanges;
  const interval = pushPullScale(presets[PRESET].memberlist.pushPullIntervalMs, NODES) / 1000;
  return {
    bytesPerSec: Math.round(udpIn / SECONDS + (perExchange * 2) / interval),
    tcpInPerPushPull: Math.round(perExchange),
  };
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
          name: `ss-ts-${i}`,
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
    const c0 = lists.map((l) => l.counters());
    await sleep(SECONDS * 1000);
    const after = meter.counts();
    const exchanges = lists.reduce((s, l, i) => s + pushPulls(l.counters()) - pushPulls(c0[i]), 0);
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
    const fair = comparable(total.udpIn, total.tcpIn, exchanges / NODES);
    return {
      impl: "ts",
      runtime,
      preset: PRESET,
      nodes: NODES,
      seconds: SECONDS,
      method: `${NODES} of our nodes in one process; mean over nodes of received UDP+TCP ` +
        "payload bytes, TCP at the expected push/pull rate",
      bytesPerNodePerSec: fair.bytesPerSec,
      measuredInBytesPerSec: perNode.inBytesPerSec,
      pushPullsPerNode: exchanges / NODES,
      tcpInPerPushPull: fair.tcpInPerPushPull,
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
    name: "ss-ts-0",
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
    const c0 = ours.counters();
    await sleep(SECONDS * 1000);
    const d = diffCounts(before, meter.counts()[0]);
    const exchanges = pushPulls(ours.counters()) - pushPulls(c0);
    if (ours.aliveMembers().length !== NODES) {
      throw new Error("the cluster did not stay converged during the measurement");
    }
    const r = rates(d, SECONDS);
    const fair = comparable(d.udpIn, d.tcpIn, exchanges);
    return {
      impl: "go",
      runtime: "go memberlist v0.2.2 (measured at one of our nodes)",
      preset: PRESET,
      nodes: NODES,
      seconds: SECONDS,
      method: `${NODES - 1} Go peers + 1 of ours; bytes our node receives per second ` +
        "(Go has no byte counter; 9 of 10 senders are Go), TCP at the expected push/pull rate",
      bytesPerNodePerSec: fair.bytesPerSec,
      measuredInBytesPerSec: r.inBytesPerSec,
      pushPullsPerNode: exchanges,
      tcpInPerPushPull: fair.tcpInPerPushPull,
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
          `(udp ${r.perNode.udpInPerSec}, ${r.tcpInPerPushPull} B per push/pull; as counted ` +
          `${r.measuredInBytesPerSec} B/s with ${r.pushPullsPerNode} push/pulls); ` +
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
        measuredInBytesPerSec: NaN,
        pushPullsPerNode: NaN,
        tcpInPerPushPull: NaN,
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
