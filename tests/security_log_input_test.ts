// Attacks on the replication port with raw node:net sockets (issue 18): each is refused and
// counted, the real 2-node cluster next to it keeps replicating, and nothing acknowledged is
// lost. The attacker poses as "m", a member the nodes were told about whose real process is
// down, so the attacks are those of a key holder: no key, certificate or membership check
// would stop them; only the bounds do.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, type ClusterStanza } from "../cluster/mod.ts";
import { FileLogStore, RefusedInputError } from "../log/mod.ts";
import { FrameType } from "../log/frames.ts";
import { encodeEntries, encodeHeads, encodeSnapshot } from "../log/messages.ts";
import { addr, offsetClock, waitFor } from "../testing/log_cluster.ts";
import {
  bed,
  cleanup,
  DOWN,
  entry,
  entryAt,
  mustHold,
  node,
  opened,
  Raw,
  tight,
} from "../testing/security_bed.ts";

afterEach(cleanup);

describe("security: input that cannot wedge a node", { timeout: 60_000 }, () => {
  it("entries and a snapshot of the node's own origin are refused and counted; appends go on", async () => {
    const t = await bed();
    const { a } = t;
    await waitFor(() => (a.log.heads().get("a") ?? 0) >= 3, "a wrote");
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    const head = a.log.heads().get("a") ?? 0;
    raw.send(FrameType.Entries, encodeEntries("a", [entry("a", head + 1)], true));
    raw.send(FrameType.Snapshot, encodeSnapshot("a", Number.MAX_SAFE_INTEGER, []));
    // a forged ack of seqs a never wrote: no quorum counts it
    raw.send(FrameType.Ack, encodeHeads([["a", head + 1000]]));
    await waitFor(() => a.log.stats().refusedInput["own-origin"] >= 2, "own-origin refused");
    await waitFor(() => a.log.stats().refusedInput["implausible-seq"] >= 1, "forged ack refused");
    assert.ok(a.errors.some((e) => e.code === "own-origin" && e.peer === "m"));
    assert.ok(a.errors.every((e) => e instanceof RefusedInputError));
    const held = await entryAt(a.log, "a", head + 1);
    assert.notEqual(
      new TextDecoder().decode(held?.value ?? new Uint8Array()),
      `forged a/${head + 1}`,
    );
    const at = await a.log.appendText("after the attack");
    assert.ok(at.seq > head && at.seq < 2 ** 40, `append still works (seq ${at.seq})`);
    await t.finish();
  });

  it("a snapshot through 2^53-1 (or 2^33) for another origin is refused; that origin still replicates", async () => {
    const t = await bed();
    const { a, b } = t;
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    raw.send(FrameType.Snapshot, encodeSnapshot("b", Number.MAX_SAFE_INTEGER, []));
    raw.send(FrameType.Snapshot, encodeSnapshot("zz", 2 ** 33, []));
    await waitFor(() => a.log.stats().refusedInput["implausible-seq"] >= 2, "snapshots refused");
    assert.ok((a.log.heads().get("b") ?? 0) < 2 ** 32);
    assert.equal(a.log.heads().get("zz") ?? 0, 0);
    const at = await b.log.appendText("b goes on", { ack: "quorum" });
    await waitFor(() => (a.log.heads().get("b") ?? 0) >= at.seq, "b's append reaches a");
    await t.finish();
  });

  it("a far-future tombstone never applies nor drags the clock; a skewed honest node is only delayed", async () => {
    const t = await bed();
    const { a, b } = t;
    await b.log.cache.set("session:42", "alice", { ack: "quorum" });
    await waitFor(() => a.log.cache.getText("session:42") === "alice", "key replicated");
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    raw.send(
      FrameType.Entries,
      encodeEntries("zz", [
        entry("zz", 1, {
          key: "session:42",
          tombstone: true,
          value: new Uint8Array(),
          ts: { wall: Number.MAX_SAFE_INTEGER, logical: 0xffff_ffff },
        }),
      ], false),
    );
    await waitFor(() => a.log.stats().refusedInput["future-timestamp"] >= 1, "refused");
    const err = a.errors.find((e) => e.code === "future-timestamp");
    assert.equal(err?.peer, "m");
    assert.ok((err?.offsetMs ?? 0) > 1e12, "the report names the offset");
    assert.equal(a.log.cache.getText("session:42"), "alice");
    assert.equal(a.log.heads().get("zz") ?? 0, 0);
    const at = await a.log.cache.set("after", "x");
    const e = await mustHold(a.log, "a", at.seq);
    assert.ok(Math.abs(e.ts.wall - Date.now()) < 60_000, "the clock did not adopt the forgery");

    // an honest node whose clock runs 1.5 s ahead: its entries wait, then arrive
    const clock = offsetClock();
    clock.offset = 1_500;
    const c = await node("c", tight, { clock });
    c.log.setPeers([{ name: "a", address: addr(a.log) }]);
    a.log.setPeers([
      { name: "b", address: addr(b.log) },
      { name: "c", address: addr(c.log) },
      { name: "m", address: DOWN },
    ]);
    const early = Date.now();
    const w = await c.log.appendText("from the future");
    await waitFor(
      () => a.errors.some((x) => x.peer === "c" && x.code === "future-timestamp"),
      "c reported",
    );
    await waitFor(() => (a.log.heads().get("c") ?? 0) >= w.seq, "c's entry arrives", 15_000);
    assert.ok(Date.now() - early >= 1_000, "it waited for local time to catch up");
    await t.finish();
  });

  it("a file store never re-adopts a refused timestamp at restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sec-fs-"));
    opened.dirs.push(dir);
    const a = await node("a", tight, { store: await FileLogStore.open(dir) });
    a.log.setPeers([{ name: "m", address: DOWN }]); // the attacker poses as a listed member
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    const future = { wall: Date.now() + 3_600_000, logical: 0 };
    raw.send(FrameType.Entries, encodeEntries("zz", [entry("zz", 1, { ts: future })], false));
    await waitFor(() => a.log.stats().refusedInput["future-timestamp"] >= 1, "refused");
    await a.log.close();
    opened.logs = opened.logs.filter((l) => l !== a.log);
    const again = await node("a", tight, { store: await FileLogStore.open(dir) });
    assert.equal(again.log.heads().get("zz") ?? 0, 0, "the refused entry was not stored");
    const at = await again.log.appendText("after restart");
    const e = await mustHold(again.log, "a", at.seq);
    assert.ok(e.ts.wall < future.wall - 3_000_000, "the clock is not an hour ahead");
    await again.log.close();
    opened.logs = opened.logs.filter((l) => l !== again.log);

    // a store that holds such an entry already (written before these checks existed): at
    // restart the clock does not adopt it, and appends keep working
    const store = await FileLogStore.open(dir);
    await store.append([
      entry("zz", 1, { key: "k", ts: { wall: Number.MAX_SAFE_INTEGER, logical: 0xffff_ffff } }),
    ]);
    const third = await node("a", tight, { store });
    assert.equal(third.log.stats().refusedInput["future-timestamp"], 1);
    const at3 = await third.log.cache.set("k2", "v");
    const e3 = await mustHold(third.log, "a", at3.seq);
    assert.ok(Math.abs(e3.ts.wall - Date.now()) < 60_000, "the clock is not dragged to 2^53-1");
  });

  it("a copy of a held (origin, seq) with other content is refused and counted; digests stay equal", async () => {
    const t = await bed();
    const { a, b } = t;
    await waitFor(() => (a.log.heads().get("b") ?? 0) >= 3, "b's entries at a");
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    raw.send(
      FrameType.Entries,
      encodeEntries("b", [entry("b", 1, { key: "k1" }), entry("b", 2), entry("b", 3)], false),
    );
    await waitFor(() => a.log.stats().refusedInput.conflict >= 3, "conflicts counted");
    assert.ok(a.errors.some((e) => e.code === "conflict" && e.peer === "m" && e.origin === "b"));
    const e1 = await mustHold(a.log, "b", 1);
    assert.equal(new TextDecoder().decode(e1.value), "b-1", "the held entry stays");
    await t.finish();
    assert.equal(a.log.cacheDigest(), b.log.cacheDigest());
  });
});

describe("security: another node's origin cannot be shadowed", { timeout: 60_000 }, () => {
  it("entries of b relayed ahead of what b reported are refused while b is connected; b's real ones win", async () => {
    const a = await node("a", tight);
    const b = await node("b", tight);
    a.log.setPeers([{ name: "b", address: addr(b.log) }, { name: "m", address: DOWN }]);
    b.log.setPeers([{ name: "a", address: addr(a.log) }, { name: "m", address: DOWN }]);
    await waitFor(() => a.log.connectedPeers().includes("b"), "a and b connected");
    for (let i = 1; i <= 3; i++) await b.log.cache.set("session:42", `alice-${i}`);
    await waitFor(() => a.log.heads().get("b") === 3, "b's entries at a");
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    // the next seq of b, before b writes it: the attack of issue 18
    raw.send(FrameType.Entries, encodeEntries("b", [entry("b", 4, { key: "session:42" })], false));
    await waitFor(() => a.log.stats().refusedInput["relay-ahead"] >= 1, "relay refused");
    assert.equal(a.log.heads().get("b"), 3);
    assert.equal(a.log.cache.getText("session:42"), "alice-3");
    const at = await b.log.cache.set("session:42", "alice-4", { ack: "quorum" });
    assert.equal(at.seq, 4);
    await waitFor(() => a.log.cache.getText("session:42") === "alice-4", "b's real seq 4 at a");
    assert.equal(a.log.cacheDigest(), b.log.cacheDigest());
    assert.equal(a.log.stats().refusedInput.conflict, 0);
  });
});

describe("security: a cluster reports a peer's clock offset", { timeout: 60_000 }, () => {
  it("a node 1.5 s ahead: its entries wait, an error event names it and its offset, then they arrive", async () => {
    const stanza: ClusterStanza = {
      environment: "local",
      bind_address: "127.0.0.1",
      bind_port: 0,
      memberlist_bind_address: "127.0.0.1",
      memberlist_bind_port: 0,
    };
    const clock = offsetClock();
    clock.offset = 1_500;
    const ahead = await cluster(stanza, { name: "ahead", clock });
    const b = await cluster({ ...stanza, members: [ahead.addresses.memberlist!] }, { name: "b" });
    try {
      const errors: Error[] = [];
      b.on("error", (err) => errors.push(err));
      await waitFor(() => b.log.connectedPeers().includes("ahead"), "log peers connected");
      const t0 = Date.now();
      await ahead.cache.set("k", "from the future");
      await waitFor(() => errors.length > 0, "error event");
      const err = errors[0];
      assert.ok(err instanceof RefusedInputError, String(err));
      assert.equal(err.peer, "ahead");
      assert.ok((err.offsetMs ?? 0) > 1_000 && (err.offsetMs ?? 0) < 2_500, `${err.offsetMs}`);
      assert.equal(b.cache.getText("k"), undefined, "not applied while ahead");
      await waitFor(() => b.cache.getText("k") === "from the future", "applied later", 20_000);
      assert.ok(Date.now() - t0 >= 1_000);
    } finally {
      await b.close();
      await ahead.close();
    }
  });
});
