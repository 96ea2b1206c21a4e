// The last-writer-wins cache: merge rules, tombstones, TTL, events, and replication.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LwwState } from "../log/cache.ts";
import type { CacheChange, Entry, ReplicatedLog } from "../log/mod.ts";
import {
  addr,
  closeAll,
  converged,
  offsetClock,
  startLog,
  waitFor,
  wire,
} from "../testing/log_cluster.ts";

function e(
  origin: string,
  seq: number,
  wall: number,
  key: string,
  value: string | null,
  ttl?: number,
): Entry {
  const out: { -readonly [K in keyof Entry]: Entry[K] } = {
    origin,
    seq,
    ts: { wall, logical: 0 },
    key,
    value: new TextEncoder().encode(value ?? ""),
    tombstone: value === null,
  };
  if (ttl !== undefined) out.ttl = ttl;
  return out;
}

describe("LwwState merge", () => {
  it("ends in the same state whatever order entries arrive in", () => {
    const arb = fc.array(
      fc.record({
        origin: fc.constantFrom("a", "b", "c"),
        wall: fc.integer({ min: 0, max: 20 }),
        key: fc.constantFrom("x", "y", "z"),
        del: fc.boolean(),
        v: fc.string({ maxLength: 4 }),
      }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(arb, fc.nat(), (rows, seed) => {
        const seqs = new Map<string, number>();
        const entries = rows.map((r) => {
          const seq = (seqs.get(r.origin) ?? 0) + 1;
          seqs.set(r.origin, seq);
          return e(r.origin, seq, r.wall, r.key, r.del ? null : r.v);
        });
        const shuffled = [...entries];
        let s = seed;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const one = new LwwState();
        const two = new LwwState();
        for (const x of entries) one.apply(x);
        for (const x of shuffled) two.apply(x);
        assert.equal(one.digest(), two.digest());
        for (const k of ["x", "y", "z"]) assert.deepEqual(one.winner(k), two.winner(k));
      }),
      { numRuns: 300 },
    );
  });

  it("a tombstone beats older sets, a newer set beats the tombstone, ties go to the greater origin", () => {
    const s = new LwwState();
    const changes: CacheChange[] = [];
    s.listen((c) => changes.push(c));
    assert.ok(s.apply(e("a", 1, 10, "k", "v1")));
    assert.ok(s.apply(e("b", 1, 20, "k", null)));
    assert.ok(!s.apply(e("a", 2, 15, "k", "late but older")));
    assert.equal(s.winner("k")?.tombstone, true);
    assert.ok(s.apply(e("a", 3, 30, "k", "v3")));
    assert.ok(s.apply(e("c", 1, 30, "k", "tie, greater origin")));
    assert.ok(!s.apply(e("b", 2, 30, "k", "tie, smaller origin")));
    assert.deepEqual(changes.map((c) => [c.entry.origin, c.deleted]), [["a", false], ["b", true], [
      "a",
      false,
    ], ["c", false]]);
  });
});

let logs: ReplicatedLog[] = [];
afterEach(async () => {
  await closeAll(logs);
  logs = [];
});

describe("replicated cache", () => {
  it("get, set, has, entries, delete, text and JSON helpers, change events", async () => {
    const [a, b] = (logs = await Promise.all([startLog("a"), startLog("b")]));
    wire(logs);
    const seenOnB: string[] = [];
    const off = b.cache.onChange((c) =>
      seenOnB.push(`${c.key}:${c.deleted ? "-" : new TextDecoder().decode(c.value)}`)
    );
    await a.cache.set("s", "text");
    await a.cache.setJSON("j", { n: 1 });
    await a.cache.set("bytes", new Uint8Array([1, 2, 3]));
    await a.cache.delete("s");
    await waitFor(() => converged(logs, { a: 4 }), "convergence");
    assert.equal(b.cache.has("s"), false);
    assert.equal(b.cache.getText("s"), undefined);
    assert.deepEqual(b.cache.getJSON("j"), { n: 1 });
    assert.deepEqual(b.cache.get("bytes"), new Uint8Array([1, 2, 3]));
    assert.deepEqual(b.cache.entries().map(([k]) => k), ["bytes", "j"]);
    assert.deepEqual(seenOnB, ["s:text", 'j:{"n":1}', "bytes:\u0001\u0002\u0003", "s:-"]);
    off();
    await b.cache.set("j", "from b");
    await waitFor(() => a.cache.getText("j") === "from b", "b's write on a");
    assert.equal(seenOnB.length, 4);
  });

  it("TTL expiry follows the entry's timestamp, the same on every replica", async () => {
    const clocks = [offsetClock(), offsetClock(), offsetClock()];
    logs = await Promise.all(["a", "b", "c"].map((n, i) => startLog(n, { clock: clocks[i] })));
    const [a, b, c] = logs;
    wire(logs);
    await a.cache.set("session", "alice", { ttl: 60_000 });
    await a.cache.set("forever", "bob");
    await waitFor(() => converged(logs, { a: 2 }), "convergence");
    for (const l of logs) assert.equal(l.cache.getText("session"), "alice");
    // 30 s later on b and c only: still alive there (expiry is ts.wall + ttl, not arrival + ttl)
    clocks[1].offset = clocks[2].offset = 30_000;
    assert.ok(b.cache.has("session") && c.cache.has("session"));
    clocks[0].offset = clocks[1].offset = clocks[2].offset = 61_000;
    for (const l of logs) {
      assert.equal(l.cache.has("session"), false);
      assert.equal(l.cache.getText("forever"), "bob");
      assert.deepEqual(l.cache.entries().map(([k]) => k), ["forever"]);
    }
    // a new write after expiry carries a later timestamp and wins
    await c.cache.set("session", "carol", { ttl: 60_000 });
    await waitFor(() => a.cache.getText("session") === "carol", "new session");
  });

  it("a deleted key does not come back after a replica that missed the delete syncs", async () => {
    logs = await Promise.all(["a", "b", "c"].map((n) => startLog(n)));
    const [a, b, c] = logs;
    wire(logs);
    await c.cache.set("k", "old");
    await waitFor(() => converged(logs, { c: 1 }), "initial convergence");
    // cut c off
    a.setPeers([{ name: "b", address: addr(b) }]);
    b.setPeers([{ name: "a", address: addr(a) }]);
    c.setPeers([]);
    await waitFor(
      () => c.connectedPeers().length === 0 && a.connectedPeers().length === 1,
      "partition",
    );
    await a.cache.delete("k");
    await b.cache.set("other", "x");
    await waitFor(() => !b.cache.has("k") && a.cache.has("other"), "delete on the majority side");
    // compaction on a and b drops the old set: only the tombstone remains as k's winner
    await a.compact();
    await b.compact();
    // meanwhile c, which missed the delete, still shows the old value and writes elsewhere
    assert.equal(c.cache.getText("k"), "old");
    await c.cache.set("c-only", "y");
    wire(logs);
    await waitFor(() => converged(logs, { a: 1, b: 1, c: 2 }), "healed convergence");
    for (const l of logs) {
      assert.equal(l.cache.has("k"), false, `${l.name} resurrected k`);
      assert.deepEqual(l.cache.entries().map(([k]) => k), ["c-only", "other"]);
    }
  });
});
