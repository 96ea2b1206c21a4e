/**
 * Failure-detection latency: three nodes on 127.0.0.1, one of them fails, time until both
 * survivors declare it dead (the Go peer's NotifyLeave, our `dead` event). Fresh processes
 * per trial; every node runs in its own process and speaks the line protocol of
 * testing/go_peer.ts. Two failures:
 *
 * - `crash`: `kill -9` of the process on a live host: its kernel resets its connections and
 *   refuses new ones (our lan and local presets declare it dead from that, refusal.ts);
 * - `silent`: the process is frozen with SIGSTOP: nothing answers and nothing is refused, as
 *   with a host gone silent, so every implementation takes SWIM's path (tests/chaos/
 *   failover_test.ts drops a whole namespace with nftables for the real thing).
 *
 * Implementations: `go` (memberlist v0.2.2), `ts-cluster` (our whole node: memberlist and the
 * replicated log, whose lost connections are crash hints), `ts-deno`/`ts-node` (our
 * memberlist alone).
 *
 *   npx deno run -A bench/detection.ts [--impl go,ts-cluster] [--presets lan] \
 *     [--cases crash,silent] [--trials 25]
 *
 * Prints a table and merges results into bench/results/detection.json (entries of the
 * impl/preset/case triples that were run are replaced, others kept).
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import process from "node:process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, percentile } from "./trials.ts";
import { type PeerOptions, type PeerProcess, stopAllPeers } from "../testing/go_peer.ts";
import { type Impl, IMPLS, type Preset, startImplPeer } from "./detection_impls.ts";
import { arg } from "./args.ts";

interface TrialResult {
  /** kill -> the later of the two survivors' death events. */
  allDeadMs: number;
  /** kill -> the earlier one. */
  firstDeadMs: number;
  /** kill -> first suspicion reported by a survivor (null if none was reported). */
  firstSuspectMs: number | null;
}

/** How the victim fails. */
type Case = "crash" | "silent";
const CASES: readonly Case[] = ["crash", "silent"];

interface Entry {
  impl: Impl;
  preset: Preset;
  /** Absent in entries written before the silent case existed: those were crashes. */
  case?: Case;
  /** The command line of the run that measured this entry. */
  command?: string;
  trials: TrialResult[];
  medianAllDeadMs: number | null;
  p95AllDeadMs?: number | null;
  medianFirstDeadMs: number | null;
  minAllDeadMs: number | null;
  maxAllDeadMs: number | null;
  meanAllDeadMs: number | null;
  error?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function converge(peers: PeerProcess[], n: number): Promise<void> {
  await Promise.all(peers.map((p) => p.waitForMembers((ms) => ms.length === n, 30_000, 50)));
}

async function trial(impl: Impl, preset: Preset, kind: Case, id: number): Promise<TrialResult> {
  const base = (name: string): PeerOptions => ({
    name: `${impl}-${preset}-${kind}-${id}-${name}`,
    preset,
  });
  const peers: PeerProcess[] = [];
  try {
    const a = await startImplPeer(impl, base("a"));
    peers.push(a);
    const [b, c] = await Promise.all([
      startImplPeer(impl, { ...base("b"), join: [a.address] }),
      startImplPeer(impl, { ...base("c"), join: [a.address] }),
    ]);
    peers.push(b, c);
    await converge(peers, 3);
    // land the kill at a random phase of the probe cycle
    await sleep(1000 + Math.random() * 1000);
    const marks = [a.events.length, b.events.length];
    let killedAt: number;
    if (kind === "crash") killedAt = await c.kill();
    else {
      killedAt = Date.now();
      process.kill(c.pid!, "SIGSTOP");
    }
    const dead = (p: PeerProcess, since: number) =>
      p.waitFor(
        (e) => (e.event === "leave" || e.event === "dead") && e.node === c.name,
        120_000,
        since,
      );
    const [da, db] = await Promise.all([dead(a, marks[0]), dead(b, marks[1])]);
    const suspects = [...a.events.slice(marks[0]), ...b.events.slice(marks[1])]
      .filter((e) => e.event === "suspect" && e.node === c.name)
      .map((e) => e.t_ms - killedAt);
    if (kind === "silent") await c.kill(); // SIGKILL ends a stopped process too
    return {
      allDeadMs: Math.max(da.t_ms, db.t_ms) - killedAt,
      firstDeadMs: Math.min(da.t_ms, db.t_ms) - killedAt,
      firstSuspectMs: suspects.length > 0 ? Math.min(...suspects) : null,
    };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

function summarize(
  impl: Impl,
  preset: Preset,
  kind: Case,
  trials: TrialResult[],
  error?: string,
): Entry {
  const all = trials.map((t) => t.allDeadMs);
  return {
    impl,
    preset,
    case: kind,
    command: runCommand(),
    trials,
    medianAllDeadMs: median(all),
    p95AllDeadMs: percentile(all, 95),
    medianFirstDeadMs: median(trials.map((t) => t.firstDeadMs)),
    minAllDeadMs: all.length ? Math.min(...all) : null,
    maxAllDeadMs: all.length ? Math.max(...all) : null,
    meanAllDeadMs: all.length ? Math.round(all.reduce((s, x) => s + x, 0) / all.length) : null,
    ...(error ? { error } : {}),
  };
}

const sec = (ms: number | null): string => ms === null ? "-" : (ms / 1000).toFixed(2);

function table(entries: Entry[]): string {
  const rows = [[
    "impl",
    "preset",
    "case",
    "n",
    "min s",
    "median s",
    "p95 s",
    "mean s",
    "max s",
    "median first s",
    "note",
  ]];
  for (const e of entries) {
    rows.push([
      e.impl,
      e.preset,
      e.case ?? "crash",
      String(e.trials.length),
      sec(e.minAllDeadMs),
      sec(e.medianAllDeadMs),
      sec(e.p95AllDeadMs ?? null),
      sec(e.meanAllDeadMs),
      sec(e.maxAllDeadMs),
      sec(e.medianFirstDeadMs),
      e.error ? `error: ${e.error.split("\n")[0].slice(0, 60)}` : "",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

async function main(): Promise<void> {
  const impls = arg("impl", "go,ts-cluster").split(",").filter(Boolean) as Impl[];
  const presets = arg("presets", "lan").split(",").filter(Boolean) as Preset[];
  const cases = arg("cases", "crash,silent").split(",").filter(Boolean) as Case[];
  const trials = Number(arg("trials", "25"));
  for (const i of impls) {
    if (!IMPLS.includes(i)) throw new Error(`unknown impl ${i} (${IMPLS.join(",")})`);
  }
  for (const c of cases) {
    if (!CASES.includes(c)) throw new Error(`unknown case ${c} (${CASES.join(",")})`);
  }
  const entries: Entry[] = [];
  for (const kind of cases) {
    for (const preset of presets) {
      for (const impl of impls) {
        const results: TrialResult[] = [];
        let error: string | undefined;
        for (let t = 0; t < trials && !error; t++) {
          try {
            const r = await trial(impl, preset, kind, t);
            results.push(r);
            console.error(
              `${impl} ${preset} ${kind} #${t + 1}: both dead after ${sec(r.allDeadMs)} s (first ${
                sec(r.firstDeadMs)
              } s, first suspicion ${sec(r.firstSuspectMs)} s)`,
            );
          } catch (err) {
            error = err instanceof Error ? err.message : String(err);
            console.error(`${impl} ${preset} ${kind} #${t + 1}: ${error}`);
          }
        }
        entries.push(summarize(impl, preset, kind, results, error));
      }
    }
  }
  await stopAllPeers();
  console.log(table(entries));

  const out = fileURLToPath(new URL("./results/detection.json", import.meta.url));
  mkdirSync(dirname(out), { recursive: true });
  let previous: Entry[] = [];
  if (existsSync(out)) {
    try {
      previous = (JSON.parse(readFileSync(out, "utf8")) as { results: Entry[] }).results ?? [];
    } catch { /* rewrite a broken file */ }
  }
  const same = (a: Entry, b: Entry) =>
    a.impl === b.impl && a.preset === b.preset && (a.case ?? "crash") === (b.case ?? "crash");
  const merged = [...previous.filter((p) => !entries.some((e) => same(e, p))), ...entries];
  const doc = {
    benchmark:
      "1 of 3 nodes on 127.0.0.1 fails (crash: kill -9; silent: SIGSTOP); time until both survivors declare it dead",
    lastCommand: runCommand(),
    updatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", runtime: runtimeName() },
    results: merged,
  };
  writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  console.log(`\nwrote ${join("bench", "results", "detection.json")}`);
}

function runCommand(): string {
  return `deno run -A bench/detection.ts ${process.argv.slice(2).join(" ")}`.trim();
}

function runtimeName(): string {
  const d = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return d ? `deno ${d.version.deno}` : `node ${process.version}`;
}

await main();
