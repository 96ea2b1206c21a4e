/**
 * Simulation benchmark: real Memberlist nodes on the deterministic simulated network
 * (VirtualClock + SimNetwork, seeded), for several cluster sizes, tuning presets and packet
 * loss rates. For each it measures:
 *
 * - join: time from a new node's `join()` until 99.99 % of the members report it alive;
 * - failure: time from a `kill` until 99.99 % of the survivors report the node dead, split into
 *   detection (kill → first death declaration) and dissemination (first → 99.99 %);
 * - bytes per node per second over a quiet window (UDP payloads plus stream bytes);
 * - heap bytes per known member (heap growth over the whole cluster / N², after a GC);
 * - wall time per simulated second in steady state.
 *
 * and compares the convergence times with Serf's model (bench/sim_model.ts).
 *
 * Bootstrap: the cluster starts converged, as after a long quiet period: every node's member
 * table is seeded with every member alive (testing/sim_harness.ts `startConverged`, the
 * simulation seam in memberlist/seed.ts), with no broadcasts queued and the push/pull loops
 * staggered over the scaled interval. A join storm of N nodes costs O(N²) messages (hours of
 * wall time at 10,000) and is not what these rows measure. One cluster per (preset, N) serves
 * the three loss rates in turn (each adds one node, kills another).
 *
 * Links: lan = 1 ms latency; wan = 30 ms latency + up to 10 ms jitter.
 *
 *   npx deno run -A --v8-flags=--expose-gc bench/sim.ts [--n 30,100,1000] [--presets lan,wan]
 *       [--loss 0,0.1,0.5] [--seed 1] [--out bench/results/sim.json]
 *
 * N = 10,000 needs about 16 GiB of heap and a larger young generation (push/pull garbage of
 * 10,000-member states then dies young instead of being promoted), and takes about an hour:
 *
 *   npx deno run -A --v8-flags=--expose-gc,--max-old-space-size=20000,--max-semi-space-size=128
 *       bench/sim.ts --n 10000
 *   node --expose-gc build/bench-node/bench/sim.js ... --out bench/results/sim-node.json
 *       (after bench/node_build.ts; bench/run does both)
 *
 * Prints a table and writes the JSON (default bench/results/sim.json; `--out` is relative to
 * the working directory) and a chart next to it with the same stem (.svg). Entries of runs not
 * repeated are kept from the previous file. The JSON records the runtime and its version.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { totalmem } from "node:os";
import { getHeapStatistics } from "node:v8";
import process from "node:process";
import type { MemberlistTuning } from "../memberlist/mod.ts";
import { LAN, SimCluster, WAN } from "../testing/sim_harness.ts";
import { serfBytesPerNodePerSec, serfConvergenceMs, type SimResult } from "./sim_model.ts";
import { renderChart } from "./sim_svg.ts";
import { mergeResults, resultsPath, runtimeName } from "./results_file.ts";
import { arg } from "./args.ts";

export type { SimResult } from "./sim_model.ts";

// Heap per known member measured at N = 10,000 (bench/results/sim.json); every node holds
// every member, so a run needs about N² of these.
const BYTES_PER_MEMBER = 170;

function skipReason(n: number): string | null {
  const heap = n * n * BYTES_PER_MEMBER;
  const gb = (x: number): string => `${(x / 2 ** 30).toFixed(1)} GiB`;
  const need = `${n} full member tables need ~${gb(heap)} of heap (${n}² members × ` +
    `${BYTES_PER_MEMBER} B)`;
  if (heap > 0.8 * totalmem()) {
    return `${need}, more than 80 % of this machine's ${gb(totalmem())}`;
  }
  const limit = getHeapStatistics().heap_size_limit;
  if (heap > 0.9 * limit) {
    const mb = Math.ceil((heap * 1.3) / 2 ** 20);
    return `${need}, more than V8's heap limit of ${gb(limit)}: run with ` +
      `--max-old-space-size=${mb}`;
  }
  return null;
}

function skippedRows(
  preset: "lan" | "wan",
  n: number,
  losses: number[],
  reason: string,
): SimResult[] {
  const { tuning } = PRESETS[preset];
  return losses.map((loss) => {
    const model = { n, fanout: tuning.gossipNodes, intervalMs: tuning.gossipIntervalMs, loss };
    return {
      preset,
      n,
      loss,
      joinMs: null,
      failureMs: null,
      failureDetectMs: null,
      failureSpreadMs: null,
      serfModelMs: serfConvergenceMs(model),
      bytesPerNodePerSec: 0,
      serfBytesPerNodePerSec: serfBytesPerNodePerSec(model),
      heapBytesPerMember: null,
      bootstrapSimMs: 0,
      bootstrapWallMs: 0,
      wallMsPerSimSecond: 0,
      measureWallMs: 0,
      skipped: reason,
    };
  });
}

const PRESETS: Record<"lan" | "wan", { tuning: MemberlistTuning; link: object }> = {
  lan: { tuning: LAN, link: { latencyMs: 1 } },
  wan: { tuning: WAN, link: { latencyMs: 30, jitterMs: 10 } },
};

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function wanted(n: number): number {
  return Math.ceil(0.9999 * n);
}

/** Sim ms until `count()` reaches `target`, checking every `step` ms; null after `maxMs`. */
async function timeUntil(
  sim: SimCluster,
  count: () => number,
  target: number,
  maxMs: number,
  step: number,
): Promise<number | null> {
  const t = await sim.until(() => count() >= target, maxMs, step);
  return t === undefined ? null : t;
}

async function runPreset(
  preset: "lan" | "wan",
  n: number,
  losses: number[],
  seed: number,
): Promise<SimResult[]> {
  const { tuning, link } = PRESETS[preset];
  const base = heapUsed();
  const wall0 = performance.now();
  const sim = new SimCluster({ seed, tuning, link, recordEvents: false });
  // event counting: per subject name, the distinct observers per event kind
  const seen = new Map<string, Set<string>>();
  let firstDead: number | null = null;
  let watch: string | null = null;
  sim.onEvent = (e) => {
    if (e.who !== watch) return;
    if (e.ev === "dead" && firstDead === null) firstDead = e.t;
    const key = `${e.ev} ${e.who}`;
    let s = seen.get(key);
    if (s === undefined) seen.set(key, s = new Set());
    s.add(e.node);
  };
  const observers = (ev: string, who: string): number => seen.get(`${ev} ${who}`)?.size ?? 0;

  await sim.startConverged(n);
  const step = preset === "lan" ? 500 : 1000;
  const bootstrapSimMs = sim.clock.now();
  const bootstrapWallMs = performance.now() - wall0;
  const heap = heapUsed();
  const heapBytesPerMember = gc === undefined ? null : (heap - base) / (n * n);

  const results: SimResult[] = [];
  let next = n;
  for (const loss of losses) {
    const t0 = performance.now();
    sim.net.setDefaultLink({ loss });
    await sim.runFor(5_000, step);
    // steady traffic
    const window = preset === "lan" ? 20_000 : 60_000;
    const s0 = sim.net.stats;
    const b0 = s0.bytesSent + s0.streamBytesSent;
    const w0 = performance.now();
    await sim.runFor(window, step);
    const wallPerSimSecond = (performance.now() - w0) / (window / 1000);
    const s1 = sim.net.stats;
    const bytes = s1.bytesSent + s1.streamBytesSent - b0;
    const live = sim.running().length;
    const bytesPerNodePerSec = bytes / live / (window / 1000);

    // join of a new node
    const fresh = next++;
    const list = await sim.start(fresh, `n${fresh}`);
    watch = list.name;
    void list.join([sim.lists[0]!.address]).catch(() => {});
    const joinMs = await timeUntil(
      sim,
      () => observers("join", list.name),
      wanted(live),
      120_000,
      preset === "lan" ? 50 : 100,
    );
    await sim.runFor(10_000, step);

    // failure of a random member (not node 0, the seed)
    const victim = 1 + ((seed * 7919 + fresh * 104729) % (live - 1));
    const vname = sim.names[victim];
    watch = vname;
    firstDead = null;
    sim.kill(victim);
    const killedAt = sim.clock.now();
    const survivors = sim.running().length;
    const failureMs = await timeUntil(
      sim,
      () => observers("dead", vname),
      wanted(survivors),
      preset === "lan" ? 300_000 : 1_200_000,
      preset === "lan" ? 50 : 200,
    );
    const fd = firstDead as number | null;
    const failureDetectMs = fd === null ? null : fd - killedAt;
    const failureSpreadMs = failureMs === null || failureDetectMs === null
      ? null
      : failureMs - failureDetectMs;
    watch = null;
    const model = {
      n: live,
      fanout: tuning.gossipNodes,
      intervalMs: tuning.gossipIntervalMs,
      loss,
    };
    results.push({
      preset,
      n,
      loss,
      joinMs,
      failureMs,
      failureDetectMs,
      failureSpreadMs,
      serfModelMs: serfConvergenceMs(model),
      bytesPerNodePerSec: Math.round(bytesPerNodePerSec),
      serfBytesPerNodePerSec: serfBytesPerNodePerSec(model),
      heapBytesPerMember: heapBytesPerMember === null ? null : Math.round(heapBytesPerMember),
      bootstrapSimMs,
      bootstrapWallMs: Math.round(bootstrapWallMs),
      wallMsPerSimSecond: Math.round(wallPerSimSecond),
      measureWallMs: Math.round(performance.now() - t0),
    });
    console.log(row(results[results.length - 1]));
  }
  await sim.stop();
  return results;
}

function fmt(ms: number | null): string {
  return ms === null ? "—" : `${(ms / 1000).toFixed(2)} s`;
}

function row(r: SimResult): string {
  return [
    r.preset.padEnd(4),
    String(r.n).padStart(6),
    `${Math.round(r.loss * 100)}%`.padStart(4),
    fmt(r.joinMs).padStart(9),
    fmt(r.failureSpreadMs).padStart(9),
    fmt(r.serfModelMs).padStart(9),
    fmt(r.failureDetectMs).padStart(9),
    fmt(r.failureMs).padStart(9),
    String(r.bytesPerNodePerSec).padStart(8),
    String(r.heapBytesPerMember ?? "—").padStart(6),
    fmt(r.bootstrapWallMs).padStart(9),
    String(r.wallMsPerSimSecond).padStart(7),
  ].join(" ");
}

const HEADER =
  "pre       N loss      join   dead-spr  serf-mdl  detect    dead-all   B/node/s  heap/m boot-wall ms/sim-s";

async function main(): Promise<void> {
  const ns = arg("n", "30,100,1000").split(",").map(Number);
  const presets = arg("presets", "lan,wan").split(",") as ("lan" | "wan")[];
  const losses = arg("loss", "0,0.1,0.5").split(",").map(Number);
  const seed = Number(arg("seed", "1"));
  if (gc === undefined) {
    console.warn(
      "run with --expose-gc (node) or --v8-flags=--expose-gc (deno) to measure heap per member",
    );
  }
  console.log(HEADER);
  const fresh: SimResult[] = [];
  for (const preset of presets) {
    for (const n of ns) {
      const reason = skipReason(n);
      if (reason !== null) {
        console.log(`${preset} ${n}: skipped: ${reason}`);
        fresh.push(...skippedRows(preset, n, losses, reason));
      } else fresh.push(...(await runPreset(preset, n, losses, seed)));
    }
  }
  const out = resultsPath("sim.json", arg("out", ""));
  const merged = mergeResults(out, fresh, (r) => `${r.preset}/${r.n}/${r.loss}`).sort((a, b) =>
    a.preset.localeCompare(b.preset) || a.n - b.n || a.loss - b.loss
  );
  const doc = {
    benchmark: "memberlist simulation (bench/sim.ts)",
    date: new Date().toISOString(),
    runtime: runtimeName(),
    seed,
    notes: [
      "joinMs / failureMs: time until 99.99 % of members report the change (ceil(0.9999 N)).",
      "failureMs = failureDetectMs (kill -> first death declaration, Lifeguard suspicion) + failureSpreadMs (gossip of the death).",
      "serfModelMs: Serf's convergence model for the same N, fanout, gossip interval and loss; compare with joinMs and failureSpreadMs (dissemination).",
      "bytesPerNodePerSec: UDP payload bytes sent (before loss) plus stream bytes, per live node, over a steady window.",
      "heapBytesPerMember: heap growth of the whole simulation (all nodes, network, clock) after GC, divided by N².",
    ],
    results: merged,
  };
  writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  const svg = out.replace(/(\.json)?$/, ".svg");
  writeFileSync(svg, renderChart(merged));
  console.log(`\nwrote ${out} and ${svg}`);
}

await main();
