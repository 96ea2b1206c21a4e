/**
 * Soak benchmark: three processes (testing/soak_node.ts) run a live-map workload on the
 * default memory store for `--minutes` (default 30): `--keys` positions (1,000) updated
 * `--writes` times a second in total (1,000), plus `--sessions` sessions (10,000) with a TTL
 * (`--session-ttl-ms`, 60 s), each renewed under a fresh id every half TTL so that old ids
 * expire. Heap (after GC) and RSS of every node are sampled every `--sample-s` (10) seconds.
 *
 * Goals: after warm-up (minute 5, or a sixth of a shorter run) the heap stays flat (growth
 * under 5 % to the end), RSS under 150 MB per node, compaction under 10 % of the time, no
 * compaction pause over 10 ms.
 *
 * `deno run -A bench/soak.ts --minutes 3` writes bench/results/soak.json and soak.svg.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { arg } from "./args.ts";
import { resultsPath, runtimeName } from "./results_file.ts";
import { renderSoak, type SoakSample } from "./soak_svg.ts";
import type { LogStats } from "../log/mod.ts";

const minutes = Number(arg("minutes", "30"));
const nodes = Number(arg("nodes", "3"));
const writes = Number(arg("writes", "1000"));
const keys = Number(arg("keys", "1000"));
const sessions = Number(arg("sessions", "10000"));
const sessionTtlMs = Number(arg("session-ttl-ms", "60000"));
const sampleS = Number(arg("sample-s", "10"));
const isDeno = typeof process.versions.deno === "string";

type Msg = Record<string, unknown>;

/** A soak node process speaking JSON lines. */
class SoakProc {
  readonly name: string;
  readonly proc: ChildProcess;
  #waiters: ((m: Msg) => void)[] = [];

  constructor(name: string) {
    this.name = name;
    const script = fileURLToPath(
      new URL(`../testing/soak_node.${isDeno ? "ts" : "js"}`, import.meta.url),
    );
    const a = JSON.stringify({ name });
    const args = isDeno
      ? ["run", "-A", "--v8-flags=--expose-gc", script, a]
      : ["--expose-gc", script, a];
    this.proc = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      this.#waiters.shift()?.(JSON.parse(line) as Msg);
    });
  }

  next(): Promise<Msg> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  ask(msg: Msg): Promise<Msg> {
    const r = this.next();
    this.proc.stdin!.write(JSON.stringify(msg) + "\n");
    return r;
  }
}

const procs = Array.from({ length: nodes }, (_, i) => new SoakProc(`n${i + 1}`));
const ready = await Promise.all(procs.map((p) => p.next()));
await Promise.all(procs.map((p) =>
  p.ask({
    cmd: "peers",
    peers: procs.filter((o) => o !== p).map((o) => ({
      name: o.name,
      address: ready[procs.indexOf(o)].address,
    })),
  })
));
await new Promise((r) => setTimeout(r, 1000));
await Promise.all(procs.map((p) =>
  p.ask({
    cmd: "run",
    writesPerSec: writes / nodes,
    keys,
    sessions: Math.round(sessions / nodes),
    sessionTtlMs,
  })
));

interface Row extends SoakSample {
  heapTotalMB: number;
  externalMB: number;
  writes: number;
  lagMaxMs: number;
  lagsOver10ms: number;
  stats: LogStats;
}
const rows: Row[] = [];
const started = Date.now();
// the machine is shared: its load average (1 min) at the start and the end goes with the numbers
const loadAtStart = loadavg()[0];
const end = started + minutes * 60_000;
while (Date.now() < end) {
  await new Promise((r) => setTimeout(r, Math.min(sampleS * 1000, Math.max(0, end - Date.now()))));
  const t = Math.round((Date.now() - started) / 1000);
  const samples = await Promise.all(procs.map((p) => p.ask({ cmd: "sample" })));
  samples.forEach((s, i) => {
    const row: Row = {
      node: procs[i].name,
      t,
      heapMB: Number((s.heapMB as number).toFixed(2)),
      rssMB: Number((s.rssMB as number).toFixed(2)),
      heapTotalMB: Number((s.heapTotalMB as number).toFixed(2)),
      externalMB: Number((s.externalMB as number).toFixed(2)),
      writes: s.writes as number,
      lagMaxMs: Number((s.lagMaxMs as number).toFixed(1)),
      lagsOver10ms: s.lagsOver10ms as number,
      stats: s.stats as LogStats,
    };
    rows.push(row);
    const m = row.stats.memory;
    const c = row.stats.compaction;
    console.log(
      `${t}s ${row.node} heap ${row.heapMB}/${row.heapTotalMB} MB ext ${row.externalMB} MB rss ${row.rssMB} MB live ${m.liveKeys} held ${m.heldEntries} origins ${m.origins} compactions ${c.runs} pauseMax ${
        c.pauseMaxMs.toFixed(1)
      } ms (cpu ${c.pauseMaxCpuMs.toFixed(1)} ms) busy ${c.busyMs.toFixed(0)} ms`,
    );
  });
}
await Promise.all(procs.map((p) => p.ask({ cmd: "close" })));

const elapsedS = (Date.now() - started) / 1000;
// minute 5 of 30; a short run warms up for a sixth of it, and at least two session TTLs
const warmupS = Math.min(300, Math.max((minutes * 60) / 6, (2 * sessionTtlMs) / 1000));
const summary = procs.map((p) => {
  const mine = rows.filter((r) => r.node === p.name);
  // the heap follows compaction's sawtooth: compare the mean of the first and the last third
  // of the samples after warm-up rather than two single samples
  const afterWarm = mine.filter((r) => r.t >= warmupS);
  const third = Math.max(1, Math.floor(afterWarm.length / 3));
  const mean = (rs: Row[]): number => rs.reduce((a, r) => a + r.heapMB, 0) / rs.length;
  const early = mean(afterWarm.slice(0, third).length > 0 ? afterWarm.slice(0, third) : mine);
  const late = mean(afterWarm.slice(-third).length > 0 ? afterWarm.slice(-third) : mine);
  const last = mine[mine.length - 1];
  const c = last.stats.compaction;
  return {
    node: p.name,
    heapAfterWarmupMB: Number(early.toFixed(2)),
    heapAtEndMB: Number(late.toFixed(2)),
    heapGrowthPct: Number((((late - early) / early) * 100).toFixed(1)),
    heapMaxMB: Math.max(...afterWarm.map((r) => r.heapMB)),
    rssMaxMB: Math.max(...mine.map((r) => r.rssMB)),
    writesPerSec: Math.round(last.writes / elapsedS),
    compactionShare: Number((c.busyMs / (elapsedS * 1000)).toFixed(4)),
    compactionRuns: c.runs,
    pauseMaxMs: Number(c.pauseMaxMs.toFixed(2)),
    slicesOver10ms: c.slicesOver10ms,
    pauseMaxCpuMs: Number(c.pauseMaxCpuMs.toFixed(2)),
    slicesOver10msOnCpu: c.slicesOver10msOnCpu,
    loopStallMaxMs: last.lagMaxMs,
    loopStallsOver10ms: last.lagsOver10ms,
    slices: c.slices,
    expired: c.expired,
    end: last.stats.memory,
  };
});
const doc = {
  config: { minutes, nodes, writes, keys, sessions, sessionTtlMs, sampleS },
  runtime: runtimeName(),
  note: `${cpus().length} cores; load average ${loadAtStart.toFixed(2)} at the start, ${
    loadavg()[0].toFixed(2)
  } at the end (the soak's own 3 processes included)`,
  goals: { heapGrowthPct: 5, rssMB: 150, compactionShare: 0.1, pauseMs: 10 },
  warmupS,
  summary,
  samples: rows.map((r) => ({
    node: r.node,
    t: r.t,
    heapMB: r.heapMB,
    rssMB: r.rssMB,
    heapTotalMB: r.heapTotalMB,
    externalMB: r.externalMB,
    writes: r.writes,
    lagMaxMs: r.lagMaxMs,
    memory: r.stats.memory,
    compaction: r.stats.compaction,
  })),
};
console.log(JSON.stringify(summary, null, 2));
// one line per sample: a 30-minute run has 540 of them
const { samples: lines, ...head } = doc;
const text = JSON.stringify(head, null, 2).replace(
  /\n}$/,
  `,\n  "samples": [\n${lines.map((l) => "    " + JSON.stringify(l)).join(",\n")}\n  ]\n}\n`,
);
writeFileSync(resultsPath("soak.json", arg("out", "")), text);
const caption = `${nodes} processes, ${keys} keys × ${writes}/s + ${sessions} sessions (TTL ${
  sessionTtlMs / 1000
} s), ${minutes} min, ${runtimeName()}, load average ${loadAtStart.toFixed(1)} at the start`;
writeFileSync(
  resultsPath("soak.svg", arg("svg", "")),
  renderSoak(rows, { warmupS, rssGoalMB: 150, caption }),
);
