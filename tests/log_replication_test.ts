// Three (and more) replicated logs on real loopback sockets.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { nodeNetwork } from "../transport/node.ts";
import type { Stream, Transport } from "../transport/types.ts";
import { type Entry, QuorumError, type ReplicatedLog } from "../log/mod.ts";
import { encodeFrame, FrameType } from "../log/frames.ts";
import { encodeHello, PROTOCOL_VERSION } from "../log/messages.ts";
import {
  addr,
  closeAll,
  converged,
  headsOf,
  startLog,
  testTuning,
  waitFor,
  wanTuning,
  wire,
} from "../testing/log_cluster.ts";

let logs: ReplicatedLog[] = [];
let extras: Transport[] = [];

afterEach(async () => {
  await closeAll(logs);
  logs = [];
  await Promise.all(extras.map((t) => t.close()));
  extras = [];
});

async function start(names: string[], tuning = testTuning): Promise<ReplicatedLog[]> {
  const started = await Promise.all(names.map((n) => startLog(n, { tuning })));
  logs.push(...started);
  return started;
}

/** Appends `n` entries on `log`: unkeyed, keyed on a shared key space, and some deletes. */
async function writeMix(log: ReplicatedLog, n: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 1; i <= n; i++) {
    if (i % 7 === 0) pending.push(log.cache.delete(`k${i % 13}`));
    else if (i % 2 === 0) pending.push(log.cache.set(`k${i % 13}`, `${log.name}-${i}`));
    else pending.push(log.appendText(`${log.name} says ${i}`));
  }
  await Promise.all(pending);
}

function record(log: ReplicatedLog): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  log.subscribe((e: Entry) => {
    const list = seen.get(e.origin) ?? [];
    list.push(e.seq);
    seen.set(e.origin, list);
  });
  return seen;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

describe("isolated log", () => {
  it("works locally without network: append, quorum of one, cache, read", async () => {
    const { ReplicatedLog } = await import("../log/mod.ts");
    const log = await ReplicatedLog.create({ name: "solo", environment: "local" });
    try {
      assert.equal(log.address, undefined);
      log.setPeers([{ name: "x", address: { host: "127.0.0.1", port: 1 } }]); // ignored
      assert.equal((await log.appendJSON({ a: 1 }, { ack: "quorum" })).seq, 1);
      await log.cache.set("k", "v");
      assert.equal(log.cache.getText("k"), "v");
      const got: string[] = [];
      for await (const e of log.read({ origin: "solo" })) {
        got.push(new TextDecoder().decode(e.value));
      }
      assert.deepEqual(got, ['{"a":1}', "v"]);
    } finally {
      await log.close();
    }
  });
});

describe("replicated log on loopback", () => {
  it("appends on each of 3 nodes converge: equal heads, equal cache digests, exactly-once subscribe", async () => {
    const [a, b, c] = await start(["a", "b", "c"]);
    const seen = [a, b, c].map(record);
    const iter = b.subscribe();
    wire([a, b, c]);
    await waitFor(() => [a, b, c].every((l) => l.connectedPeers().length === 2), "connections");
    await Promise.all([writeMix(a, 300), writeMix(b, 250), writeMix(c, 200)]);
    const expected = { a: 300, b: 250, c: 200 };
    await waitFor(() => converged([a, b, c], expected), "convergence");
    for (const s of seen) {
      assert.deepEqual(s.get("a"), range(300));
      assert.deepEqual(s.get("b"), range(250));
      assert.deepEqual(s.get("c"), range(200));
    }
    const fromIter = new Map<string, number[]>();
    let count = 0;
    for await (const e of iter) {
      fromIter.set(e.origin, [...(fromIter.get(e.origin) ?? []), e.seq]);
      if (++count === 750) break;
    }
    assert.deepEqual(fromIter.get("c"), range(200));
    assert.deepEqual(a.cache.entries(), c.cache.entries());
    assert.ok(a.cache.entries().length > 0);
    const st = a.stats();
    assert.equal(st.entriesAppended, 300);
    assert.equal(st.entriesApplied, 450);
    assert.ok(st.framesIn > 0 && st.bytesOut > 0);
    // read() returns the replicated log in order
    const read: number[] = [];
    for await (const e of c.read({ origin: "a", from: 101, limit: 50 })) read.push(e.seq);
    assert.deepEqual(read, range(50).map((i) => i + 100));
  });

  it("converges in batched, compressed (wan) mode", async () => {
    const [a, b, c] = await start(["a", "b", "c"], wanTuning);
    wire([a, b, c]);
    await Promise.all([writeMix(a, 200), writeMix(b, 200), writeMix(c, 10)]);
    await waitFor(() => converged([a, b, c], { a: 200, b: 200, c: 10 }), "convergence");
  });

  it("batched mode sends at once for a waiting quorum append, and keeps batching the rest", async () => {
    // a batch window and sync interval far beyond the test: only an immediate flush delivers
    const slow = { ...wanTuning, batchWindowMs: 600_000, syncIntervalMs: 600_000 };
    const [a, b, c] = await start(["a", "b", "c"], slow);
    wire([a, b, c]);
    await waitFor(() => [a, b, c].every((l) => l.connectedPeers().length === 2), "connections");
    for (let i = 1; i <= 5; i++) {
      const at = await a.appendText(`q${i}`, { ack: "quorum", timeout: 5000 });
      assert.equal(at.seq, i);
    }
    await waitFor(() => b.heads().get("a") === 5 && c.heads().get("a") === 5, "quorum pushes");
    // an append nobody waits on stays in the batch window
    await a.appendText("lazy", { ack: "local" });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.heads().get("a"), 5);
    assert.equal(c.heads().get("a"), 5);
    // the next quorum append takes it along
    await a.appendText("q6", { ack: "quorum", timeout: 5000 });
    await waitFor(() => converged([a, b, c], { a: 7 }), "batch flushed with the quorum append");
  });

  it("quorum appends resolve with 3 up and time out with QuorumError when 2 of 3 are closed", async () => {
    const [a, b, c] = await start(["a", "b", "c"]);
    wire([a, b, c]);
    await waitFor(() => a.connectedPeers().length === 2, "connections");
    const results = await Promise.all(
      range(20).map((i) => a.appendText(`q${i}`, { ack: "quorum", timeout: 5000 })),
    );
    assert.deepEqual(results.map((r) => r.seq), range(20));
    await b.close();
    await c.close();
    await assert.rejects(
      a.appendText("lonely", { ack: "quorum", timeout: 300 }),
      (err: unknown) => {
        assert.ok(err instanceof QuorumError);
        assert.equal(err.seq, 21);
        assert.equal(err.acks, 1);
        assert.equal(err.needed, 2);
        return true;
      },
    );
    // the entry stays appended locally
    assert.equal(a.heads().get("a"), 21);
    // dropping the dead peers from the member list makes a single node its own majority
    a.setPeers([]);
    assert.equal((await a.appendText("alone", { ack: "quorum", timeout: 300 })).seq, 22);
  });

  it("a peer joining late catches up, also from behind the compaction point (snapshot)", async () => {
    const [a, b] = await start(["a", "b"]);
    wire([a, b]);
    await Promise.all([writeMix(a, 400), writeMix(b, 100)]);
    await waitFor(() => converged([a, b], { a: 400, b: 100 }), "a+b convergence");
    const [c] = await start(["c"]);
    const seenC = record(c);
    wire([a, b, c]);
    await waitFor(() => converged([a, b, c], { a: 400, b: 100 }), "late joiner");
    assert.deepEqual(seenC.get("a"), range(400));
    assert.equal(c.stats().snapshotsReceived, 0);

    // compact a and b, write more, and let d join: it must get snapshots, then the tail
    const r1 = await a.compact();
    await b.compact();
    assert.ok(r1.removed > 0);
    await Promise.all([writeMix(a, 20), writeMix(c, 5)]);
    await waitFor(() => converged([a, b, c], { a: 420, b: 100, c: 5 }), "tail after compaction");
    await c.compact();
    const [d] = await start(["d"]);
    const seenD = record(d);
    wire([a, b, c, d]);
    await waitFor(
      () => converged([a, b, c, d], { a: 420, b: 100, c: 5 }),
      "joiner behind compaction",
    );
    assert.ok(d.stats().snapshotsReceived > 0);
    // exactly once and ascending, with the holes compaction made
    const got = seenD.get("a") ?? [];
    assert.deepEqual(got, [...new Set(got)].sort((x, y) => x - y));
    assert.ok(got.includes(420) && got.length < 420);
    assert.deepEqual(d.cache.entries(), a.cache.entries());
    await d.appendText("hello from d");
    await waitFor(() => converged([a, b, c, d], { a: 420, b: 100, c: 5, d: 1 }), "d's append");
  });

  it("garbage, oversize and wrong-environment peers are cut and counted; good peers go on", async () => {
    const [a, b, c] = await start(["a", "b", "c"]);
    wire([a, b, c]);
    await waitFor(() => a.connectedPeers().length === 2, "connections");
    const client = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: false });
    extras.push(client);
    const attack = async (bytes: Uint8Array): Promise<void> => {
      const s: Stream = await client.dial(addr(a), 1000);
      try {
        await s.write(bytes).catch(() => {});
        // a closes on us: reads end with null
        while ((await s.read()) !== null) { /* drain a's Hello */ }
      } finally {
        s.close();
      }
    };
    const hello = (environment: string, name: string, version = PROTOCOL_VERSION): Uint8Array =>
      encodeFrame(FrameType.Hello, encodeHello({ version, environment, name }));
    const writes = writeMix(a, 200);
    await attack(new Uint8Array([0, 0, 0, 3, 0x42, 1, 2])); // unknown frame type
    await attack(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); // length 0x47455420
    await attack(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 3])); // oversize length
    await attack(hello("wan", "mallory"));
    await attack(hello("local", "mallory", 99));
    await attack(hello("local", "a")); // claims to be a itself
    // not a member: refused after its Hello, before the bad payload is read
    await attack(new Uint8Array([...hello("local", "mallory"), 0, 0, 0, 2, FrameType.Entries, 9]));
    await writes;
    const rejected = a.stats().rejectedPeers;
    assert.equal(rejected.garbage, 1);
    assert.equal(rejected["not-member"], 1);
    assert.equal(rejected.oversize, 2);
    assert.equal(rejected.environment, 1);
    assert.equal(rejected.version, 1);
    assert.equal(rejected.self, 1);
    await Promise.all([writeMix(b, 50), writeMix(c, 50)]);
    await waitFor(
      () => converged([a, b, c], { a: 200, b: 50, c: 50 }),
      "convergence despite attacks",
    );
    assert.deepEqual(a.connectedPeers().sort(), ["b", "c"]);
  });

  it("a node restarted without its log writes under a fresh origin; nothing is lost", async () => {
    const [a, b] = await start(["a", "b"]);
    wire([a, b]);
    for (let i = 0; i < 5; i++) await b.appendText(`old ${i}`);
    await waitFor(() => converged([a, b], { b: 5 }), "first run");
    await b.close();
    const b2 = await startLog("b", { origin: "b@2" });
    logs.push(b2);
    wire([a, b2]);
    const at = await b2.appendText("new 0");
    assert.deepEqual(at, { origin: "b@2", seq: 1 });
    await waitFor(() => converged([a, b2], { b: 5, "b@2": 1 }), "second run");
    assert.equal(b2.name, "b");
  });

  it("a silent connection is cut at the handshake deadline", async () => {
    const [a] = await start(["a"], { ...testTuning, connectTimeoutMs: 200 });
    const client = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: false });
    extras.push(client);
    const s = await client.dial(addr(a), 1000);
    while ((await s.read()) !== null) { /* a's Hello, then EOF */ }
    s.close();
    assert.equal(a.stats().rejectedPeers["handshake-timeout"], 1);
  });

  it("setPeers drops removed peers and redials re-added ones; one connection per pair", async () => {
    const [a, b, c] = await start(["a", "b", "c"]);
    wire([a, b, c]);
    await waitFor(() => [a, b, c].every((l) => l.connectedPeers().length === 2), "connections");
    a.setPeers([{ name: "b", address: addr(b) }]);
    await waitFor(() => !c.connectedPeers().includes("a"), "a-c dropped");
    assert.deepEqual(a.connectedPeers(), ["b"]);
    await a.appendText("only via b");
    await waitFor(() => c.heads().get("a") === 1, "relay through b's digest");
    wire([a, b, c]);
    await waitFor(
      () => a.connectedPeers().length === 2 && c.connectedPeers().length === 2,
      "redial",
    );
    assert.equal(a.stats().connections, 2);
    assert.deepEqual(headsOf(c), { a: 1 });
  });
});
