/**
 * Pauses of the automatic compaction with millions of entries: fills a memory store with
 * `--entries` keyed entries (`--keys` distinct keys, so most are superseded) and
 * `--plain` plain entries, opens an isolated log on it, and lets the compactor run. Reports
 * the longest slice, the number of slices, their total time and what was left.
 *
 * `deno run -A bench/compaction_pause.ts --entries 1000000 --keys 100000`
 * writes bench/results/compaction_pause.json.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { arg } from "./args.ts";
import { mergeResults, resultsPath, runtimeName } from "./results_file.ts";
import { type Entry, MemoryLogStore, ReplicatedLog } from "../log/mod.ts";
import { DEFAULT_MEMORY_TUNING } from "../log/retention.ts";
import { testTuning } from "../testing/log_cluster.ts";

const entries = Number(arg("entries", "1000000"));
const keys = Number(arg("keys", "100000"));
const plain = Number(arg("plain", "0"));
const sliceMs = Number(arg("slice-ms", String(DEFAULT_MEMORY_TUNING.sliceMs)));

const store = new MemoryLogStore();
const value = new TextEncoder().encode("x".repeat(40));
const now = Date.now();
const origins = ["a", "b", "c"];
const batch: Entry[] = [];
const seqs = new Map<string, number>();
for (let i = 0; i < entries + plain; i++) {
  const origin = origins[i % 3];
  const seq = (seqs.get(origin) ?? 0) + 1;
  seqs.set(origin, seq);
  const e: Entry = i < entries
    ? { origin, seq, ts: { wall: now, logical: i }, key: `k${i % keys}`, value, tombstone: false }
    : { origin, seq, ts: { wall: now, logical: i }, value, tombstone: false };
  batch.push(e);
  if (batch.length === 10_000) store.appendNow(batch.splice(0));
}
store.appendNow(batch.splice(0));

const t0 = performance.now();
const log = await ReplicatedLog.create({
  name: "bench",
  environment: "local",
  store,
  tuning: {
    ...testTuning,
    memory: { ...DEFAULT_MEMORY_TUNING, checkIntervalMs: 50, minGarbageBytes: 0, sliceMs },
  },
});
const loadMs = performance.now() - t0;
const before = log.stats().memory;
const t1 = performance.now();
while (log.stats().compaction.runs === 0) await new Promise((r) => setTimeout(r, 20));
const wallMs = performance.now() - t1;
const s = log.stats();
await log.close();

const result = {
  entries,
  keys,
  plain,
  sliceMs,
  runtime: runtimeName(),
  heldBefore: before.heldEntries,
  heldAfter: s.memory.heldEntries,
  removed: s.compaction.removed,
  slices: s.compaction.slices,
  pauseMaxMs: Number(s.compaction.pauseMaxMs.toFixed(2)),
  slicesOver10ms: s.compaction.slicesOver10ms,
  pauseMaxCpuMs: Number(s.compaction.pauseMaxCpuMs.toFixed(2)),
  slicesOver10msOnCpu: s.compaction.slicesOver10msOnCpu,
  busyMs: Math.round(s.compaction.busyMs),
  wallMs: Math.round(wallMs),
  replayMs: Math.round(loadMs),
  note: "shared, loaded 2-core machine",
};
console.log(JSON.stringify(result));
const out = resultsPath("compaction_pause.json", arg("out", ""));
const all = mergeResults(out, [result], (r) => `${r.entries}/${r.keys}/${r.plain}/${r.runtime}`);
writeFileSync(out, JSON.stringify({ results: all }, null, 2) + "\n");
