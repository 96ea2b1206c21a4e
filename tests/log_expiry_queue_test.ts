// The expiry queue: the cache's values and tombstones filed by due time, taken once due.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ExpiryQueue } from "../log/expiry_queue.ts";
import { LwwState } from "../log/cache.ts";
import type { Entry } from "../log/mod.ts";

let seq = 0;
function entry(key: string, wall: number, o: { ttl?: number; tombstone?: boolean } = {}): Entry {
  return {
    origin: "a",
    seq: ++seq,
    ts: { wall, logical: 0 },
    key,
    value: new Uint8Array(o.tombstone === true ? 0 : 1),
    tombstone: o.tombstone ?? false,
    ...(o.ttl === undefined ? {} : { ttl: o.ttl }),
  };
}

const keys = (es: Entry[]) => es.map((e) => e.key);

describe("expiry queue", () => {
  it("takes whole buckets once they are due, earliest first, never before", () => {
    const q = new ExpiryQueue(1000);
    const late = entry("late", 0);
    const early = entry("early", 0);
    const edge = entry("edge", 0);
    q.add(late, 5500);
    q.add(early, 1200);
    q.add(edge, 1999);
    assert.equal(q.size, 3);
    const out: Entry[] = [];
    // the bucket [1000, 2000) is due only once all of it is
    assert.equal(q.take(1999, 10, out), 0);
    assert.equal(q.take(2000, 10, out), 2);
    assert.deepEqual(keys(out).sort(), ["early", "edge"]);
    assert.equal(q.take(5999, 10, out), 0);
    assert.equal(q.take(6000, 10, out), 1);
    assert.equal(out.at(-1), late);
    assert.equal(q.size, 0);
    assert.equal(q.take(1e12, 10, out), 0);
  });

  it("stops at the limit and goes on where it stopped", () => {
    const q = new ExpiryQueue(100);
    for (let i = 0; i < 1000; i++) q.add(entry(`k${i}`, 0), (i % 10) * 100 + 50);
    const seen = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const out: Entry[] = [];
      assert.equal(q.take(1000, 256, out), round < 3 ? 256 : round === 3 ? 232 : 0);
      for (const e of out) {
        assert.ok(!seen.has(e.key as string), `${e.key} taken twice`);
        seen.add(e.key as string);
      }
    }
    assert.equal(seen.size, 1000);
    assert.equal(q.size, 0);
  });

  it("an entry unfiled before its turn is not taken; an emptied bucket is skipped", () => {
    const q = new ExpiryQueue(1000);
    const gone = entry("gone", 0);
    const kept = entry("kept", 0);
    q.add(gone, 500);
    q.add(kept, 2500);
    q.delete(gone, 500);
    q.delete(gone, 500); // twice: a no-op
    q.delete(kept, 1500); // the wrong due time: not filed there
    assert.equal(q.size, 1);
    const out: Entry[] = [];
    assert.equal(q.take(10_000, 10, out), 1);
    assert.deepEqual(keys(out), ["kept"]);
  });

  it("the cache files its winners: superseded and removed entries leave the queue", () => {
    let now = 0;
    const state = new LwwState(() => now, { expiryMs: 100, tombstoneMs: 100 });
    const session = entry("s", 0, { ttl: 1000 });
    state.apply(session);
    const renewed = entry("s", 10, { ttl: 1000 });
    state.apply(renewed); // supersedes the first: only the renewal is due, at 1010
    state.apply(entry("plain", 0)); // no TTL: never due
    const deleted = entry("d", 0, { tombstone: true });
    state.apply(deleted);
    const out: Entry[] = [];
    now = 1050;
    assert.equal(state.takeDue(now, 0, 10, out), 0, "nothing is due yet");
    now = 1100;
    assert.equal(state.takeDue(now, 0, 10, out), 1);
    assert.equal(out[0], renewed);
    assert.ok(state.remove(renewed));
    // tombstones by their timestamp, against the bound given (now - horizon)
    out.length = 0;
    assert.equal(state.takeDue(now, 100, 10, out), 1);
    assert.equal(out[0], deleted);
    out.length = 0;
    assert.equal(state.takeDue(1e9, 1e9, 10, out), 0, "plain values are never due");
    assert.equal(state.winner("plain")?.key, "plain");
  });
});
