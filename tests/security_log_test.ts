// Attacks on the replication port with raw node:net sockets (issue 18): each is refused and
// counted, the real 2-node cluster next to it keeps replicating, and nothing acknowledged is
// lost. The attacker poses as "m", a member the nodes were told about whose real process is
// down, so the attacks are those of a key holder: no key, certificate or membership check
// would stop them; only the bounds do.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeNetwork } from "../transport/node.ts";
import { cluster } from "../cluster/cluster.ts";
import {
  type Entry,
  FileLogStore,
  type LogStore,
  type LogTuning,
  RefusedInputError,
  ReplicatedLog,
} from "../log/mod.ts";
import { encodeFrame, FrameType } from "../log/frames.ts";
import {
  encodeEntries,
  encodeHeads,
  encodeHello,
  encodeSnapshot,
  PROTOCOL_VERSION,
} from "../log/messages.ts";
import {
  addr,
  closeAll,
  headsOf,
  offsetClock,
  testTuning,
  waitFor,
} from "../testing/log_cluster.ts";
import type { Clock } from "../transport/types.ts";

const MiB = 1024 * 1024;
const enc = new TextEncoder();

/** Loopback tuning with short deadlines, so every bound trips within a second or two. */
const tight: LogTuning = {
  ...testTuning,
  maxClockOffsetMs: 300,
  maxConnections: 64,
  maxConnectionsPerAddress: 8,
  frameTimeoutMs: 600,
  idleTimeoutMs: 1_000,
  maxBufferedBytes: 8 * MiB,
  maxReplyBytes: 256 * 1024,
  maxSeqAhead: 2 ** 32,
};

let logs: ReplicatedLog[] = [];
let sockets: Socket[] = [];
let dirs: string[] = [];

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets = [];
  await closeAll(logs);
  logs = [];
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

interface Node {
  log: ReplicatedLog;
  errors: RefusedInputError[];
}

async function node(
  name: string,
  tuning: LogTuning,
  o: { clock?: Clock; store?: LogStore } = {},
): Promise<Node> {
  const errors: RefusedInputError[] = [];
  const log = await ReplicatedLog.create({
    name,
    environment: "local",
    network: nodeNetwork,
    bind: { host: "127.0.0.1", port: 0 },
    tuning,
    clock: o.clock,
    store: o.store,
    quorumTimeoutMs: 5000,
    onError: (err) => errors.push(err),
  });
  logs.push(log);
  return { log, errors };
}

// a port where nothing listens: the nodes' dials of the real "m" fail
const DOWN = { host: "127.0.0.1", port: 1 };

/**
 * The real cluster: a and b replicate; both list "m" (down) as a peer, so quorum is 2 of 3.
 * `writer` appends on both with ack "quorum" until stopped and records what was acknowledged.
 */
async function bed(tuning: LogTuning = tight) {
  const a = await node("a", tuning);
  const b = await node("b", tuning);
  a.log.setPeers([{ name: "b", address: addr(b.log) }, { name: "m", address: DOWN }]);
  b.log.setPeers([{ name: "a", address: addr(a.log) }, { name: "m", address: DOWN }]);
  await waitFor(() => a.log.connectedPeers().includes("b"), "a and b connected");
  const acked: { origin: string; seq: number; text: string }[] = [];
  let stop = false;
  const loop = async (n: Node) => {
    for (let i = 1; !stop; i++) {
      const text = `${n.log.name}-${i}`;
      const at = await n.log.cache.set(`k${i % 5}`, text, { ack: "quorum" });
      acked.push({ ...at, text });
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  const running = Promise.all([loop(a), loop(b)]);
  return {
    a,
    b,
    /** Stops the writers; asserts both kept being acknowledged, converge and hold every ack. */
    async finish(minAcksEach = 5): Promise<void> {
      const before = acked.length;
      const count = (o: string) => acked.filter((x) => x.origin === o).length;
      await waitFor(
        () => acked.length >= before + 4 && count("a") >= minAcksEach && count("b") >= minAcksEach,
        "quorum appends on both nodes go on after the attack",
      );
      stop = true;
      await running;
      await waitFor(
        () =>
          JSON.stringify(headsOf(a.log)) === JSON.stringify(headsOf(b.log)) &&
          a.log.cacheDigest() === b.log.cacheDigest(),
        "a and b converge",
      );
      for (const n of [a.log, b.log]) {
        for (const x of acked) {
          const e = await mustHold(n, x.origin, x.seq);
          assert.equal(e?.seq, x.seq, `${n.name} lost acknowledged ${x.origin}/${x.seq}`);
          assert.equal(new TextDecoder().decode(e.value), x.text);
        }
      }
    },
  };
}

/** A raw TCP connection to a log listener. */
class Raw {
  readonly sock: Socket;
  bytes = 0;
  readonly closed: Promise<void>;
  constructor(port: number, localAddress = "127.0.0.2") {
    this.sock = connect({ host: "127.0.0.1", port, localAddress });
    sockets.push(this.sock);
    this.sock.on("data", (d: Uint8Array) => (this.bytes += d.length));
    this.sock.on("error", () => {});
    this.closed = new Promise((resolve) => this.sock.on("close", () => resolve()));
  }
  get isClosed(): boolean {
    return this.sock.destroyed || this.sock.readyState === "closed";
  }
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.sock.readyState === "open") resolve();
      this.sock.once("connect", () => resolve());
      this.sock.once("error", reject);
    });
  }
  send(type: number, payload: Uint8Array): void {
    this.sock.write(encodeFrame(type, payload));
  }
  /** Handshakes as `name` (the node sends its own Hello and digest meanwhile). */
  hello(name = "m"): void {
    this.send(
      FrameType.Hello,
      encodeHello({ version: PROTOCOL_VERSION, environment: "local", name }),
    );
  }
}

function entry(origin: string, seq: number, o: Partial<Entry> = {}): Entry {
  return {
    origin,
    seq,
    ts: { wall: Date.now(), logical: 0 },
    value: enc.encode(`forged ${origin}/${seq}`),
    tombstone: false,
    ...o,
  };
}

/** The entry of `origin` at `seq`, or undefined. */
async function entryAt(
  log: ReplicatedLog,
  origin: string,
  seq: number,
): Promise<Entry | undefined> {
  for await (const e of log.read({ origin, from: seq, limit: 1 })) {
    return e.seq === seq ? e : undefined;
  }
  return undefined;
}

/** The entry of `origin` at `seq`; fails the test when it is missing. */
async function mustHold(log: ReplicatedLog, origin: string, seq: number): Promise<Entry> {
  const e = await entryAt(log, origin, seq);
  assert.ok(e, `${log.name} lacks ${origin}/${seq}`);
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    assert.ok(a.errors.some((e) => e.reason === "own-origin" && e.peer === "m"));
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
    const err = a.errors.find((e) => e.reason === "future-timestamp");
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
      () => a.errors.some((x) => x.peer === "c" && x.reason === "future-timestamp"),
      "c reported",
    );
    await waitFor(() => (a.log.heads().get("c") ?? 0) >= w.seq, "c's entry arrives", 15_000);
    assert.ok(Date.now() - early >= 1_000, "it waited for local time to catch up");
    await t.finish();
  });

  it("a file store never re-adopts a refused timestamp at restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sec-fs-"));
    dirs.push(dir);
    const a = await node("a", tight, { store: await FileLogStore.open(dir) });
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    const future = { wall: Date.now() + 3_600_000, logical: 0 };
    raw.send(FrameType.Entries, encodeEntries("zz", [entry("zz", 1, { ts: future })], false));
    await waitFor(() => a.log.stats().refusedInput["future-timestamp"] >= 1, "refused");
    await a.log.close();
    logs = logs.filter((l) => l !== a.log);
    const again = await node("a", tight, { store: await FileLogStore.open(dir) });
    assert.equal(again.log.heads().get("zz") ?? 0, 0, "the refused entry was not stored");
    const at = await again.log.appendText("after restart");
    const e = await mustHold(again.log, "a", at.seq);
    assert.ok(e.ts.wall < future.wall - 3_000_000, "the clock is not an hour ahead");
    await again.log.close();
    logs = logs.filter((l) => l !== again.log);

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
    assert.ok(a.errors.some((e) => e.reason === "conflict" && e.peer === "m" && e.origin === "b"));
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

describe("security: bounded connections", { timeout: 90_000 }, () => {
  it("500 connections from one address: the cap refuses the rest; idle ones are cut; peers are served", async () => {
    const t = await bed();
    const { a } = t;
    const port = addr(a.log).port;
    const raws = Array.from({ length: 500 }, () => new Raw(port));
    await waitFor(
      () => a.log.stats().rejectedPeers["address-limit"] >= 500 - tight.maxConnectionsPerAddress!,
      "address cap",
      20_000,
    );
    // the ones let in: silent ones die at the handshake deadline, a handshaken one when idle
    const idle = new Raw(port, "127.0.0.3");
    await idle.ready();
    idle.hello();
    idle.send(FrameType.Digest, encodeHeads([]));
    await waitFor(() => idle.isClosed, "the idle session is cut");
    assert.ok(a.log.stats().rejectedPeers.idle >= 1, "the idle session was cut");
    // a second address adds up to the total cap
    const s = a.log.stats();
    assert.ok(s.rejectedPeers["handshake-timeout"] >= 1);
    await Promise.all(raws.map((r) => r.closed));
    await t.finish();
  });

  it("the total cap holds across addresses", async () => {
    const tuning = { ...tight, maxConnections: 12, maxConnectionsPerAddress: 8 };
    const a = await node("a", tuning);
    const port = addr(a.log).port;
    for (let i = 0; i < 10; i++) new Raw(port, "127.0.0.2");
    for (let i = 0; i < 10; i++) new Raw(port, "127.0.0.4");
    await waitFor(() => a.log.stats().rejectedPeers["connection-limit"] >= 4, "total cap");
    assert.ok(a.log.stats().rejectedPeers["address-limit"] >= 2);
  });

  it("a frame announced at 16 MiB and sent at a byte per 100 ms is cut at the frame deadline", async () => {
    const t = await bed({ ...tight, maxFrameBytes: 16 * MiB });
    const raw = new Raw(addr(t.a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    const header = new Uint8Array(5);
    new DataView(header.buffer).setUint32(0, 16 * MiB);
    header[4] = FrameType.Entries;
    raw.sock.write(header);
    const drip = setInterval(() => raw.isClosed || raw.sock.write(new Uint8Array([0])), 100);
    try {
      await waitFor(() => raw.isClosed, "the slow frame is cut");
    } finally {
      clearInterval(drip);
    }
    assert.equal(t.a.log.stats().rejectedPeers["frame-timeout"], 1);
    await t.finish();
  });

  it("ten nearly complete 16 MiB frames: buffered bytes stay within the budget", async () => {
    const budget = 24 * MiB;
    const t = await bed({
      ...tight,
      maxFrameBytes: 16 * MiB,
      maxBufferedBytes: budget,
      maxConnectionsPerAddress: 16,
      connectTimeoutMs: 10_000,
      frameTimeoutMs: 20_000,
    });
    const port = addr(t.a.log).port;
    const body = new Uint8Array(16 * MiB - 1);
    new DataView(body.buffer).setUint32(0, 16 * MiB);
    body[4] = FrameType.Hello;
    const raws = Array.from({ length: 10 }, () => new Raw(port));
    for (const r of raws) r.sock.write(body);
    await waitFor(
      () => t.a.log.stats().rejectedPeers["buffer-limit"] >= 8,
      "budget enforced",
      30_000,
    );
    const s = t.a.log.stats();
    assert.ok(
      s.bufferedBytesPeak <= budget + 1 * MiB,
      `peak ${s.bufferedBytesPeak} exceeds the budget ${budget}`,
    );
    for (const r of raws) r.sock.destroy();
    await waitFor(() => t.a.log.stats().bufferedBytes === 0, "buffers released");
    await t.finish();
  });

  it("a tiny digest gets at most one reply budget; an honest late peer still catches up in full", async () => {
    const a = await node("a", tight);
    const value = new Uint8Array(1024).fill(7);
    for (let i = 0; i < 3000; i++) void a.log.append(value);
    await a.log.append(value);
    a.log.setPeers([{ name: "m", address: DOWN }]);
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([])); // 9 bytes on the wire
    await waitFor(() => a.log.stats().repliesPaused >= 1, "reply paused");
    await sleep(500);
    const got = raw.bytes;
    const bound = tight.maxReplyBytes! + tight.maxBatchBytes + 64 * 1024;
    assert.ok(got <= bound, `a 9-byte digest brought back ${got} bytes (bound ${bound})`);
    assert.ok(got > 100 * 1024, "something was sent");
    // an honest peer asks again as it reads: it gets everything
    const b = await node("b", tight);
    a.log.setPeers([{ name: "b", address: addr(b.log) }, { name: "m", address: DOWN }]);
    b.log.setPeers([{ name: "a", address: addr(a.log) }]);
    await waitFor(() => b.log.heads().get("a") === 3001, "b caught up", 30_000);
  });
});

describe("security: a cluster reports a peer's clock offset", { timeout: 60_000 }, () => {
  it("a node 1.5 s ahead: its entries wait, an error event names it and its offset, then they arrive", async () => {
    const stanza = {
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
