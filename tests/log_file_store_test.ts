// FileLogStore: restarts, torn and corrupted tails, segments, compaction, and a log on top.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../log/entry.ts";
import { FileLogStore } from "../log/file_store.ts";
import { StoreError } from "../log/store.ts";
import { closeAll, converged, startLog, waitFor, wire } from "../testing/log_cluster.ts";

const root = mkdtempSync(join(tmpdir(), "log-file-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `s${++dirs}`);

function entry(origin: string, seq: number, key?: string, value = `${origin}${seq}`): Entry {
  const e: { -readonly [K in keyof Entry]: Entry[K] } = {
    origin,
    seq,
    ts: { wall: 1000 + seq, logical: 0 },
    value: new TextEncoder().encode(value),
    tombstone: false,
  };
  if (key !== undefined) e.key = key;
  return e;
}

async function seqs(store: FileLogStore, origin: string): Promise<number[]> {
  return (await store.read(origin, 1, 1_000_000)).map((e) => e.seq);
}

const range = (a: number, b: number): number[] =>
  Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("FileLogStore", () => {
  it("keeps everything across restarts (fsync always), and after a crash without close", async () => {
    const dir = freshDir();
    const s1 = await FileLogStore.open(dir, { fsync: "always" });
    for (let i = 1; i <= 50; i++) await s1.append([entry("a", i)]);
    await s1.append([entry("b", 1), entry("b", 2)]);
    await s1.installSnapshot("c", 10, [entry("c", 3), entry("c", 8)]);
    await s1.close();
    const s2 = await FileLogStore.open(dir);
    assert.deepEqual(s2.recovery, {
      segments: 1,
      records: 52,
      truncatedBytes: 0,
      droppedSegments: 0,
    });
    assert.deepEqual(Object.fromEntries(s2.heads()), { a: 50, b: 2, c: 10 });
    assert.equal(s2.floors().get("c"), 10);
    assert.deepEqual(await seqs(s2, "c"), [3, 8]);
    assert.deepEqual((await s2.read("a", 7, 1))[0], entry("a", 7));
    // "crash": never closed, another instance opens the same files
    await s2.append([entry("a", 51)]);
    const s3 = await FileLogStore.open(dir, { fsync: "never" });
    assert.equal(s3.heads().get("a"), 51);
    await s2.close();
    await s3.close();
  });

  it("cuts a torn tail and a garbage tail, then appends normally", async () => {
    const dir = freshDir();
    const s1 = await FileLogStore.open(dir, { fsync: "never" });
    for (let i = 1; i <= 10; i++) await s1.append([entry("a", i)]);
    await s1.close();
    const seg = join(dir, s1.segments()[0]);
    const good = statSync(seg).size;
    appendFileSync(seg, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])); // garbage tail
    const s2 = await FileLogStore.open(dir);
    assert.equal(s2.recovery.truncatedBytes, 12);
    assert.match(s2.recovery.reason ?? "", /length|checksum|torn/);
    assert.equal(statSync(seg).size, good);
    assert.deepEqual(await seqs(s2, "a"), range(1, 10));
    await s2.append([entry("a", 11)]);
    await s2.close();
    truncateSync(seg, statSync(seg).size - 3); // torn last record (a/11)
    const s3 = await FileLogStore.open(dir);
    assert.equal(s3.recovery.reason?.includes("torn payload"), true);
    assert.deepEqual(await seqs(s3, "a"), range(1, 10));
    await s3.append([entry("a", 11, undefined, "again")]);
    await s3.close();
    const s4 = await FileLogStore.open(dir);
    assert.equal(s4.recovery.truncatedBytes, 0);
    assert.equal(new TextDecoder().decode((await s4.read("a", 11, 1))[0].value), "again");
    await s4.close();
  });

  it("drops a corrupted record and everything after it, across segments", async () => {
    const dir = freshDir();
    const s1 = await FileLogStore.open(dir, { fsync: "never", segmentBytes: 300 });
    for (let i = 1; i <= 40; i++) await s1.append([entry("a", i, undefined, "x".repeat(20))]);
    const segs = s1.segments();
    await s1.close();
    assert.ok(segs.length >= 4, `segments: ${segs.length}`);
    // flip one payload byte in the middle of the second segment
    const victim = join(dir, segs[1]);
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(victim, bytes);
    const s2 = await FileLogStore.open(dir);
    assert.match(s2.recovery.reason ?? "", /checksum|length|torn/);
    assert.equal(s2.recovery.droppedSegments, segs.length - 2);
    const kept = await seqs(s2, "a");
    assert.ok(kept.length > 0 && kept.length < 40);
    assert.deepEqual(kept, range(1, kept.length)); // a gap-free prefix
    await s2.append([entry("a", kept.length + 1)]);
    await assert.rejects(s2.append([entry("a", kept.length + 3)]), StoreError);
    await s2.close();
  });

  it("compacts to the newest entry per key, deletes old segments, survives restart", async () => {
    const dir = freshDir();
    const s1 = await FileLogStore.open(dir, { fsync: 50, segmentBytes: 2000 });
    for (let i = 1; i <= 200; i++) {
      await s1.append([entry("a", i, i % 2 === 0 ? `k${i % 10}` : undefined)]);
    }
    await s1.append([entry("b", 1, "k0")]);
    const before = s1.segments().length;
    assert.ok(before > 3);
    const newest = new Map<string, number>();
    for (let i = 1; i <= 200; i++) if (i % 2 === 0) newest.set(`k${i % 10}`, i);
    newest.set("k1", 100); // pretend a/100 is the winner of another key: it survives compaction
    const r = await s1.compact(
      new Map([["a", 190], ["b", 1]]),
      (e) => e.origin === "a" && (newest.get(e.key ?? "") === e.seq || e.seq === newest.get("k1")),
    );
    // every key's newest entry is above 190 (192..200), so a/1..190 go but a/100; b/1 goes too
    assert.equal(r.removed, 190);
    assert.equal(s1.segments().length, 1);
    await s1.append([entry("a", 201)]);
    await s1.close();
    const s2 = await FileLogStore.open(dir);
    assert.equal(s2.recovery.truncatedBytes, 0);
    assert.deepEqual(await seqs(s2, "a"), [100, ...range(191, 201)]);
    assert.deepEqual(Object.fromEntries(s2.heads()), { a: 201, b: 1 });
    assert.deepEqual(Object.fromEntries(s2.floors()), { a: 190, b: 1 });
    assert.deepEqual(await seqs(s2, "b"), []);
    await s2.close();
  });

  it("a dropped origin leaves the segments at the next due rewrite, even with nothing else removed", async () => {
    const dir = freshDir();
    const s1 = await FileLogStore.open(dir, { fsync: "never", rewriteEveryMs: 0 });
    await s1.append([entry("a", 1, "k1"), entry("b", 1, "k2")]);
    // b's entry goes (manual compaction rewrites at once): b is an empty origin on disk now
    await s1.compact(new Map([["b", 1]]), () => false);
    assert.deepEqual(Object.fromEntries(s1.heads()), { a: 1, b: 1 });
    s1.dropOrigin("b"); // what compaction does with an empty retired origin
    // a background compaction that removes nothing else still writes the segments anew
    const job = s1.startCompaction(new Map(), () => true);
    while (!job.step(1000));
    assert.equal(job.removed, 0);
    await s1.close();
    const s2 = await FileLogStore.open(dir);
    assert.deepEqual(Object.fromEntries(s2.heads()), { a: 1 }, "b came back from the segments");
    assert.deepEqual(await seqs(s2, "a"), [1]);
    await s2.close();
  });

  it("a replicated log on a file store restarts with its log, cache and peers' entries", async () => {
    const dir = freshDir();
    const a1 = await startLog("a", { store: await FileLogStore.open(dir, { fsync: "never" }) });
    const b = await startLog("b");
    try {
      wire([a1, b]);
      for (let i = 0; i < 20; i++) await a1.cache.set(`k${i % 5}`, `v${i}`);
      await b.appendText("from b");
      await waitFor(() => converged([a1, b], { a: 20, b: 1 }), "convergence");
      const digest = a1.cacheDigest();
      await a1.close();
      const a2 = await startLog("a", { store: await FileLogStore.open(dir) });
      try {
        assert.equal(a2.cacheDigest(), digest);
        assert.deepEqual(Object.fromEntries(a2.heads()), { a: 20, b: 1 });
        const at = await a2.appendText("after restart");
        assert.equal(at.seq, 21);
        wire([a2, b]);
        await waitFor(() => converged([a2, b], { a: 21, b: 1 }), "convergence after restart");
      } finally {
        await a2.close();
      }
    } finally {
      await closeAll([a1, b]);
    }
  });
});
