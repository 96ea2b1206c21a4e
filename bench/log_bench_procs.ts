/**
 * The replicated log side of bench/log_bench.ts: three log nodes, each its own process
 * (bench/log_bench_node.ts), driven over JSON lines.
 *
 * Environment knobs for hot-path work: `LOG_BENCH_PROF=<dir>` (Node) writes a CPU profile per
 * node process; `LOG_BENCH_FLAGS="--v8-flags=..."` (Deno) passes runtime flags to them.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { presets } from "../presets/mod.ts";

/** Workload sizes. */
export interface LogBenchOptions {
  /** Entries each of the 3 nodes appends in the throughput phase. */
  entries: number;
  /** Appends per second in the latency phase. */
  rate: number;
  /** A second, lighter latency phase (appends per second). */
  lowRate: number;
  /** Length of each latency phase. */
  seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** A node process of the multi-process mode (bench/log_bench_node.ts). */
class Child {
  readonly name: string;
  #waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  #inbox: Record<string, unknown>[] = [];
  #proc: ReturnType<typeof spawn>;

  constructor(name: string, env: string, security: string) {
    this.name = name;
    const here = fileURLToPath(import.meta.url);
    const script = join(dirname(here), `log_bench_node${extname(here)}`);
    const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
    // LOG_BENCH_PROF=<dir> (Node only): a CPU profile of every node process, for hot-path work
    const prof = process.env.LOG_BENCH_PROF;
    const flags = prof && !deno ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [];
    const extra = process.env.LOG_BENCH_FLAGS ? process.env.LOG_BENCH_FLAGS.split(" ") : [];
    const argv = deno
      ? ["run", ...extra, "-A", script, name, env, security]
      : [...flags, script, name, env, security];
    this.#proc = spawn(process.execPath, argv, { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.#proc.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return void console.error(`${name}| ${line}`);
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (msg.type === "error") console.error(`${name}: ${msg.message}`);
      const i = this.#waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(msg);
      else this.#inbox.push(msg);
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.#proc.stdin!.write(JSON.stringify(cmd) + "\n");
  }

  next(type: string): Promise<Record<string, unknown>> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]);
    return new Promise((resolve) => this.#waiters.push({ type, resolve }));
  }

  async ask(cmd: Record<string, unknown>, type: string): Promise<Record<string, unknown>> {
    this.send(cmd);
    return await this.next(type);
  }
}

type Stats = { bytesOut: number; framesOut: number; entriesDuplicate: number };

/** Runs latency, quorum and throughput phases for one environment preset. */
export async function benchLog(
  environment: "lan" | "wan",
  o: LogBenchOptions,
  security: "open" | "keyed" | "tls" = "open",
): Promise<Record<string, unknown>> {
  const { rate: RATE, seconds: SECONDS, entries: ENTRIES } = o;
  const kids = ["a", "b", "c"].map((n) => new Child(n, environment, security));
  const ready = await Promise.all(kids.map((k) => k.next("ready")));
  const peers = kids.map((k, i) => ({ name: k.name, address: ready[i].address }));
  try {
    await Promise.all(
      kids.map((k) =>
        k.ask({ cmd: "peers", peers: peers.filter((p) => p.name !== k.name) }, "connected")
      ),
    );
    const [a, b, c] = kids;
    // latency at fixed rates: a writes, b and c measure
    const latencyAt = async (rate: number): Promise<Record<string, number>> => {
      const count = rate * SECONDS;
      await Promise.all([b, c].map((k) => k.ask({ cmd: "collect" }, "collecting")));
      await a.ask({ cmd: "rate", rate, count }, "sent");
      const lats = await Promise.all(
        [b, c].map((k) => k.ask({ cmd: "latencies", count }, "latencies")),
      );
      return {
        rate,
        entries: count,
        p50Ms: round(Math.max(...lats.map((l) => l.p50 as number)), 3),
        p99Ms: round(Math.max(...lats.map((l) => l.p99 as number)), 3),
        maxMs: round(Math.max(...lats.map((l) => l.max as number)), 3),
      };
    };
    const latency = await latencyAt(RATE);
    const latencyLow = await latencyAt(o.lowRate);
    const q = await a.ask({ cmd: "quorum" }, "quorum");
    const quorum = {
      sequentialPerSec: round(q.sequentialPerSec as number, 0),
      sequentialP50Ms: round(q.sequentialP50Ms as number, 3),
      sequentialP99Ms: round(q.sequentialP99Ms as number, 3),
      concurrent64PerSec: round(q.concurrent64PerSec as number, 0),
    };
    // throughput: wait for quiescence, then all three write at once
    let base = 0;
    for (;;) {
      const totals = await Promise.all(kids.map((k) => k.ask({ cmd: "stats" }, "stats")));
      if (totals.every((t) => t.total === totals[0].total)) {
        base = totals[0].total as number;
        break;
      }
      await sleep(50);
    }
    const before = await Promise.all(
      kids.map(async (k) => (await k.ask({ cmd: "stats" }, "stats")).stats as Stats),
    );
    const t0 = performance.timeOrigin + performance.now();
    const written = await Promise.all(
      kids.map((k) => k.ask({ cmd: "write", n: ENTRIES }, "written")),
    );
    const reached = await Promise.all(
      kids.map((k) => k.ask({ cmd: "waitTotal", total: base + 3 * ENTRIES }, "reached")),
    );
    const elapsed = Math.max(...reached.map((r) => r.at as number)) - t0;
    const appendMs = Math.max(...written.map((w) => w.ms as number));
    const after = await Promise.all(
      kids.map(async (k) => (await k.ask({ cmd: "stats" }, "stats")).stats as Stats),
    );
    const sum = (f: (s: Stats) => number): number =>
      after.reduce((x, s, i) => x + f(s) - f(before[i]), 0);
    const replicated = 3 * ENTRIES * 2;
    const throughput = {
      entriesPerNode: ENTRIES,
      appendPhaseMs: round(appendMs),
      convergedMs: round(elapsed),
      appendsPerSec: round((3 * ENTRIES) / (appendMs / 1000), 0),
      appliedPerSecPerReplica: round((2 * ENTRIES) / (elapsed / 1000), 0),
      appliedPerSecTotal: round(replicated / (elapsed / 1000), 0),
      bytesPerEntry: round(sum((s) => s.bytesOut) / replicated),
      framesPerEntry: round(sum((s) => s.framesOut) / replicated, 3),
      duplicatesReceived: sum((s) => s.entriesDuplicate),
    };
    return {
      environment,
      security,
      mode: "3 processes",
      tuning: presets[environment].log,
      latency,
      latencyLow,
      quorum,
      throughput,
    };
  } finally {
    await Promise.all(kids.map((k) => k.ask({ cmd: "close" }, "closed")));
  }
}
