import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { remainingSuspicionTime, Suspicion, suspicionTimeout } from "../memberlist/suspicion.ts";
import { Awareness } from "../memberlist/awareness.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";

describe("suspicionTimeout (PROTOCOL §3.3)", () => {
  it("matches the upstream vectors for n = 5..1000", () => {
    const cases: [number, number][] = [[5, 1000], [10, 1000], [50, 1698], [100, 2000], [
      500,
      2698,
    ], [1000, 3000]];
    for (const [n, want] of cases) {
      assert.equal(suspicionTimeout(3, n, 1000) / 3, want, `n=${n}`);
    }
  });
  it("never goes below mult × interval", () => {
    assert.equal(suspicionTimeout(4, 0, 1000), 4000);
    assert.equal(suspicionTimeout(4, 1, 1000), 4000);
    assert.equal(suspicionTimeout(6, 10_000, 5000), 120_000);
  });
});

describe("remainingSuspicionTime (min 2 s, max 30 s, k 3)", () => {
  it("c=0 gives the max", () => {
    assert.equal(remainingSuspicionTime(0, 3, 0, 2000, 30000), 30000);
  });
  it("c=1 elapsed 2 s gives 14 s", () => {
    assert.equal(remainingSuspicionTime(1, 3, 2000, 2000, 30000), 14000);
  });
  it("c=2 elapsed 3 s gives 4.81 s", () => {
    assert.equal(remainingSuspicionTime(2, 3, 3000, 2000, 30000), 4810);
  });
  it("c=3 elapsed 4 s gives -2 s (fires)", () => {
    assert.equal(remainingSuspicionTime(3, 3, 4000, 2000, 30000), -2000);
  });
});

describe("Suspicion timer", () => {
  it("starts at max and fires once with the confirmation count", () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    new Suspicion(clock, "a", 3, 2000, 30000, (c) => fired.push(c));
    clock.advance(29_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [0]);
    assert.equal(clock.pending, 0);
  });
  it("starts at min when no confirmations are expected", () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, "a", 0, 2000, 30000, (c) => fired.push(c));
    assert.equal(s.confirm("b"), false);
    clock.advance(2000);
    assert.deepEqual(fired, [0]);
  });
  it("shrinks with distinct confirmations and ignores repeats and the accuser", () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, "a", 3, 2000, 30000, (c) => fired.push(c));
    assert.equal(s.confirm("a"), false, "the accuser is pre-counted");
    clock.advance(2000);
    assert.equal(s.confirm("b"), true);
    assert.equal(s.confirm("b"), false, "same confirmer twice");
    clock.advance(13_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [1]);
  });
  it("fires immediately when the remaining time is negative", () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, "a", 3, 2000, 30000, (c) => fired.push(c));
    clock.advance(1000);
    s.confirm("b");
    clock.advance(1000);
    s.confirm("c");
    clock.advance(2000);
    assert.equal(s.confirm("d"), true);
    assert.equal(s.confirm("e"), false, "no more than k confirmations count");
    clock.advance(0);
    assert.deepEqual(fired, [3]);
  });
  it("stop() cancels the timer", () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, "a", 3, 2000, 30000, (c) => fired.push(c));
    s.stop();
    assert.equal(clock.pending, 0);
    clock.advance(60_000);
    assert.deepEqual(fired, []);
    assert.equal(s.confirm("b"), false);
  });
});

describe("Awareness", () => {
  it("clamps to [0, max-1] and scales timeouts", () => {
    const seen: number[] = [];
    const a = new Awareness(8, (s) => seen.push(s));
    a.applyDelta(-1);
    assert.equal(a.getHealthScore(), 0);
    a.applyDelta(3);
    assert.equal(a.scaleTimeout(1000), 4000);
    a.applyDelta(100);
    assert.equal(a.getHealthScore(), 7);
    assert.equal(a.scaleTimeout(1000), 8000);
    a.applyDelta(-2);
    assert.equal(a.getHealthScore(), 5);
    assert.deepEqual(seen, [3, 7, 5]);
  });
});
