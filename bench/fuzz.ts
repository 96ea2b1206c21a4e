/**
 * The fuzz run: every decoder property of tests/fuzz_test.ts with a million cases in all
 * (shared by weight), then a live node under a fuzzed flood of UDP packets and TCP streams.
 *
 *   npx deno run -A bench/fuzz.ts [--cases 1000000] [--seed N] [--flood-packets N] [--only name]
 *   node build/bench-node/bench/fuzz.js [...]   (after bench/run's tsc build)
 *
 * Prints cases/s per decoder and in total, every failure with its seed, path and shrunk
 * counterexample, and writes bench/results/fuzz.json (bench/results/fuzz-node.json on Node).
 * Exits 1 when a property failed.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { floodNode, type FloodReport, installGuards } from "../testing/fuzz_flood.ts";
import { type FuzzRun, fuzzTargets } from "../testing/fuzz_targets.ts";

const ARGS: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);

function arg(name: string): string | undefined {
  const i = ARGS.indexOf(`--${name}`);
  return i >= 0 && i + 1 < ARGS.length ? ARGS[i + 1] : undefined;
}

/** The runtime this process is, for file names and the report. */
export function runtimeName(): string {
  const d = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return d ? `deno ${d.version.deno}` : `node ${process.version}`;
}

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
const CASES = Number(arg("cases") ?? 1_000_000);
const SEED = arg("seed") === undefined ? undefined : Number(arg("seed"));
const ONLY = arg("only");
const FLOOD_PACKETS = Number(arg("flood-packets") ?? Math.max(2000, Math.round(CASES / 50)));

interface TargetResult extends FuzzRun {
  casesPerSec: number;
  heapAfterMiB: number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const mib = (b: number): number => Math.round((b / 1048576) * 10) / 10;

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "fuzz-bench-"));
  const guards = installGuards();
  const results: TargetResult[] = [];
  let flood: FloodReport | { error: string } | undefined;
  const t0 = performance.now();
  try {
    const targets = fuzzTargets(scratch).filter((t) => ONLY === undefined || t.name.includes(ONLY));
    const weights = targets.reduce((s, t) => s + t.weight, 0);
    console.log(`fuzz: ${fmt(CASES)} cases over ${targets.length} decoders (${runtimeName()})`);
    for (const t of targets) {
      const n = Math.max(1, Math.round((CASES * t.weight) / weights));
      const r = await t.run(n, SEED);
      const row: TargetResult = {
        ...r,
        casesPerSec: Math.round(r.cases / (r.ms / 1000)),
        heapAfterMiB: mib(process.memoryUsage().heapUsed),
      };
      results.push(row);
      console.log(
        `${t.name.padEnd(52)} ${fmt(r.cases).padStart(9)} cases ${
          (r.ms / 1000).toFixed(1).padStart(7)
        } s ${fmt(row.casesPerSec).padStart(8)}/s  heap ${row.heapAfterMiB} MiB  ${
          r.failed ? "FAILED" : "ok"
        }`,
      );
      if (r.failed) {
        console.log(`  error: ${r.error}`);
        console.log(`  replay: --only '${t.name}' --seed ${r.seed} (fast-check path ${r.path})`);
        console.log(`  counterexample: ${r.counterexample}`);
      }
    }
    if (ONLY === undefined) {
      try {
        flood = await floodNode({
          packets: FLOOD_PACKETS,
          streams: Math.max(100, Math.round(FLOOD_PACKETS / 20)),
          seed: SEED ?? 1,
          burst: 10, // ≤ 10,000 datagrams/s: a flood, not a saturated event loop
        });
        console.log(`live flood: ${JSON.stringify(flood)}`);
      } catch (e) {
        flood = { error: e instanceof Error ? e.message : String(e) };
        console.log(`live flood failed: ${flood.error}`);
      }
    }
  } finally {
    guards.remove();
    rmSync(scratch, { recursive: true, force: true });
  }
  const ms = performance.now() - t0;
  const cases = results.reduce((s, r) => s + r.cases, 0);
  const failures = results.filter((r) => r.failed);
  const floodOk = flood !== undefined && !("error" in flood) && flood.dead === 0 &&
    flood.finalState === "alive";
  console.log(
    `total: ${fmt(cases)} cases in ${(ms / 1000).toFixed(1)} s (${
      fmt(cases / (ms / 1000))
    }/s), ${failures.length} failed properties, ${guards.fired.length} escaped exceptions, ` +
      `flood ${flood === undefined ? "skipped" : floodOk ? "ok" : "FAILED"}`,
  );
  for (const f of guards.fired) console.log(`  escaped: ${f}`);

  const file = isDeno ? "fuzz.json" : "fuzz-node.json";
  const out = fileURLToPath(new URL(`./results/${file}`, import.meta.url))
    .replace(/build[\\/]bench-node[\\/]bench/, "bench");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        benchmark: "fast-check properties of every decoder, plus a live node under a fuzzed flood",
        updatedAt: new Date().toISOString(),
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", runtime: runtimeName() },
        requestedCases: CASES,
        cases,
        seconds: Math.round(ms / 100) / 10,
        casesPerSec: Math.round(cases / (ms / 1000)),
        failedProperties: failures.length,
        escapedExceptions: guards.fired,
        peakRssMiB: mib(process.memoryUsage().rss),
        flood: flood ?? null,
        floodOk,
        targets: results,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`wrote bench/results/${file}`);
  if (failures.length > 0 || guards.fired.length > 0 || (flood !== undefined && !floodOk)) {
    process.exitCode = 1;
  }
}

await main();
