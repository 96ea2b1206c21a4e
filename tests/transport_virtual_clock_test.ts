// VirtualClock: ordering, nesting, cancellation, async drivers, scale; plus the seeded PRNG.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  type Clock,
  seededRandom,
  SimNetwork,
  systemClock,
  TimelineEntry,
  VirtualClock,
} from "../transport/mod.ts";

// A full garbage collection, on Deno and Node alike without a command-line flag; Bun
// (JavaScriptCore, no V8 flags) has its own.
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

// Sets a timer whose callback captures a fresh object, cancels it, and tells whether that
// object was collected while the cancelled entry still waits in the clock's heap.
async function cancelledCallbackIsCollected(clock: Clock, pending: () => number): Promise<boolean> {
  let captured: WeakRef<object> | undefined;
  (() => {
    const payload = { bytes: new Uint8Array(1 << 16) };
    captured = new WeakRef(payload);
    clock.clearTimeout(clock.setTimeout(() => payload.bytes.fill(1), 60_000));
  })();
  assert.equal(pending(), 0);
  // WeakRef targets stay alive until the current job ends: collect in a later one.
  await new Promise((resolve) => setTimeout(resolve, 0));
  collectGarbage();
  return captured?.deref() === undefined;
}

describe("VirtualClock", () => {
  it("time moves only when advanced; timers fire at their time", () => {
    const c = new VirtualClock(1000);
    const log: number[] = [];
    c.setTimeout(() => log.push(c.now()), 50);
    assert.equal(c.now(), 1000);
    assert.equal(c.advance(49), 0);
    assert.deepEqual(log, []);
    assert.equal(c.now(), 1049);
    assert.equal(c.advance(1), 1);
    assert.deepEqual(log, [1050]);
    assert.equal(c.pending, 0);
  });

  it("fires in time order, ties in creation order", () => {
    const c = new VirtualClock();
    const log: string[] = [];
    c.setTimeout(() => log.push("c30"), 30);
    c.setTimeout(() => log.push("a10"), 10);
    c.setTimeout(() => log.push("b10"), 10);
    c.setTimeout(() => log.push("z0"), 0);
    c.setTimeout(() => log.push("neg"), -5); // treated as 0, after z0
    c.runUntil(100);
    assert.deepEqual(log, ["z0", "neg", "a10", "b10", "c30"]);
    assert.equal(c.now(), 100);
  });

  it("timers scheduled by a callback fire in the same advance when due", () => {
    const c = new VirtualClock();
    const log: string[] = [];
    c.setTimeout(() => {
      log.push(`outer@${c.now()}`);
      c.setTimeout(() => log.push(`zero@${c.now()}`), 0);
      c.setTimeout(() => log.push(`inner@${c.now()}`), 5);
      c.setTimeout(() => log.push(`late@${c.now()}`), 50);
    }, 10);
    c.setTimeout(() => log.push(`peer@${c.now()}`), 10);
    c.advance(20);
    assert.deepEqual(log, ["outer@10", "peer@10", "zero@10", "inner@15"]);
    c.advance(40);
    assert.deepEqual(log.at(-1), "late@60");
  });

  it("clearTimeout cancels; unknown or fired handles are ignored", () => {
    const c = new VirtualClock();
    let fired = 0;
    const a = c.setTimeout(() => fired++, 10);
    const b = c.setTimeout(() => fired++, 10);
    c.clearTimeout(a);
    c.clearTimeout(a);
    c.clearTimeout(undefined);
    c.clearTimeout(42);
    assert.equal(c.pending, 1);
    c.advance(10);
    assert.equal(fired, 1);
    c.clearTimeout(b); // already fired
    assert.equal(c.pending, 0);
    // a callback can cancel a later timer of the same instant
    let second = false;
    let h: unknown = null;
    c.setTimeout(() => c.clearTimeout(h), 5);
    h = c.setTimeout(() => (second = true), 5);
    c.advance(5);
    assert.equal(second, false);
  });

  it("a cancelled timer lets go of its callback before its time comes", async () => {
    // Probes and stream deadlines cancel nearly every timer they set; what the callbacks
    // captured must not live on in the heap until the entry's time (issue #4's 10,000 nodes).
    const clock = new VirtualClock();
    assert.ok(await cancelledCallbackIsCollected(clock, () => clock.pending));
    const net = new SimNetwork({ clock, seed: 1 });
    const host = net.clockFor("10.0.0.1");
    assert.ok(await cancelledCallbackIsCollected(host, () => clock.pending));
    clock.advance(120_000); // the cancelled entries leave the heap without running anything
    assert.equal(clock.pending, 0);
  });

  it("runUntilIdle drains, and refuses to spin forever", () => {
    const c = new VirtualClock();
    let n = 0;
    const tick = (): void => {
      if (++n < 100) c.setTimeout(tick, 7);
    };
    c.setTimeout(tick, 7);
    assert.equal(c.runUntilIdle(), 100);
    assert.equal(c.now(), 700);
    const forever = (): void => void c.setTimeout(forever, 1);
    c.setTimeout(forever, 1);
    assert.throws(() => c.runUntilIdle(1000), /still busy/);
  });

  it("nextTime skips cancelled entries", () => {
    const c = new VirtualClock();
    const a = c.setTimeout(() => {}, 5);
    c.setTimeout(() => {}, 9);
    assert.equal(c.nextTime(), 5);
    c.clearTimeout(a);
    assert.equal(c.nextTime(), 9);
    c.advance(9);
    assert.equal(c.nextTime(), undefined);
  });

  it("schedule() runs custom entries and rejects double queueing", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    class Tick extends TimelineEntry {
      run(): void {
        seen.push(c.now());
        if (seen.length < 3) c.schedule(this, c.now() + 2);
      }
    }
    const t = new Tick();
    c.schedule(t, 1);
    assert.throws(() => c.schedule(t, 4), /already queued/);
    c.advance(10);
    assert.deepEqual(seen, [1, 3, 5]);
  });

  it("async drivers let promise continuations run at their virtual time", async () => {
    const c = new VirtualClock();
    const log: string[] = [];
    let resolveIt: (() => void) | null = null;
    const waiter = new Promise<void>((r) => (resolveIt = r));
    (async () => {
      await waiter;
      await null;
      await null;
      log.push(`continued@${c.now()}`);
      c.setTimeout(() => log.push(`followup@${c.now()}`), 1);
    })();
    c.setTimeout(() => {
      (resolveIt as unknown as () => void)();
      c.noteAsyncWork();
    }, 10);
    c.setTimeout(() => log.push(`other@${c.now()}`), 20);
    await c.advanceAsync(30);
    assert.deepEqual(log, ["continued@10", "followup@11", "other@20"]);
    assert.equal(c.now(), 30);
  });

  it("handles a million timers in order, with heavy cancellation", () => {
    const c = new VirtualClock();
    const rnd = seededRandom(5);
    const n = 1_000_000;
    let last = -1;
    let fired = 0;
    let inOrder = true;
    const handles: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rnd() * 1_000_000);
      handles.push(c.setTimeout(() => {
        if (c.now() < last) inOrder = false;
        last = c.now();
        fired++;
      }, at));
    }
    for (let i = 0; i < n; i += 2) c.clearTimeout(handles[i]); // forces compaction
    assert.equal(c.pending, n / 2);
    c.runUntil(1_000_000);
    assert.equal(fired, n / 2);
    assert.ok(inOrder);
    assert.equal(c.pending, 0);
  });
});

describe("seededRandom", () => {
  it("is deterministic per seed, differs across seeds, stays in [0,1) and looks uniform", () => {
    const a = seededRandom(123);
    const b = seededRandom(123);
    const c = seededRandom(124);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.notDeepEqual(xs, Array.from({ length: 1000 }, () => c()));
    const r = seededRandom(0);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const v = r();
      assert.ok(v >= 0 && v < 1);
      buckets[Math.floor(v * 10)]++;
    }
    for (const count of buckets) assert.ok(count > 9_500 && count < 10_500, `bucket ${count}`);
  });
});

describe("systemClock", () => {
  it("is monotonic and runs real timers that can be cleared", async () => {
    const t0 = systemClock.now();
    let cleared = false;
    const h = systemClock.setTimeout(() => (cleared = true), 5);
    systemClock.clearTimeout(h);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 20));
    assert.equal(cleared, false);
    assert.ok(systemClock.now() - t0 >= 15);
  });
});
