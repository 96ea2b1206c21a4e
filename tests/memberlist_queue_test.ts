import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { retransmitLimit, TransmitLimitedQueue } from "../memberlist/queue.ts";
import { DeliveryEstimate } from "../memberlist/delivery.ts";

function msg(tag: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  b[0] = tag;
  return b;
}

describe("retransmitLimit (PROTOCOL §3.5)", () => {
  it("matches the vectors for mult 4", () => {
    const got = [0, 9, 10, 99, 100].map((n) => retransmitLimit(4, n));
    assert.deepEqual(got, [0, 4, 8, 8, 12]);
  });
  it("scales with the multiplier", () => {
    assert.equal(retransmitLimit(2, 1000), 8);
    assert.equal(retransmitLimit(2, 10_000), 10);
  });
});

describe("TransmitLimitedQueue", () => {
  it("orders fewest transmits first, then largest, then newest", () => {
    const q = new TransmitLimitedQueue(1, () => 10_000); // limit 5
    q.queue({ name: "a", message: msg(1, 10) });
    q.queue({ name: "b", message: msg(2, 30) });
    q.queue({ name: "c", message: msg(3, 10) });
    q.queue({ name: "d", message: msg(4, 20) });
    assert.deepEqual(q.snapshot().map((s) => s.name), ["b", "d", "c", "a"]);
    // Room for only the first two (each costs overhead 2).
    const out = q.getBroadcasts(2, 54);
    assert.deepEqual(out.map((m) => m[0]), [2, 4]);
    // b and d moved to tier 1; c (newest of the 10-byte pair) now leads.
    assert.deepEqual(q.snapshot().map((s) => [s.name, s.transmits]), [
      ["c", 0],
      ["a", 0],
      ["b", 1],
      ["d", 1],
    ]);
  });
  it("skips items that do not fit and takes smaller ones", () => {
    const q = new TransmitLimitedQueue(1, () => 10_000);
    q.queue({ name: "big", message: msg(1, 100) });
    q.queue({ name: "small", message: msg(2, 10) });
    const out = q.getBroadcasts(2, 50);
    assert.deepEqual(out.map((m) => m[0]), [2]);
    assert.equal(q.size, 2);
  });
  it("a named broadcast replaces the queued one and finishes it", () => {
    const q = new TransmitLimitedQueue(4, () => 10);
    let finished = 0;
    q.queue({ name: "x", message: msg(1, 10), onFinished: () => finished++ });
    q.queue({ name: "y", message: msg(2, 10) });
    q.queue({ name: "x", message: msg(3, 12) });
    assert.equal(q.size, 2);
    assert.equal(finished, 1);
    const out = q.getBroadcasts(0, 1000);
    assert.deepEqual(out.map((m) => m[0]).sort(), [2, 3]);
  });
  it("unnamed broadcasts are never replaced", () => {
    const q = new TransmitLimitedQueue(4, () => 10);
    q.queue({ name: null, message: msg(1, 10) });
    q.queue({ name: null, message: msg(2, 10) });
    assert.equal(q.size, 2);
  });
  it("sends each broadcast exactly retransmit-limit times, then finishes it", () => {
    const n = 10; // limit = 2 × ceil(log10(11)) = 4
    const q = new TransmitLimitedQueue(2, () => n);
    let finished = 0;
    q.queue({ name: "x", message: msg(7, 10), onFinished: () => finished++ });
    let sends = 0;
    for (let i = 0; i < 10; i++) sends += q.getBroadcasts(2, 1400).length;
    assert.equal(sends, retransmitLimit(2, n));
    assert.equal(finished, 1);
    assert.equal(q.size, 0);
  });
  it("never returns the same broadcast twice in one fill", () => {
    const q = new TransmitLimitedQueue(4, () => 100);
    for (let i = 0; i < 5; i++) q.queue({ name: `n${i}`, message: msg(i, 10) });
    const out = q.getBroadcasts(2, 10_000);
    assert.equal(out.length, 5);
    assert.equal(new Set(out.map((m) => m[0])).size, 5);
  });
  it("respects the byte budget including per-part overhead", () => {
    const q = new TransmitLimitedQueue(4, () => 100);
    for (let i = 0; i < 50; i++) q.queue({ name: `n${i}`, message: msg(i, 40) });
    const out = q.getBroadcasts(2, 1400);
    const used = out.reduce((s, m) => s + m.length + 2, 0);
    assert.ok(used <= 1400);
    assert.equal(out.length, Math.floor(1400 / 42));
  });
  it("reset() and prune() finish dropped broadcasts", () => {
    const q = new TransmitLimitedQueue(4, () => 100);
    let finished = 0;
    for (let i = 0; i < 10; i++) {
      q.queue({ name: `n${i}`, message: msg(i, 10 + i), onFinished: () => finished++ });
    }
    q.getBroadcasts(2, 42); // n9 (19 B) and n8 (18 B) move to tier 1
    q.prune(7);
    assert.equal(q.size, 7);
    assert.equal(finished, 3);
    assert.ok(!q.snapshot().some((s) => ["n9", "n8", "n0"].includes(s.name ?? "")));
    q.reset();
    assert.equal(q.size, 0);
    assert.equal(finished, 10);
  });
});

describe("retransmit budget under loss (delivery.ts)", () => {
  it("the queue sends each broadcast budgetFactor times as often", () => {
    const sends = (factor: number): number => {
      const q = new TransmitLimitedQueue(4, () => 10, () => factor); // memberlist limit 8
      q.queue({ name: "a", message: msg(1, 10) });
      let n = 0;
      while (q.getBroadcasts(2, 1400).length > 0) n++;
      return n;
    };
    assert.equal(sends(1), 8);
    assert.equal(sends(1.5), 12);
    assert.equal(sends(2), 16);
  });

  it("estimates one-way delivery from direct probe outcomes, capped at a factor of 3", () => {
    const d = new DeliveryEstimate();
    assert.equal(d.retransmitFactor, 1, "no loss until probes say otherwise");
    // 50 % loss each way: one direct round trip in four succeeds.
    for (let i = 0; i < 200; i++) d.record(i % 4 === 0);
    assert.ok(Math.abs(d.oneWay - 0.5) < 0.1, `oneWay ${d.oneWay}`);
    assert.ok(d.retransmitFactor > 1.7 && d.retransmitFactor < 2.3, `${d.retransmitFactor}`);
    for (let i = 0; i < 200; i++) d.record(false);
    assert.equal(d.retransmitFactor, 3);
    for (let i = 0; i < 200; i++) d.record(true);
    assert.ok(d.retransmitFactor < 1.01, "recovers when the loss ends");
  });
});
