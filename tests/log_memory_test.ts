// Memory and disk follow live data: automatic compaction, expiry, tombstone horizon, plain
// retention and retired origins, on the memory and the file store.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CacheChange,
  FileLogStore,
  type LogStore,
  type LogTuning,
  type MemoryTuning,
  ReplicatedLog,
} from "../log/mod.ts";
import { retiredRuns } from "../log/retention.ts";
import { LwwState } from "../log/cache.ts";
import type { Entry } from "../log/mod.ts";
import {
  closeAll,
  converged,
  startLog,
  testTuning,
  waitFor,
  wire,
} from "../testing/log_cluster.ts";

const HORIZON = 600;

function memTuning(over: Partial<MemoryTuning> = {}): LogTuning {
  return {
    ...testTuning,
    memory: {
      tombstoneHorizonMs: HORIZON,
      plain: { maxEntries: 50, maxBytes: 1 << 20, maxAgeMs: 3600_000 },
      checkIntervalMs: 40,
      minGarbageBytes: 0,
      garbageRatio: 1,
      sliceMs: 2,
      ...over,
    },
  };
}

const dirs: string[] = [];
const logs: ReplicatedLog[] = [];

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "log-memory-"));
  dirs.push(d);
  return d;
}

async function node(
  name: string,
  o: { store?: LogStore; tuning?: LogTuning; origin?: string } = {},
): Promise<ReplicatedLog> {
  const l = await startLog(name, {
    tuning: o.tuning ?? memTuning(),
    store: o.store,
    origin: o.origin,
  });
  logs.push(l);
  return l;
}

async function isolated(store?: LogStore, tuning = memTuning()): Promise<ReplicatedLog> {
  const l = await ReplicatedLog.create({ name: "solo", environment: "local", store, tuning });
  logs.push(l);
  return l;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await closeAll(logs.splice(0));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const stores: [string, () => Promise<LogStore>][] = [
  ["memory store", () => Promise.resolve(undefined as unknown as LogStore)],
  ["file store", () => FileLogStore.open(freshDir(), { fsync: "never", rewriteSlackBytes: 8192 })],
];

describe("memory follows live data", () => {
  for (const [kind, open] of stores) {
    it(`${kind}: overwrites leave at most twice the live keys held`, async () => {
      const store = await open();
      const log = await isolated(kind === "file store" ? store : undefined);
      for (let i = 0; i < 20_000; i++) {
        void log.cache.set(`k${i % 20}`, `value ${i}`, { ack: "none" });
        if (i % 1000 === 999) await sleep(5);
      }
      await log.cache.set("k0", "last");
      await waitFor(() => log.stats().memory.heldEntries <= 40, "compaction", 20_000);
      const s = log.stats();
      assert.equal(s.memory.liveKeys, 20);
      assert.ok(s.compaction.runs > 0 && s.compaction.slices > 0);
      // the slices' CPU time is measured besides their wall-clock time
      assert.ok(s.compaction.pauseMaxCpuMs > 0, JSON.stringify(s.compaction));
      assert.ok(s.memory.heldBytes <= 2 * s.memory.liveBytes + 4096, JSON.stringify(s.memory));
      if (kind === "file store") {
        await waitFor(
          () => (log.stats().memory.diskBytes ?? Infinity) < 64 * 1024,
          "disk rewrite",
          20_000,
        );
      }
    });

    it(`${kind}: expired keys leave memory on every replica, one change event each`, async () => {
      const a = await node("a", { store: kind === "file store" ? await open() : undefined });
      const b = await node("b", { store: kind === "file store" ? await open() : undefined });
      wire([a, b]);
      const expiredSeen = new Map<string, number>();
      b.cache.onChange((c: CacheChange) => {
        if (c.expired) expiredSeen.set(c.key, (expiredSeen.get(c.key) ?? 0) + 1);
      });
      for (let i = 0; i < 300; i++) {
        void a.cache.set(`session:${i}`, "x", { ttl: 150, ack: "none" });
      }
      await a.cache.set("stays", "y");
      await waitFor(() => b.cache.has("stays"), "replication");
      await waitFor(
        () => [a, b].every((l) => l.stats().memory.heldEntries === 1),
        "expired entries dropped",
      );
      for (const l of [a, b]) {
        const m = l.stats().memory;
        assert.equal(m.liveKeys, 1);
        assert.equal(l.stats().compaction.expired, 300);
      }
      await sleep(200);
      assert.equal(expiredSeen.size, 300);
      assert.ok([...expiredSeen.values()].every((n) => n === 1));
    });

    it(`${kind}: tombstones are dropped after the horizon, not before`, async () => {
      const store = await open();
      const log = await isolated(kind === "file store" ? store : undefined);
      for (let i = 0; i < 100; i++) await log.cache.set(`k${i}`, "v");
      for (let i = 0; i < 100; i++) await log.cache.delete(`k${i}`);
      await waitFor(() => log.stats().memory.heldEntries === 100, "superseded sets dropped");
      assert.equal(log.stats().memory.tombstones, 100);
      await waitFor(() => log.stats().memory.heldEntries === 0, "tombstones dropped", 10_000);
      assert.equal(log.stats().compaction.tombstonesDropped, 100);
      assert.equal(log.cache.entries().length, 0);
    });

    it(`${kind}: plain entries keep within the retention limits; readers start at the first retained`, async () => {
      const store = await open();
      const log = await isolated(kind === "file store" ? store : undefined);
      for (let i = 1; i <= 500; i++) void log.appendText(`entry ${i}`, { ack: "none" });
      await log.appendText("entry 501");
      await waitFor(() => log.stats().memory.plainEntries <= 50, "retention by count");
      const first: number[] = [];
      for await (const e of log.read({ origin: "solo", from: 1, limit: 3 })) first.push(e.seq);
      assert.deepEqual(first, [452, 453, 454]);
      const mid: number[] = [];
      for await (const e of log.read({ origin: "solo", from: 460, limit: 2 })) mid.push(e.seq);
      assert.deepEqual(mid, [460, 461]);
    });
  }

  it("below the budget, expired values still leave memory and disk within a bounded time", async () => {
    const dir = freshDir();
    const opts = { fsync: "never" as const, rewriteSlackBytes: 1 << 30, rewriteEveryMs: 300 };
    const log = await isolated(
      await FileLogStore.open(dir, opts),
      memTuning({ minGarbageBytes: 1 << 30 }),
    );
    for (let i = 0; i < 20; i++) await log.cache.set(`session:${i}`, "x", { ttl: 100 });
    await log.cache.set("stays", "y");
    // 60 check intervals of 40 ms: about 2.4 s
    await waitFor(() => log.stats().memory.heldEntries === 1, "expired values compacted", 10_000);
    await waitFor(
      () => (log.stats().memory.diskBytes ?? Infinity) < 400,
      "expired values off the disk",
      10_000,
    );
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const raw = await FileLogStore.open(dir, opts);
    const held = await raw.read("solo", 1, 100);
    await raw.close();
    assert.deepEqual(held.map((e) => e.key), ["stays"]);
  });

  it("plain entries: byte and age limits", async () => {
    const bytes = await isolated(
      undefined,
      memTuning({ plain: { maxEntries: 1000, maxBytes: 10 * 1024, maxAgeMs: 3600_000 } }),
    );
    for (let i = 0; i < 100; i++) await bytes.append(new Uint8Array(1024));
    await waitFor(() => bytes.stats().memory.plainEntries === 10, "retention by bytes");
    const aged = await ReplicatedLog.create({
      name: "aged",
      environment: "local",
      tuning: memTuning({ plain: { maxEntries: 1000, maxBytes: 1 << 20, maxAgeMs: 200 } }),
    });
    logs.push(aged);
    for (let i = 0; i < 100; i++) await aged.appendText(`e${i}`);
    assert.equal(aged.stats().memory.plainEntries, 100);
    await waitFor(() => aged.stats().memory.plainEntries === 0, "retention by age", 10_000);
  });

  it("a member away past the horizon with an old write returns: the deleted key stays deleted", async () => {
    const dir = freshDir();
    const a = await node("a");
    const b = await node("b");
    let c = await node("c", { store: await FileLogStore.open(dir, { fsync: "never" }) });
    wire([a, b, c]);
    await c.cache.set("k", "old");
    await waitFor(() => converged([a, b, c], { c: 1 }), "initial convergence");
    // c is cut off, writes k once more, and goes away with that write unsent
    c.setPeers([]);
    a.setPeers([{ name: "b", address: b.address! }]);
    b.setPeers([{ name: "a", address: a.address! }]);
    await waitFor(() => c.connectedPeers().length === 0, "partition");
    await c.cache.set("k", "stale");
    await c.close();
    logs.splice(logs.indexOf(c), 1);
    await sleep(5);
    await a.cache.delete("k");
    await waitFor(() => !b.cache.has("k"), "delete replicated");
    // past the horizon the tombstone and the superseded writes are gone from a and b
    await waitFor(
      () => [a, b].every((l) => l.stats().memory.heldEntries === 0),
      "tombstone dropped",
      10_000,
    );
    // c comes back with its old store: its late write reaches a and b, which refuse it
    c = await node("c", { store: await FileLogStore.open(dir, { fsync: "never" }) });
    wire([a, b, c]);
    await waitFor(() => [a, b].every((l) => l.heads().get("c") === 2), "c's late write sent");
    await sleep(300);
    for (const l of [a, b]) {
      assert.equal(l.cache.getText("k"), undefined, `${l.name} resurrected k`);
    }
    assert.ok(a.stats().compaction.staleRefused >= 1 && b.stats().compaction.staleRefused >= 1);
    // the rule for a member away past the horizon: back with an empty store, it takes the
    // others' state (snapshots) and not its stale write, which no one stored
    await c.close();
    logs.splice(logs.indexOf(c), 1);
    // (and a fresh origin, as a memory-store node takes one per run)
    c = await node("c", {
      store: await FileLogStore.open(freshDir(), { fsync: "never" }),
      origin: "c@2",
    });
    wire([a, b, c]);
    await a.cache.set("after", "1");
    // c's old origin holds nothing live and went silent: forgotten everywhere, and not
    // learnt back from a node that forgets it later
    await waitFor(
      () =>
        [a, b, c].every((l) => JSON.stringify(Object.fromEntries(l.heads())) === '{"a":2}') &&
        [b, c].every((l) => l.cacheDigest() === a.cacheDigest()),
      "c back in sync",
      30_000,
    );
    const dropped = [a, b, c].map((l) => l.stats().compaction.originsDropped);
    await sleep(HORIZON * 3);
    for (const l of [a, b, c]) assert.equal(l.heads().has("c"), false, `${l.name} learnt c back`);
    assert.deepEqual([a, b, c].map((l) => l.stats().compaction.originsDropped), dropped);
    for (const l of [a, b, c]) assert.equal(l.cache.has("k"), false, `${l.name} resurrected k`);
    assert.equal(c.cache.getText("after"), "1");
  });

  it("a node joining after the horizon takes in keys older than it", async () => {
    const a = await node("a");
    for (let i = 0; i < 50; i++) await a.cache.set(`old${i}`, "v");
    await a.appendText("plain");
    await sleep(HORIZON + 200);
    const d = await node("d");
    wire([a, d]);
    await waitFor(() => d.cache.entries().length === 50, "joiner has the old keys");
    assert.equal(d.cacheDigest(), a.cacheDigest());
    assert.equal(d.stats().compaction.staleRefused, 0);
  });

  it("restarts on the memory store do not accumulate origins; a silent empty origin is forgotten", async () => {
    const b = await node("b");
    for (let run = 1; run <= 5; run++) {
      const a = await node("a", { origin: `a@${(1000 + run).toString(36)}` });
      wire([a, b]);
      for (let i = 0; i < 10; i++) await a.cache.set(`k${i}`, `run ${run}`);
      await waitFor(() => b.cache.getText("k9") === `run ${run}`, `run ${run} replicated`);
      await a.close();
      logs.splice(logs.indexOf(a), 1);
    }
    await waitFor(() => b.stats().memory.origins === 1, "retired runs forgotten", 10_000);
    const last = `a@${(1005).toString(36)}`;
    assert.deepEqual([...b.heads().keys()], [last]);
    assert.equal(b.stats().memory.heldEntries, 10);
    assert.ok(b.stats().compaction.originsDropped >= 4);
    // the last run's keys are overwritten by b: its origin holds nothing and goes silent
    for (let i = 0; i < 20; i++) await b.cache.set(`k${i % 10}`, "from b");
    await waitFor(() => !b.heads().has(last), "silent empty origin forgotten", 10_000);
    assert.equal(b.stats().memory.heldEntries, 10);
  });

  it("a retired origin forgotten at different times on two replicas is not learnt back", async () => {
    // a checks every 40 ms, b every 800 ms: a forgets the retired run long before b does, and
    // b's digests still list it meanwhile
    const a = await node("a", { tuning: memTuning({ garbageRatio: 0 }) });
    const b = await node("b", { tuning: memTuning({ garbageRatio: 0, checkIntervalMs: 800 }) });
    const run1 = await node("x", { origin: "x@1" });
    wire([a, b, run1]);
    for (let i = 0; i < 10; i++) await run1.cache.set(`k${i}`, "run 1");
    await waitFor(() => converged([a, b, run1], { "x@1": 10 }), "run 1 replicated");
    await run1.close();
    logs.splice(logs.indexOf(run1), 1);
    const run2 = await node("x", { origin: "x@2", tuning: memTuning({ garbageRatio: 0 }) });
    wire([a, b, run2]);
    for (let i = 0; i < 10; i++) await run2.cache.set(`k${i}`, "run 2");
    await waitFor(() => !a.heads().has("x@1"), "a forgets the retired run");
    assert.ok(b.heads().has("x@1"), "b forgot it as early as a: the case did not happen");
    await waitFor(() => !b.heads().has("x@1"), "b forgets the retired run");
    await sleep(testTuning.syncIntervalMs * 4);
    for (const l of [a, b, run2]) {
      assert.deepEqual([...l.heads().keys()], ["x@2"], `${l.name} holds ${[...l.heads().keys()]}`);
      assert.ok(l.stats().compaction.originsDropped <= 1, `${l.name} forgot x@1 more than once`);
    }
    assert.equal(a.stats().compaction.originsDropped, 1);
  });

  it("an expired value announces its expiry once: on the sweep, or on arrival if it hides one", () => {
    let now = 1000;
    const state = new LwwState(() => now);
    const events: string[] = [];
    state.listen((c) =>
      events.push(`${c.key}:${c.expired ? "expired" : c.deleted ? "deleted" : "set"}`)
    );
    const e = (key: string, seq: number, wall: number, ttl?: number): Entry => ({
      origin: "a",
      seq,
      ts: { wall, logical: 0 },
      key,
      value: new Uint8Array([1]),
      tombstone: false,
      ...(ttl === undefined ? {} : { ttl }),
    });
    const live = e("s", 1, 990, 100);
    state.apply(live);
    now = 2000;
    assert.ok(state.remove(live));
    assert.equal(state.remove(live), false);
    // arrives already expired on a fresh key: silent, and silent when swept
    const late = e("t", 2, 10, 5);
    state.apply(late);
    assert.ok(state.remove(late));
    // arrives expired over a visible value: announced once, not again by the sweep
    state.apply(e("u", 3, 1990));
    const hiding = e("u", 4, 1995, 1);
    state.apply(hiding);
    assert.ok(state.remove(hiding));
    assert.deepEqual(events, ["s:set", "s:expired", "u:set", "u:expired"]);
    assert.equal(state.size, 0);
    assert.equal(state.liveBytes, 0);
  });

  it("retiredRuns picks all but the newest run per name", () => {
    assert.deepEqual([...retiredRuns(["a@k1", "a@k2", "b", "c@zz", "a@k0"])].sort(), [
      "a@k0",
      "a@k1",
    ]);
  });

  it("file store: a sliced rewrite with appends in between survives a crash at any step", async () => {
    const ts = { wall: 1, logical: 0 };
    const entry = (seq: number): Entry => ({
      origin: "a",
      seq,
      ts: { ...ts, logical: seq },
      key: `k${seq % 1000}`,
      value: new TextEncoder().encode(`v${seq}`),
      tombstone: false,
    });
    const winner = (e: Entry, head: number) => e.seq > head - 1000;
    // steps of 50: 80 steps compact memory (4,000 entries), then ~20 write the base
    for (const crashAt of [40, 85, 95, Infinity]) {
      const dir = freshDir();
      const opts = { fsync: "never" as const, rewriteSlackBytes: 0, segmentBytes: 4096 };
      const s1 = await FileLogStore.open(dir, opts);
      let seq = 0;
      for (; seq < 4000; seq++) await s1.append([entry(seq + 1)]);
      const head = seq;
      const job = s1.startCompaction(new Map(s1.heads()), (e) => winner(e, head));
      let steps = 0;
      let done = false;
      while (!done && steps < crashAt) {
        done = job.step(50);
        steps++;
        await s1.append([entry(++seq)]); // appends between steps go to the next segment
      }
      const rewriting = readdirSync(dir).some((n) => n.endsWith(".tmp"));
      assert.equal(rewriting, crashAt === 85 || crashAt === 95, `rewriting at step ${crashAt}`);
      if (crashAt === Infinity) await s1.close(); // else: abandoned mid-rewrite, like a crash
      const s2 = await FileLogStore.open(dir, opts);
      const all = await s2.read("a", 1, 10_000);
      assert.equal(s2.heads().get("a"), seq, `crash at step ${crashAt}`);
      // every entry appended after the compaction started, and every winner, is there
      const held = new Set(all.map((e) => e.seq));
      for (let i = head - 9; i <= seq; i++) {
        assert.ok(held.has(i), `seq ${i} lost (step ${crashAt})`);
      }
      if (crashAt === Infinity) assert.equal(all.length, 1000 + (seq - head));
      await s2.close();
      if (crashAt !== Infinity) await s1.close();
    }
  });

  it("file store: disk stays bounded and recovery is correct after many compactions", async () => {
    const dir = freshDir();
    const open = () =>
      FileLogStore.open(dir, { fsync: "never", rewriteSlackBytes: 4096, segmentBytes: 16_384 });
    let log = await isolated(await open());
    let maxDisk = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) {
        void log.cache.set(`k${i % 50}`, `r${round} ${i}`, { ack: "none" });
      }
      await log.appendText(`plain ${round}`);
      await sleep(60);
      maxDisk = Math.max(maxDisk, log.stats().memory.diskBytes ?? 0);
    }
    await waitFor(() => log.stats().memory.heldEntries <= 120, "compacted");
    const digest = log.cacheDigest();
    const heads = JSON.stringify([...log.heads()]);
    const held = log.stats().memory.heldEntries;
    assert.ok(log.stats().compaction.runs > 3);
    // 10,000 writes of ~40 bytes; never more than a few rewrites' worth on disk
    assert.ok(maxDisk < 200_000, `disk reached ${maxDisk}`);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    log = await isolated(await open());
    assert.equal(log.cacheDigest(), digest);
    assert.equal(JSON.stringify([...log.heads()]), heads);
    assert.ok(log.stats().memory.heldEntries <= held + 100);
    await log.cache.set("k0", "after restart");
    assert.equal(log.cache.getText("k0"), "after restart");
  });
});
