/**
 * Replicated log benchmark, side by side with NATS JetStream in one run.
 *
 *   npx deno run -A bench/log_bench.ts [--entries 20000] [--rate 10000] [--low-rate 1000]
 *     [--seconds 3] [--no-nats]
 *
 * Our log: three nodes on 127.0.0.1, each its own process (bench/log_bench_procs.ts), for
 * the lan (immediate push) and wan (20 ms batches + deflate) presets:
 * - throughput: all three append `entries` each as fast as they can (up to 1,000
 *   unacknowledged appends per node); entries/s applied by each replica (its 2 peers'
 *   entries over the time until every replica holds all 3 × entries);
 * - append-to-visible latency: node a appends at `rate`/s (then at `low-rate`/s), b and c
 *   timestamp arrival;
 * - quorum appends: one at a time, and 64 in flight;
 * - bytes on the wire per replicated entry (all frames, both directions).
 *
 * JetStream: a real 3-node nats-server cluster, memory storage, 3 replicas, started here
 * (bench/log_bench_nats.ts): 3 publishers with 1,000 in flight, async publishes with 64 in
 * flight, sync publishes, and KV put → watcher on another server at both rates.
 *
 * Values are 100-byte JSON documents stamped with their send time (log_bench_value.ts), the
 * same for both systems. Prints one table and writes bench/results/log.json.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchLog, type LogBenchOptions } from "./log_bench_procs.ts";
import { benchJetStream, type JetStreamResult } from "./log_bench_nats.ts";
import { timedValue } from "./log_bench_value.ts";

const ARGS: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);
function arg(name: string, dflt: number): number {
  const i = ARGS.indexOf(`--${name}`);
  return i >= 0 ? Number(ARGS[i + 1]) : dflt;
}

const options: LogBenchOptions = {
  entries: arg("entries", 20_000),
  rate: arg("rate", 10_000),
  lowRate: arg("low-rate", 1000),
  seconds: arg("seconds", 3),
};
type Run = Record<string, Record<string, number>>;
/** Linux CPU pressure (share of the last 10 s that runnable tasks waited for a CPU), or null. */
function cpuPressure(): number | null {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}
const load0 = loadavg()[0];
const pressure0 = cpuPressure();
const runs: Record<string, unknown>[] = [];
for (const env of ["lan", "wan"] as const) {
  const r = await benchLog(env, options);
  runs.push(r);
  console.error(`log ${env} done`);
}
let nats: JetStreamResult | { error: string } | undefined;
if (!ARGS.includes("--no-nats")) {
  try {
    nats = await benchJetStream({ ...options, value: (i) => timedValue("nats", i) });
  } catch (err) {
    nats = { error: String(err) };
    console.error(`JetStream: ${err}`);
  }
  console.error("JetStream done");
}

// one table, both systems side by side
const [lan, wan] = runs as Run[];
const js = nats !== undefined && !("error" in nats) ? nats : undefined;
const fmt = (x: number | undefined, d = 0): string =>
  x === undefined || Number.isNaN(x)
    ? "—"
    : x.toLocaleString("en-US", { maximumFractionDigits: d });
const rows: [string, string, string, string][] = [
  [
    "entries/s applied per replica (3 writers)",
    fmt(lan.throughput.appliedPerSecPerReplica),
    fmt(wan.throughput.appliedPerSecPerReplica),
    fmt(js?.throughput.storedPerSecPerReplica),
  ],
  [
    `append→visible p50 ms @ ${fmt(options.rate)}/s`,
    fmt(lan.latency.p50Ms, 3),
    fmt(wan.latency.p50Ms, 3),
    fmt(js?.kvWatch.p50Ms, 3),
  ],
  [
    `append→visible p99 ms @ ${fmt(options.rate)}/s`,
    fmt(lan.latency.p99Ms, 3),
    fmt(wan.latency.p99Ms, 3),
    fmt(js?.kvWatch.p99Ms, 3),
  ],
  [
    `append→visible p50 ms @ ${fmt(options.lowRate)}/s`,
    fmt(lan.latencyLow.p50Ms, 3),
    fmt(wan.latencyLow.p50Ms, 3),
    fmt(js?.kvWatchLow.p50Ms, 3),
  ],
  [
    `append→visible p99 ms @ ${fmt(options.lowRate)}/s`,
    fmt(lan.latencyLow.p99Ms, 3),
    fmt(wan.latencyLow.p99Ms, 3),
    fmt(js?.kvWatchLow.p99Ms, 3),
  ],
  [
    "quorum appends/s, 64 in flight",
    fmt(lan.quorum.concurrent64PerSec),
    fmt(wan.quorum.concurrent64PerSec),
    fmt(js?.async64PerSec),
  ],
  [
    "quorum appends/s, one at a time",
    fmt(lan.quorum.sequentialPerSec),
    fmt(wan.quorum.sequentialPerSec),
    fmt(js?.sync.perSec),
  ],
  [
    "quorum append p99 ms, one at a time",
    fmt(lan.quorum.sequentialP99Ms, 3),
    fmt(wan.quorum.sequentialP99Ms, 3),
    fmt(js?.sync.p99Ms, 3),
  ],
  [
    "bytes on the wire per replicated entry",
    fmt(lan.throughput.bytesPerEntry, 1),
    fmt(wan.throughput.bytesPerEntry, 1),
    "—",
  ],
];
const head: [string, string, string, string] = ["", "log lan", "log wan", "JetStream R3 (mem)"];
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r: string[]): string =>
  r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(" | ");
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
for (const r of rows) console.log(line(r));
if (js !== undefined) {
  console.log(
    `JetStream: nats-server ${js.server}; append→visible = KV put on server 1 → watcher on ` +
      `server 2 (${js.kvWatch.received}/${js.kvWatch.entries} seen); 3-writer row = 3 ` +
      `publishers (one per server), 1,000 in flight each`,
  );
} else if (nats !== undefined) {
  console.log(`JetStream failed: ${(nats as { error: string }).error}`);
}

const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
const doc = {
  benchmark: "3 replicated logs on 127.0.0.1 (one process each) vs a 3-node NATS JetStream " +
    "cluster (memory storage, 3 replicas); ~100-byte JSON values",
  command: `npx deno run -A bench/log_bench.ts ${ARGS.join(" ")}`.trim(),
  updatedAt: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "?",
    runtime: runtime ? `deno ${runtime.version.deno}` : `node ${process.version}`,
    // the machine is shared: other work running alongside shows in every number
    loadAverage1mAtStart: Math.round(load0 * 100) / 100,
    loadAverage1mAtEnd: Math.round(loadavg()[0] * 100) / 100,
    cpuPressurePercentAtStart: pressure0,
    cpuPressurePercentAtEnd: cpuPressure(),
  },
  options,
  table: [head, ...rows],
  results: runs,
  jetstream: nats ?? null,
};
const out = join(dirname(fileURLToPath(import.meta.url)), "results", "log.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
console.log(`wrote ${out}`);
