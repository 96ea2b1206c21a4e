/**
 * Where long compaction slices come from: one isolated log (no network) takes the whole soak
 * workload of three nodes (1,000 position keys rewritten 1,000 times a second, 30,000 sessions
 * with a 60 s TTL renewed every 30 s) for `--seconds` (default 300), and prints every slice
 * whose CPU time passed 10 ms as it happens, with the counters at the end. Run it with
 * `--v8-flags=--trace-gc` to see whether a garbage collection falls inside the long slices:
 *
 *   npx deno run -A --v8-flags=--trace-gc bench/investigations/slice_pauses.ts --seconds 300
 *
 * What it found (2026-12-06, Node 24 on the tsc build, `--cpu-prof --cpu-prof-interval 200`):
 * - with the sweep walking every winner through one long-lived Map iterator, single `next()`
 *   calls took 8–25 ms under this churn (sessions added and expired 1,000 a second); the
 *   expiry queue (log/expiry_queue.ts) replaced the walk and halved the compaction's busy time
 *   (669 → 339 ms in 180 s);
 * - a few slices a minute still take 10–30 ms, all of it user CPU of the main thread (no GC
 *   event overlaps them, no page faults, no system time); the profiler puts the samples on
 *   the slice's own inlined code (`work(STEP)`, ≤ 256 due entries). Replaying the queue alone
 *   with the same pattern stays under 3 ms: the cause is not found.
 *
 * @module
 */
import { arg } from "../args.ts";
import { ReplicatedLog } from "../../log/mod.ts";

const seconds = Number(arg("seconds", "300"));
const log = await ReplicatedLog.create({ name: "solo", origin: "solo@1", environment: "local" });
let over = 0;
let writes = 0;
const t0 = performance.now();
const positions = setInterval(() => {
  for (let i = 0; i < 10; i++) {
    const k = Math.floor(Math.random() * 1000);
    void log.cache.setJSON(`pos:${k}`, { x: Math.random(), y: Math.random(), t: Date.now() }, {
      ack: "none",
    });
    writes++;
  }
}, 10);
let slot = 0;
let next = 0;
const sessions = setInterval(() => {
  for (let i = 0; i < 100; i++) {
    void log.cache.set(`session:${slot}:${++next}`, `user-${slot}`, { ttl: 60_000, ack: "none" });
    slot = (slot + 1) % 30_000;
    writes++;
  }
}, 100);
const watch = setInterval(() => {
  const c = log.stats().compaction;
  if (c.slicesOver10msOnCpu > over) {
    over = c.slicesOver10msOnCpu;
    const m = log.stats().memory;
    console.log(
      `${((performance.now() - t0) / 1000).toFixed(1)}s slice over 10 ms on cpu #${over}: ` +
        `max cpu ${c.pauseMaxCpuMs.toFixed(1)} ms, runs ${c.runs}, sweeps ${c.sweeps}, ` +
        `held ${m.heldEntries}, live ${m.liveKeys}`,
    );
  }
}, 50);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(positions);
clearInterval(sessions);
clearInterval(watch);
console.log(JSON.stringify({ writes, compaction: log.stats().compaction }));
await log.close();
