/**
 * Replicated log benchmark: three logs on 127.0.0.1, each in its own process (default), or
 * all in this process with `--inproc` (one event loop shared by the three nodes, so those
 * numbers are a floor).
 *
 *   npx deno run -A bench/log_bench.ts [--inproc] [--entries 20000] [--rate 2000] [--seconds 3]
 *
 * Measures, for the lan (immediate) and wan (batched + deflate) presets:
 * - throughput: all three nodes append `entries` each as fast as they can (up to 1,000
 *   unacknowledged appends per node); time until every replica holds all 3 × entries;
 * - append-to-visible latency: node a appends at a fixed rate, b and c timestamp arrival;
 * - quorum appends: one at a time, and 64 in flight;
 * - bytes on the wire per replicated entry (all frames, both directions, / entries × 2).
 *
 * Values are ~100-byte JSON documents. Prints a table and writes bench/results/log.json.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { cpus } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeNetwork } from "../transport/node.ts";
import { presets } from "../presets/mod.ts";
import { type LogTuning, ReplicatedLog } from "../log/mod.ts";

const ARGS: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);
const INPROC = ARGS.includes("--inproc");
function arg(name: string, dflt: number): number {
  const args = ARGS;
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

const ENTRIES = arg("entries", 20_000);
const RATE = arg("rate", 2000);
const SECONDS = arg("seconds", 3);
const encoder = new TextEncoder();
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function value(node: string, i: number): Uint8Array {
  const doc = {
    node,
    i,
    user: `user-${i % 997}`,
    action: i % 3 === 0 ? "click" : "view",
    path: `/items/${i % 50}`,
  };
  return encoder.encode(JSON.stringify(doc).padEnd(100, " "));
}

async function cluster(environment: "lan" | "wan", tuning: LogTuning): Promise<ReplicatedLog[]> {
  const logs = await Promise.all(
    ["a", "b", "c"].map((name) =>
      ReplicatedLog.create({
        name,
        environment,
        network: nodeNetwork,
        bind: { host: "127.0.0.1", port: 0 },
        tuning,
      })
    ),
  );
  for (const l of logs) {
    l.setPeers(logs.filter((o) => o !== l).map((o) => ({ name: o.name, address: o.address! })));
  }
  const end = now() + 10_000;
  while (!logs.every((l) => l.connectedPeers().length === 2)) {
    if (now() > end) throw new Error("peers did not connect");
    await sleep(5);
  }
  return logs;
}

function total(logs: ReplicatedLog[]): number {
  return logs.reduce((s, l) => s + [...l.heads().values()].reduce((a, b) => a + b, 0), 0);
}

async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const end = now() + ms;
  while (!cond()) {
    if (now() > end) throw new Error("timeout");
    await sleep(1);
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

async function throughput(logs: ReplicatedLog[]): Promise<Record<string, number>> {
  const before = logs.map((l) => l.stats());
  const base = total(logs);
  const t0 = now();
  await Promise.all(logs.map(async (l) => {
    let inflight: Promise<unknown>[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      inflight.push(l.append(value(l.name, i)));
      if (inflight.length >= 1000) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
  }));
  const tAppended = now() - t0;
  await waitUntil(() => total(logs) === base + 3 * 3 * ENTRIES, 120_000);
  const elapsed = now() - t0;
  const after = logs.map((l) => l.stats());
  const bytes = after.reduce((s, a, i) => s + a.bytesOut - before[i].bytesOut, 0);
  const frames = after.reduce((s, a, i) => s + a.framesOut - before[i].framesOut, 0);
  const dup = after.reduce((s, a, i) => s + a.entriesDuplicate - before[i].entriesDuplicate, 0);
  const replicated = 3 * ENTRIES * 2;
  return {
    entriesPerNode: ENTRIES,
    appendPhaseMs: round(tAppended),
    convergedMs: round(elapsed),
    appendsPerSec: round((3 * ENTRIES) / (tAppended / 1000), 0),
    appliedPerSecPerReplica: round((2 * ENTRIES) / (elapsed / 1000), 0),
    appliedPerSecTotal: round(replicated / (elapsed / 1000), 0),
    bytesPerEntry: round(bytes / replicated),
    framesPerEntry: round(frames / replicated, 3),
    duplicatesReceived: dup,
  };
}

async function latency(logs: ReplicatedLog[]): Promise<Record<string, number>> {
  const [a, b, c] = logs;
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  const offs = [b, c].map((l) =>
    l.subscribe((e) => {
      const t = e.origin === "a" ? sentAt.get(e.seq) : undefined;
      if (t !== undefined) lat.push(now() - t);
    })
  );
  const count = RATE * SECONDS;
  const t0 = now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((now() - t0) / 1000) * RATE) + 1);
    while (sent < due) {
      const at = now();
      const r = a.append(value("a", sent), { ack: "none" });
      sent++;
      void r.then((res) => sentAt.set(res.seq, at));
    }
    await sleep(1);
  }
  await waitUntil(() => lat.length >= 2 * count, 30_000);
  for (const off of offs) off();
  lat.sort((x, y) => x - y);
  return {
    rate: RATE,
    entries: count,
    p50Ms: round(pct(lat, 50), 3),
    p99Ms: round(pct(lat, 99), 3),
    maxMs: round(lat[lat.length - 1], 3),
  };
}

async function quorum(logs: ReplicatedLog[]): Promise<Record<string, number>> {
  const a = logs[0];
  // time-bounded: in batched mode every quorum append waits for a batch window
  const lat: number[] = [];
  let t0 = now();
  let n = 0;
  while (n < 5000 && now() - t0 < 2000) {
    const s = now();
    await a.append(value("a", n++), { ack: "quorum" });
    lat.push(now() - s);
  }
  const seqRate = n / ((now() - t0) / 1000);
  lat.sort((x, y) => x - y);
  t0 = now();
  let done = 0;
  const worker = async (): Promise<void> => {
    while (now() - t0 < 2000) {
      await a.append(value("a", done), { ack: "quorum" });
      done++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const parRate = done / ((now() - t0) / 1000);
  return {
    sequentialPerSec: round(seqRate, 0),
    sequentialP50Ms: round(pct(lat, 50), 3),
    sequentialP99Ms: round(pct(lat, 99), 3),
    concurrent64PerSec: round(parRate, 0),
  };
}

async function run(environment: "lan" | "wan"): Promise<Record<string, unknown>> {
  const tuning = presets[environment].log;
  const logs = await cluster(environment, tuning);
  try {
    // latency first: the throughput phase leaves garbage whose collection would show as tail latency
    const lt = await latency(logs);
    const q = await quorum(logs);
    const tp = await throughput(logs);
    return { environment, mode: "1 process", tuning, throughput: tp, latency: lt, quorum: q };
  } finally {
    await Promise.all(logs.map((l) => l.close()));
  }
}

/** A node process of the multi-process mode (bench/log_bench_node.ts). */
class Child {
  readonly name: string;
  #waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  #inbox: Record<string, unknown>[] = [];
  #proc: ReturnType<typeof spawn>;

  constructor(name: string, env: string) {
    this.name = name;
    const here = fileURLToPath(import.meta.url);
    const script = join(dirname(here), `log_bench_node${extname(here)}`);
    const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
    const argv = deno ? ["run", "-A", script, name, env] : [script, name, env];
    this.#proc = spawn(process.execPath, argv, { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.#proc.stdout! }).on("line", (line) => {
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

async function runProcs(environment: "lan" | "wan"): Promise<Record<string, unknown>> {
  const kids = ["a", "b", "c"].map((n) => new Child(n, environment));
  const ready = await Promise.all(kids.map((k) => k.next("ready")));
  const peers = kids.map((k, i) => ({ name: k.name, address: ready[i].address }));
  try {
    await Promise.all(
      kids.map((k) =>
        k.ask({ cmd: "peers", peers: peers.filter((p) => p.name !== k.name) }, "connected")
      ),
    );
    const [a, b, c] = kids;
    // latency at a fixed rate: a writes, b and c measure
    const count = RATE * SECONDS;
    await Promise.all([b, c].map((k) => k.ask({ cmd: "collect" }, "collecting")));
    await a.ask({ cmd: "rate", rate: RATE, count }, "sent");
    const lats = await Promise.all(
      [b, c].map((k) => k.ask({ cmd: "latencies", count }, "latencies")),
    );
    const latency = {
      rate: RATE,
      entries: count,
      p50Ms: round(Math.max(...lats.map((l) => l.p50 as number)), 3),
      p99Ms: round(Math.max(...lats.map((l) => l.p99 as number)), 3),
      maxMs: round(Math.max(...lats.map((l) => l.max as number)), 3),
    };
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
      mode: "3 processes",
      tuning: presets[environment].log,
      latency,
      quorum,
      throughput,
    };
  } finally {
    await Promise.all(kids.map((k) => k.ask({ cmd: "close" }, "closed")));
  }
}

const results = [];
for (const env of ["lan", "wan"] as const) {
  const r = INPROC ? await run(env) : await runProcs(env);
  results.push(r);
  console.log(`== ${env}`);
  console.log(
    JSON.stringify({ throughput: r.throughput, latency: r.latency, quorum: r.quorum }, null, 2),
  );
}
const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
const doc = {
  benchmark: `3 replicated logs on 127.0.0.1 (${
    INPROC ? "one process" : "one process each"
  }); ~100-byte JSON values`,
  updatedAt: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "?",
    runtime: runtime ? `deno ${runtime.version.deno}` : `node ${process.version}`,
  },
  results,
};
const out = join(dirname(fileURLToPath(import.meta.url)), "results", "log.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
console.log(`wrote ${out}`);
