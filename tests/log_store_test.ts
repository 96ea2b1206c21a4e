// Entry encoding, frames and messages, the hybrid clock, and the in-memory store.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../log/binary.ts";
import { compareLww, decodeEntry, encodeEntry, type Entry } from "../log/entry.ts";
import { encodeFrame, FrameDecoder, FrameError, FrameType } from "../log/frames.ts";
import { FrameCache } from "../log/frame_cache.ts";
import {
  decodeEntries,
  decodeHeads,
  decodeHello,
  decodeSnapshot,
  encodeEntries,
  encodeHeads,
  encodeHello,
  encodeSnapshot,
} from "../log/messages.ts";
import { HybridClock } from "../log/hlc.ts";
import { MemoryLogStore, StoreError } from "../log/store.ts";

const arbEntry: fc.Arbitrary<Entry> = fc
  .record({
    origin: fc.string({ minLength: 1, maxLength: 20 }),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    wall: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    logical: fc.integer({ min: 0, max: 0xffff_ffff }),
    key: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
    value: fc.uint8Array({ maxLength: 200 }),
    tombstone: fc.boolean(),
    ttl: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  })
  .map((r) => {
    const e: { -readonly [K in keyof Entry]: Entry[K] } = {
      origin: r.origin,
      seq: r.seq,
      ts: { wall: r.wall, logical: r.logical },
      value: r.value,
      tombstone: r.key !== undefined && r.tombstone,
    };
    if (r.key !== undefined) {
      e.key = r.key;
      if (r.ttl !== undefined) e.ttl = r.ttl;
    }
    return e;
  });

function entry(origin: string, seq: number, extra: Partial<Entry> = {}): Entry {
  return {
    origin,
    seq,
    ts: { wall: seq, logical: 0 },
    value: new Uint8Array([seq & 255]),
    tombstone: false,
    ...extra,
  };
}

describe("entry encoding", () => {
  it("round-trips every valid entry", () => {
    fc.assert(
      fc.property(arbEntry, (e) => {
        assert.deepEqual(decodeEntry(encodeEntry(e)), e);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects random bytes and truncations with DecodeError only", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        try {
          decodeEntry(bytes);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
        }
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(arbEntry, fc.nat(), (e, cut) => {
        const b = encodeEntry(e);
        const n = cut % b.length;
        assert.throws(() => decodeEntry(b.subarray(0, n)), DecodeError);
      }),
      { numRuns: 300 },
    );
  });

  it("orders last-writer-wins by timestamp, then origin", () => {
    const a = entry("a", 1, { ts: { wall: 5, logical: 0 } });
    const b = entry("b", 1, { ts: { wall: 5, logical: 0 } });
    const c = entry("a", 2, { ts: { wall: 5, logical: 1 } });
    assert.ok(compareLww(a, b) < 0);
    assert.ok(compareLww(c, b) > 0);
    assert.equal(compareLww(a, a), 0);
  });
});

describe("frames and messages", () => {
  it("decodes frames split at every byte boundary", () => {
    const frames = [
      encodeFrame(FrameType.Hello, encodeHello({ version: 1, environment: "lan", name: "n1" })),
      encodeFrame(FrameType.Digest, encodeHeads([["a", 3], ["b", 9]])),
      encodeFrame(
        FrameType.Entries,
        encodeEntries("a", [entry("a", 4), entry("a", 5)], true),
        false,
      ),
    ];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) {
      all.set(f, o);
      o += f.length;
    }
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder(1024);
      const got = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      assert.equal(got.length, 3);
      assert.deepEqual(decodeHello(got[0].payload), { version: 1, environment: "lan", name: "n1" });
      assert.deepEqual([...decodeHeads(got[1].payload)], [["a", 3], ["b", 9]]);
      const batch = decodeEntries(got[2].payload);
      assert.equal(batch.ackRequested, true);
      assert.deepEqual(batch.entries, [entry("a", 4), entry("a", 5)]);
    }
  });

  it("shares an Entries frame between peers asking for the same batch, and only then", () => {
    const cache = new FrameCache();
    const batch = [entry("a", 4), entry("a", 5, { key: "k", value: new Uint8Array(64) })];
    const f1 = cache.entries("a", batch, false, 256, true);
    assert.equal(cache.entries("a", [...batch], false, 256, true), f1);
    assert.equal(cache.hits, 1);
    assert.notEqual(cache.entries("a", batch, true, 256, true), f1); // ack flag differs
    assert.notEqual(cache.entries("a", batch.slice(0, 1), true, 256, true), f1);
    assert.notEqual(cache.entries("a", batch, true, 256, false), f1);
    assert.equal(cache.hits, 1);
    // what it built decodes to the batch, compressed or not
    for (const compress of [true, false]) {
      const frame = new FrameCache().entries("a", batch, true, 256, compress);
      const [got] = new FrameDecoder(1 << 20).push(frame);
      assert.equal(got.type, FrameType.Entries);
      assert.deepEqual(decodeEntries(got.payload).entries, batch);
    }
  });

  it("refuses oversize, empty and unknown frames", () => {
    assert.throws(
      () => new FrameDecoder(100).push(new Uint8Array([0, 0, 0, 101, 1])),
      (e: unknown) => e instanceof FrameError && e.code === "oversize",
    );
    assert.throws(
      () => new FrameDecoder(100).push(new Uint8Array([0, 0, 0, 0])),
      (e: unknown) => e instanceof FrameError && e.code === "garbage",
    );
    assert.throws(
      () => new FrameDecoder(100).push(new Uint8Array([0, 0, 0, 1, 99])),
      (e: unknown) => e instanceof FrameError && e.code === "garbage",
    );
    // compressed hello is not allowed; compressed garbage does not inflate
    assert.throws(() => new FrameDecoder(100).push(new Uint8Array([0, 0, 0, 1, 0x81])), FrameError);
    assert.throws(
      () => new FrameDecoder(100).push(new Uint8Array([0, 0, 0, 3, 0x83, 7, 7])),
      FrameError,
    );
  });

  it("refuses a compressed frame that inflates beyond the limit", async () => {
    const { deflate } = await import("../log/frames.ts");
    const bomb = deflate(new Uint8Array(10_000));
    const d = new FrameDecoder(1000);
    assert.throws(
      () => d.push(encodeFrame(FrameType.Entries, bomb, true)),
      (e: unknown) => e instanceof FrameError && e.code === "oversize",
    );
  });

  it("payload decoders never throw anything but DecodeError", () => {
    const decoders = [decodeHello, decodeHeads, decodeEntries, decodeSnapshot];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(3), (bytes, i) => {
        try {
          decoders[i](bytes);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("snapshot chunks keep holes and refuse disorder", () => {
    const es = [entry("a", 2), entry("a", 7)];
    const chunk = decodeSnapshot(encodeSnapshot("a", 9, es));
    assert.equal(chunk.through, 9);
    assert.deepEqual(chunk.entries, es);
    assert.throws(() => decodeSnapshot(encodeSnapshot("a", 5, es)), DecodeError);
    assert.throws(() => decodeSnapshot(encodeSnapshot("a", 9, [es[1], es[0]])), DecodeError);
  });
});

describe("hybrid logical clock", () => {
  it("is strictly increasing and passes observed timestamps", () => {
    let t = 1000;
    const hlc = new HybridClock(() => t);
    const a = hlc.now();
    const b = hlc.now();
    assert.ok(b.wall > a.wall || b.logical > a.logical);
    hlc.observe({ wall: 5000, logical: 3 });
    const c = hlc.now();
    assert.deepEqual(c, { wall: 5000, logical: 4 });
    t = 2000; // physical clock behind: still increasing
    const d = hlc.now();
    assert.deepEqual(d, { wall: 5000, logical: 5 });
    t = 6000;
    assert.deepEqual(hlc.now(), { wall: 6000, logical: 0 });
  });
});

describe("MemoryLogStore", () => {
  it("appends gap-free, reads ranges, reports heads", async () => {
    const s = new MemoryLogStore();
    await s.append([entry("a", 1), entry("a", 2), entry("b", 1)]);
    await s.append([entry("a", 3)]);
    assert.deepEqual(Object.fromEntries(s.heads()), { a: 3, b: 1 });
    assert.deepEqual((await s.read("a", 2, 10)).map((e) => e.seq), [2, 3]);
    assert.deepEqual((await s.read("a", 1, 2)).map((e) => e.seq), [1, 2]);
    assert.deepEqual(await s.read("zz", 1, 10), []);
    await assert.rejects(s.append([entry("a", 5)]), StoreError);
    await assert.rejects(s.append([entry("a", 3)]), StoreError);
    // a failed batch stores nothing
    await assert.rejects(s.append([entry("b", 2), entry("b", 4)]), StoreError);
    assert.equal(s.heads().get("b"), 1);
    await s.close();
  });

  it("compacts to the newest entry per key and moves the floor", async () => {
    const s = new MemoryLogStore();
    const es = [
      entry("a", 1, { key: "x" }),
      entry("a", 2, { key: "y" }),
      entry("a", 3, { key: "x" }),
      entry("a", 4),
      entry("a", 5, { key: "y", tombstone: true, value: new Uint8Array() }),
      entry("a", 6, { key: "x" }),
    ];
    await s.append(es);
    const newest = new Map<string, number>();
    for (const e of es) if (e.key !== undefined) newest.set(e.key, e.seq);
    const r = await s.compact(
      new Map([["a", 5]]),
      (e) => e.key !== undefined && newest.get(e.key) === e.seq,
    );
    assert.deepEqual(r, { removed: 4, kept: 2 });
    assert.deepEqual((await s.read("a", 1, 100)).map((e) => e.seq), [5, 6]);
    assert.equal(s.floors().get("a"), 5);
    assert.equal(s.heads().get("a"), 6);
    await s.append([entry("a", 7)]);
    await s.installSnapshot("b", 10, [entry("b", 4), entry("b", 9)]);
    assert.deepEqual(Object.fromEntries(s.heads()), { a: 7, b: 10 });
    assert.equal(s.floors().get("b"), 10);
    await assert.rejects(s.installSnapshot("b", 12, [entry("b", 10)]), StoreError);
    await s.append([entry("b", 11)]);
    assert.deepEqual((await s.read("b", 1, 100)).map((e) => e.seq), [4, 9, 11]);
  });
});
