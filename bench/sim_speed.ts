/**
 * Simulation speed, issue #4's goal: 10,000 nodes for 60 simulated seconds in under 60 s of
 * wall time on this 2-core machine. A converged cluster of N nodes (testing/sim_harness.ts
 * `startConverged`), lan or wan preset, no loss, runs twice 60 simulated seconds:
 *
 * - cold: right after the converged start. Every push/pull answer is encoded and compressed
 *   from the member table, as in the first push/pull interval after any membership change.
 * - steady: after one more push/pull interval (pushPullScale of the preset's interval at N).
 *   Every node has then sent its state once and sends the same body again while its table is
 *   unchanged (push_pull.ts), as in a quiet cluster.
 *
 * Prints wall time per simulated second, second by second, and writes
 * bench/results/sim_speed.json (entries of presets and sizes not run again are kept). Each
 * window also records the process's CPU time and minor page faults: on this VM a fresh page
 * costs 1.5 µs or about 34 µs depending on whether the host backs it at the moment
 * (bench/investigations/page_faults.ts), which moved the wall time of the same run by 30 % and more, and the
 * CPU figures tell such a run from a slower change.
 *
 *   npx deno run -A --v8-flags=--max-old-space-size=22000,--max-semi-space-size=128
 *       bench/sim_speed.ts [--n 10000] [--presets lan,wan] [--seconds 60] [--out file]
 *
 * N = 10,000 needs about 17 GiB of heap and takes about 7 minutes on lan and 4 on wan (most of
 * it the push/pull interval between the two windows: 300 simulated seconds on lan, 600 on wan).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { pushPullScale } from "../memberlist/mod.ts";
import { LAN, SimCluster, WAN } from "../testing/sim_harness.ts";
import { mergeResults, resultsPath, runtimeName, writeResults } from "./results_file.ts";
import { arg } from "./args.ts";

/** One measured configuration. */
export interface SpeedResult {
  preset: "lan" | "wan";
  n: number;
  /** Simulated seconds per window. */
  seconds: number;
  /** Wall time of the converged start (seeding every table). */
  seedWallMs: number;
  /** Wall ms per simulated second right after the start. */
  coldWallMsPerSimSecond: number;
  /** Wall ms per simulated second after one push/pull interval. */
  steadyWallMsPerSimSecond: number;
  /** Simulated ms between the two windows. */
  intervalMs: number;
  /** Wall ms of each simulated second, cold then steady (GC pauses show as spikes). */
  coldSamples: number[];
  steadySamples: number[];
  /** What the process used during each window. */
  coldUsage: WindowUsage;
  steadyUsage: WindowUsage;
}

/** CPU time (all threads, GC helpers included) and page faults of one window. */
export interface WindowUsage {
  userCpuMs: number;
  systemCpuMs: number;
  /** Minor page faults (Linux /proc/self/stat), or null where that is not readable. */
  minorFaults: number | null;
}

interface UsagePoint {
  cpu: { user: number; system: number };
  faults: number | null;
}

function minorFaults(): number | null {
  try {
    // the fields after "pid (comm) ": state is the first, minflt the eighth
    return Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
  } catch {
    return null;
  }
}

function usagePoint(): UsagePoint {
  return { cpu: process.cpuUsage(), faults: minorFaults() };
}

function usageSince(a: UsagePoint): WindowUsage {
  const b = usagePoint();
  return {
    userCpuMs: Math.round((b.cpu.user - a.cpu.user) / 1000),
    systemCpuMs: Math.round((b.cpu.system - a.cpu.system) / 1000),
    minorFaults: a.faults === null || b.faults === null ? null : b.faults - a.faults,
  };
}

const usageText = (u: WindowUsage): string =>
  `(CPU ${u.userCpuMs} ms user, ${u.systemCpuMs} ms system, ${u.minorFaults ?? "?"} minor faults)`;

const PRESETS = {
  lan: { tuning: LAN, link: { latencyMs: 1 } },
  wan: { tuning: WAN, link: { latencyMs: 30, jitterMs: 10 } },
} as const;

async function window(sim: SimCluster, seconds: number): Promise<number[]> {
  const samples: number[] = [];
  for (let s = 0; s < seconds; s++) {
    const t = performance.now();
    await sim.runFor(1_000, 500);
    samples.push(Math.round(performance.now() - t));
  }
  return samples;
}

const mean = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);

async function measure(preset: "lan" | "wan", n: number, seconds: number): Promise<SpeedResult> {
  const { tuning, link } = PRESETS[preset];
  const sim = new SimCluster({ seed: 1, tuning, link, recordEvents: false });
  const t0 = performance.now();
  await sim.startConverged(n);
  const seedWallMs = Math.round(performance.now() - t0);
  let at = usagePoint();
  const coldSamples = await window(sim, seconds);
  const coldUsage = usageSince(at);
  console.log(
    `${preset} ${n} cold: ${mean(coldSamples)} ms per simulated second ${usageText(coldUsage)}`,
  );
  const intervalMs = pushPullScale(tuning.pushPullIntervalMs, n);
  await sim.runFor(intervalMs, 1_000);
  at = usagePoint();
  const steadySamples = await window(sim, seconds);
  const steadyUsage = usageSince(at);
  console.log(
    `${preset} ${n} steady: ${mean(steadySamples)} ms per simulated second ${
      usageText(steadyUsage)
    }`,
  );
  await sim.stop();
  return {
    preset,
    n,
    seconds,
    seedWallMs,
    coldWallMsPerSimSecond: mean(coldSamples),
    steadyWallMsPerSimSecond: mean(steadySamples),
    intervalMs,
    coldSamples,
    steadySamples,
    coldUsage,
    steadyUsage,
  };
}

async function main(): Promise<void> {
  const ns = arg("n", "10000").split(",").map(Number);
  const presets = arg("presets", "lan,wan").split(",") as ("lan" | "wan")[];
  const seconds = Number(arg("seconds", "60"));
  const fresh: SpeedResult[] = [];
  for (const preset of presets) {
    for (const n of ns) fresh.push(await measure(preset, n, seconds));
  }
  const out = resultsPath("sim_speed.json", arg("out", ""));
  const results = mergeResults(out, fresh, (r) => `${r.preset}/${r.n}`);
  const doc = {
    benchmark: "simulation speed (bench/sim_speed.ts)",
    date: new Date().toISOString(),
    runtime: runtimeName(),
    notes: [
      "cold: the first simulated seconds after the converged start (every push/pull body built anew).",
      "steady: the same span one push/pull interval later (bodies re-sent while tables are unchanged).",
    ],
    results,
  };
  writeResults(out, doc);
}

await main();
