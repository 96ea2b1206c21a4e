// Interop with a real hashicorp/memberlist v0.2.2 node (Debian's package), over real sockets
// on 127.0.0.1. Both sides run the same shortened timings.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Keyring, type Member, Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { formatHostPort, nodeNetwork } from "../transport/mod.ts";
import { presets } from "../presets/mod.ts";
import { type GoPeer, startGoPeer, stopAllPeers } from "../testing/go_peer.ts";

// DefaultLocalConfig, sped up: with 2-4 nodes suspicion lasts 0.6 s (confirmed) to 3.6 s.
const FAST: MemberlistTuning = {
  ...presets.local.memberlist,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  gossipIntervalMs: 50,
  suspicionMult: 3,
  pushPullIntervalMs: 2000,
  gossipToTheDeadMs: 3000,
};

const DEAD_WAIT_MS = 20_000; // generous: only to avoid hangs
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Ours {
  ml: Memberlist;
  events: { kind: string; member: Member; at: number }[];
  msgs: string[];
}

const ours: Ours[] = [];

async function startOurs(
  name: string,
  extra: { keyring?: Keyring; meta?: string } = {},
): Promise<Ours> {
  const o: Ours = { ml: undefined as unknown as Memberlist, events: [], msgs: [] };
  o.ml = await Memberlist.create({
    name,
    network: nodeNetwork,
    bind: { host: "127.0.0.1", port: 0 },
    tuning: FAST,
    keyring: extra.keyring,
    meta: enc.encode(extra.meta ?? ""),
    delegate: { notifyMsg: (b) => o.msgs.push(dec.decode(b)) },
  });
  for (const kind of ["join", "update", "suspect", "dead", "left"] as const) {
    o.ml.on(kind, (member) => o.events.push({ kind, member, at: Date.now() }));
  }
  ours.push(o);
  return o;
}

function addr(o: Ours): string {
  return formatHostPort(o.ml.address);
}

async function until<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function event(o: Ours, kind: string, node: string, since = 0): Promise<Member> {
  return until(
    `${o.ml.name}: ${kind} ${node}`,
    () => o.events.slice(since).find((e) => e.kind === kind && e.member.name === node)?.member,
    DEAD_WAIT_MS,
  );
}

function aliveNames(o: Ours): string[] {
  return o.ml.aliveMembers().map((m) => m.name).sort();
}

async function cleanup(): Promise<void> {
  await Promise.all(ours.splice(0).map((o) => o.ml.shutdown()));
  await stopAllPeers();
}

describe("interop with Go memberlist v0.2.2 (plaintext)", () => {
  let go1: GoPeer, go2: GoPeer, ts1: Ours, ts2: Ours;
  const ALL = ["go-1", "go-2", "ts-1", "ts-2"];

  before(async () => {
    [go1, ts1, ts2] = await Promise.all([
      startGoPeer({ name: "go-1", tuning: FAST, meta: "lang=go" }),
      startOurs("ts-1", { meta: "lang=ts" }),
      startOurs("ts-2"),
    ]);
  });
  after(cleanup);

  it("ours joins Go: both sides see each other with meta and address", async () => {
    const r = await ts1.ml.join([go1.address]);
    assert.equal(r.joined, 1);
    const seen = await go1.waitFor((e) => e.event === "join" && e.node === "ts-1", 5000);
    assert.equal(seen.addr, addr(ts1));
    assert.equal(seen.meta, "lang=ts");
    const g = await event(ts1, "join", "go-1");
    assert.equal(dec.decode(g.meta), "lang=go");
    assert.equal(formatHostPort(g.address), go1.address);
    assert.deepEqual(g.protocol, { min: 1, max: 5, current: 2 });
  });

  it("Go joins ours", async () => {
    go2 = await startGoPeer({ name: "go-2", tuning: FAST, join: [addr(ts2)] });
    const res = await go2.waitFor((e) => e.event === "result" && e.cmd === "join", 5000);
    assert.equal(res.count, 1, String(res.error));
    await event(ts2, "join", "go-2");
    await go2.waitFor((e) => e.event === "join" && e.node === "ts-2", 5000);
  });

  it("2 Go + 2 ours converge to four alive members everywhere", async () => {
    const r = await ts1.ml.join([addr(ts2)]);
    assert.equal(r.joined, 1);
    for (const o of [ts1, ts2]) {
      await until(`${o.ml.name} sees 4`, () => aliveNames(o).join() === ALL.join(), 10_000);
    }
    for (const g of [go1, go2]) {
      const ms = await g.waitForMembers((ms) => ms.length === 4, 10_000);
      assert.deepEqual(ms.map((m) => m.name).sort(), ALL);
    }
  });

  it("meta updates travel both ways", async () => {
    const m1 = ts2.events.length;
    await ts1.ml.updateMeta(enc.encode("lang=ts;v=2"));
    const up = await go2.waitFor((e) => e.event === "update" && e.node === "ts-1", 5000);
    assert.equal(up.meta, "lang=ts;v=2");
    await go1.setMeta("lang=go;v=2");
    const m = await event(ts2, "update", "go-1", m1);
    assert.equal(dec.decode(m.meta), "lang=go;v=2");
  });

  it("reliable user messages travel both ways", async () => {
    await ts1.ml.sendReliable("go-2", enc.encode("ts-to-go"));
    const msg = await go2.waitFor((e) => e.event === "msg", 5000);
    assert.equal(msg.data, "ts-to-go");
    await go1.send("ts-2", "go-to-ts");
    await until("ts-2 got the message", () => ts2.msgs.includes("go-to-ts"), 5000);
  });

  it("a SIGKILLed Go node is declared dead by ours (and by Go)", async () => {
    const marks = [ts1.events.length, ts2.events.length];
    await go2.kill();
    await Promise.all([event(ts1, "dead", "go-2", marks[0]), event(ts2, "dead", "go-2", marks[1])]);
    await go1.waitFor((e) => e.event === "leave" && e.node === "go-2", DEAD_WAIT_MS);
    assert.ok(
      !ts1.events.slice(marks[0]).some((e) => e.kind === "left" && e.member.name === "go-2"),
    );
  });

  it("a node of ours shut down without leaving is declared dead by Go", async () => {
    const mark = ts1.events.length;
    const since = go1.events.length;
    const crashDeaths = ts1.ml.counters().crashDeaths;
    await ts2.ml.shutdown();
    await go1.waitFor((e) => e.event === "leave" && e.node === "ts-2", DEAD_WAIT_MS, since);
    // a failure, not a leave: either some member suspected ts-2 first (SWIM), or ts-1 saw its
    // port refuse and declared it dead at once (the fast path for a crashed process), which Go
    // followed as an ordinary dead message
    assert.ok(
      go1.events.slice(since).some((e) => e.event === "suspect" && e.node === "ts-2") ||
        ts1.events.slice(mark).some((e) => e.kind === "suspect" && e.member.name === "ts-2") ||
        ts1.ml.counters().crashDeaths > crashDeaths,
      "death came without any suspicion and without a refusal",
    );
    await event(ts1, "dead", "ts-2", mark);
    assert.deepEqual((await go1.members()).map((m) => m.name).sort(), ["go-1", "ts-1"]);
  });

  it("our graceful leave is seen by Go as a leave, without suspicion", async () => {
    const since = go1.events.length;
    await ts1.ml.leave(3000);
    await go1.waitFor((e) => e.event === "leave" && e.node === "ts-1", 5000, since);
    assert.ok(!go1.events.slice(since).some((e) => e.event === "suspect" && e.node === "ts-1"));
    assert.deepEqual((await go1.members()).map((m) => m.name), ["go-1"]);
  });
});

describe("interop with Go memberlist v0.2.2 (encrypted)", () => {
  after(cleanup);

  it("with one shared 32-byte key the mixed cluster forms and detects a death", async () => {
    const key = new Uint8Array(randomBytes(32));
    const [g1, t1, t2] = await Promise.all([
      startGoPeer({ name: "kgo-1", tuning: FAST, key }),
      startOurs("kts-1", { keyring: await Keyring.create([key]) }),
      startOurs("kts-2", { keyring: await Keyring.create([key]) }),
    ]);
    assert.equal((await t1.ml.join([g1.address])).joined, 1);
    const g2 = await startGoPeer({ name: "kgo-2", tuning: FAST, key, join: [addr(t2)] });
    assert.equal((await g2.waitFor((e) => e.event === "result", 5000)).count, 1);
    assert.equal((await t2.ml.join([addr(t1)])).joined, 1);
    const all = ["kgo-1", "kgo-2", "kts-1", "kts-2"];
    for (const o of [t1, t2]) {
      await until(`${o.ml.name} sees 4`, () => aliveNames(o).join() === all.join(), 10_000);
    }
    for (const g of [g1, g2]) await g.waitForMembers((ms) => ms.length === 4, 10_000);
    assert.equal(t1.ml.counters().rejected, 0);
    // failure detection runs over encrypted UDP too
    const mark = t1.events.length;
    await g2.kill();
    await event(t1, "dead", "kgo-2", mark);
    await g1.waitFor((e) => e.event === "leave" && e.node === "kgo-2", DEAD_WAIT_MS);
  });

  it("with different keys no cluster forms and our side counts the rejected traffic", async () => {
    const [g, t] = await Promise.all([
      startGoPeer({ name: "xgo", tuning: FAST, key: new Uint8Array(randomBytes(32)) }),
      startOurs("xts", { keyring: await Keyring.create([new Uint8Array(randomBytes(32))]) }),
    ]);
    const before = t.ml.counters().rejected;
    // Go dials us: its encrypted push/pull fails to decrypt here
    const r = await g.join(addr(t));
    assert.equal(r.count, 0);
    await until("rejections counted", () => t.ml.counters().rejected > before, 5000);
    // we dial Go: it cannot read ours either
    await assert.rejects(t.ml.join([g.address], { timeoutMs: 2000 }));
    assert.deepEqual(aliveNames(t), ["xts"]);
    assert.deepEqual((await g.members()).map((m) => m.name), ["xgo"]);
    assert.ok(!t.events.some((e) => e.kind === "join" && e.member.name === "xgo"));
  });

  it("a plaintext Go node cannot join an encrypted node of ours", async () => {
    const [g, t] = await Promise.all([
      startGoPeer({ name: "pgo", tuning: FAST }),
      startOurs("ets", { keyring: await Keyring.create([new Uint8Array(randomBytes(16))]) }),
    ]);
    const before = t.ml.counters().rejected;
    const r = await g.join(addr(t));
    assert.equal(r.count, 0);
    await until("rejections counted", () => t.ml.counters().rejected > before, 5000);
    assert.deepEqual(aliveNames(t), ["ets"]);
  });
});
