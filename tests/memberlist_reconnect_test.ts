/**
 * Unit tests of the partition-heal and anti-resurrection parts of memberlist: the Serf-style
 * reconnector (reconnect.ts), tombstones and direct accusations (tombstone.ts), and the
 * member table's use of them (stale alives refused and answered, revivals verified).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Awareness } from "../memberlist/awareness.ts";
import type { MemberlistTuning } from "../memberlist/config.ts";
import type { Core } from "../memberlist/core.ts";
import { Counters } from "../memberlist/counters.ts";
import type { Alive, Message } from "../memberlist/wire/messages.ts";
import { Reconnector } from "../memberlist/reconnect.ts";
import { MemberTable, NodeStateCode, type StateEnv } from "../memberlist/state.ts";
import { TimerSet } from "../memberlist/timers.ts";
import { Tombstones } from "../memberlist/tombstone.ts";
import { DirectContact } from "../memberlist/accusation.ts";
import { seededRandom } from "../transport/sim/random.ts";
import type { HostPort } from "../transport/types.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";
import { presets } from "../presets/mod.ts";

const tuning: MemberlistTuning = presets.lan.memberlist;

const VSN = Uint8Array.of(1, 5, 2, 0, 0, 0);
function alive(node: string, incarnation: number, last = 2): Alive {
  return {
    incarnation,
    node,
    addr: Uint8Array.of(10, 0, 0, last),
    port: 7946,
    meta: null,
    vsn: VSN,
  };
}

interface Harness {
  clock: VirtualClock;
  table: MemberTable;
  events: string[];
  broadcasts: Message[];
  accused: { to: string; msg: Message }[];
  verifies: { node: string; done: (ok: boolean) => void }[];
}

function harness(over: Partial<MemberlistTuning> = {}, withVerify = true): Harness {
  const clock = new VirtualClock(1_000_000);
  const h: Harness = {
    clock,
    table: null as unknown as MemberTable,
    events: [],
    broadcasts: [],
    accused: [],
    verifies: [],
  };
  const env: StateEnv = {
    clock,
    name: "self",
    tuning: { ...tuning, ...over },
    awareness: new Awareness(8),
    random: seededRandom(3),
    broadcast: (_node, msg) => h.broadcasts.push(msg),
    emit: (ev, rec) => h.events.push(`${ev} ${rec.name}`),
    warn: () => {},
    sendDirect: (addr, port, msg) => h.accused.push({ to: `${addr.join(".")}:${port}`, msg }),
    verify: withVerify ? (_a, _p, node, done) => h.verifies.push({ node, done }) : undefined,
  };
  h.table = new MemberTable(env);
  h.table.setAlive(Uint8Array.of(10, 0, 0, 1), 7946, new Uint8Array(0), VSN);
  return h;
}

// b alive at incarnation `inc`, then declared dead, then (optionally) reaped.
function killB(h: Harness, inc: number, reap: boolean): void {
  h.table.aliveNode(alive("b", inc), false);
  h.table.deadNode({ incarnation: inc, node: "b", from: "x" });
  if (reap) {
    h.clock.advance(31_000);
    h.table.resetNodes();
    assert.equal(h.table.byName.get("b"), undefined, "reaped");
  }
  h.events.length = 0;
  h.broadcasts.length = 0;
}

describe("tombstones", () => {
  it("refuse alives at or below the buried incarnation, forget on a newer one", () => {
    const t = new Tombstones(() => 60_000);
    t.bury("b", 5, 0);
    assert.equal(t.refuses("b", 3), true);
    assert.equal(t.refuses("b", 5), true);
    assert.equal(t.refuses("c", 1), false);
    assert.equal(t.refuses("b", 6), false);
    assert.equal(t.size, 0, "a newer alive removed the tombstone");
  });

  it("expire after keepMs", () => {
    const t = new Tombstones(() => 60_000);
    t.bury("b", 1, 0);
    t.bury("c", 1, 30_000);
    t.prune(60_000);
    assert.equal(t.incarnationOf("b"), undefined);
    assert.equal(t.incarnationOf("c"), 1);
  });
});

describe("direct contact", () => {
  it("rate-limits packets per member to one per probe interval, and forgets old contacts", () => {
    const clock = new VirtualClock();
    const sent: string[] = [];
    const contact = new DirectContact({
      clock,
      tuning: { ...presets.lan.memberlist, probeIntervalMs: 1000 },
      sendDirect: (_addr, port, msg) => sent.push(`${port} ${msg.type}`),
    });
    assert.equal(contact.mayContact("b"), true);
    clock.advance(999);
    assert.equal(contact.mayContact("b"), false);
    assert.equal(contact.mayContact("c"), true);
    clock.advance(1);
    assert.equal(contact.mayContact("b"), true);
    const alive: Alive = {
      incarnation: 2,
      node: "d",
      addr: Uint8Array.of(10, 0, 0, 4),
      port: 4,
      meta: null,
      vsn: new Uint8Array(6),
    };
    const dead: Message = { type: "dead", body: { incarnation: 3, node: "d", from: "a" } };
    assert.equal(contact.accuse(alive, dead), true);
    assert.equal(contact.accuse(alive, dead), false, "rate-limited");
    assert.deepEqual(sent, ["4 dead"]);
    assert.equal(contact.size, 3);
    clock.advance(4000);
    contact.prune(5000);
    assert.equal(contact.size, 3, "contacts younger than 5 s are kept");
    clock.advance(999); // now 5999: c (contacted at 999) is 5 s old, b and d (1000) are not
    contact.prune(5000);
    assert.equal(contact.size, 2);
  });
});

describe("member table: stale alives and revivals", () => {
  it("a stale alive about a reaped member is refused, accused and re-gossiped (memberlist#312)", () => {
    const h = harness();
    killB(h, 4, true);
    h.table.aliveNode(alive("b", 4), false); // replayed by a member that missed the death
    assert.equal(h.table.byName.get("b"), undefined, "not revived");
    assert.deepEqual(h.events, []);
    assert.equal(h.accused.length, 1);
    assert.equal(h.accused[0].to, "10.0.0.2:7946");
    assert.deepEqual(h.accused[0].msg, {
      type: "dead",
      body: { incarnation: 4, node: "b", from: "self" },
    });
    assert.deepEqual(h.broadcasts, [h.accused[0].msg]);
    h.table.aliveNode(alive("b", 2), false); // within the same probe interval: no new packet
    assert.equal(h.accused.length, 1);
    h.clock.advance(1000);
    h.table.aliveNode(alive("b", 2), false);
    assert.equal(h.accused.length, 2);
  });

  it("a restarted member's low alive gets the accusation it must refute (memberlist#311)", () => {
    const h = harness();
    killB(h, 9, false);
    h.table.aliveNode(alive("b", 1), false);
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.dead);
    assert.deepEqual(h.accused.map((a) => a.msg), [{
      type: "dead",
      body: { incarnation: 9, node: "b", from: "self" },
    }]);
    // a suspect member is told of the suspicion instead
    const s = harness();
    s.table.aliveNode(alive("c", 3, 3), false);
    s.table.suspectNode({ incarnation: 3, node: "c", from: "x" });
    s.broadcasts.length = 0;
    s.table.aliveNode(alive("c", 3, 3), false);
    assert.deepEqual(s.accused.map((a) => a.msg), [{
      type: "suspect",
      body: { incarnation: 3, node: "c", from: "self" },
    }]);
    // ...and only the member: re-gossiped, a suspect "from self" would count as an independent
    // confirmation on every other node and cut their suspicion timers to the minimum.
    assert.deepEqual(s.broadcasts, []);
    s.table.stopTimers();
  });

  it("a stale alive about a member that left is answered with its leave, not a death", () => {
    const h = harness();
    h.table.aliveNode(alive("b", 2), false);
    h.table.deadNode({ incarnation: 2, node: "b", from: "b" });
    h.broadcasts.length = 0;
    h.table.aliveNode(alive("b", 2), false);
    const left = { type: "dead", body: { incarnation: 2, node: "b", from: "b" } };
    assert.deepEqual(h.accused.map((a) => a.msg), [left]);
    assert.deepEqual(h.broadcasts, [left]);
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.left);
  });

  it("a refutation, and any later accusation of the out-bid incarnation, reach the accuser", () => {
    const h = harness();
    h.table.aliveNode(alive("b", 1), false);
    h.broadcasts.length = 0;
    h.table.suspectNode({ incarnation: 1, node: "self", from: "b" }); // refuted: now at 2
    const inc = h.table.self()!.incarnation;
    assert.ok(inc >= 2);
    // the refutation is gossiped, and sent to the accuser, whom gossip might miss
    assert.deepEqual(h.broadcasts.map((m) => m.type), ["alive"]);
    assert.deepEqual(h.accused.map((a) => [a.to, a.msg]), [["10.0.0.2:7946", h.broadcasts[0]]]);
    h.accused.length = 0;
    h.broadcasts.length = 0;
    h.clock.advance(1000);
    // b missed the refutation and accuses the old incarnation again (e.g. its buddy ping)
    h.table.suspectNode({ incarnation: 1, node: "self", from: "b" });
    assert.equal(h.accused.length, 1);
    assert.equal(h.accused[0].to, "10.0.0.2:7946");
    const msg = h.accused[0].msg;
    assert.equal(msg.type, "alive");
    assert.equal(msg.type === "alive" && msg.body.incarnation, inc, "no new incarnation");
    assert.equal(h.table.self()!.incarnation, inc);
    assert.deepEqual(h.broadcasts, [], "nothing gossiped");
    // once per probe interval per accuser, deaths alike; unknown accusers get nothing
    h.table.deadNode({ incarnation: 1, node: "self", from: "b" });
    assert.equal(h.accused.length, 1);
    h.clock.advance(1000);
    h.table.deadNode({ incarnation: 1, node: "self", from: "b" });
    assert.equal(h.accused.length, 2);
    assert.equal(h.accused[1].msg.type, "alive");
    h.table.suspectNode({ incarnation: 1, node: "self", from: "stranger" });
    assert.equal(h.accused.length, 2);
    assert.equal(h.table.self()!.state, NodeStateCode.alive);
  });

  it("a member relaying an accusation about us hears the refutation too", () => {
    const h = harness();
    h.table.aliveNode(alive("b", 1), false);
    h.table.aliveNode({ ...alive("c", 1), addr: Uint8Array.of(10, 0, 0, 3) }, false);
    // c gossips b's accusation to us
    h.table.suspectNode({ incarnation: 1, node: "self", from: "b" }, {
      host: "10.0.0.3",
      port: 7946,
    });
    assert.deepEqual(h.accused.map((a) => [a.to, a.msg.type]), [
      ["10.0.0.2:7946", "alive"],
      ["10.0.0.3:7946", "alive"],
    ]);
    // an unknown relay address is ignored; the accuser is rate-limited
    h.clock.advance(1000);
    h.accused.length = 0;
    h.table.deadNode({ incarnation: 1, node: "self", from: "b" }, undefined, {
      host: "10.9.9.9",
      port: 1,
    });
    assert.deepEqual(h.accused.map((a) => a.to), ["10.0.0.2:7946"]);
  });

  it("a higher alive about a dead member is believed only once the member answers a ping", () => {
    const h = harness();
    killB(h, 4, false);
    h.table.aliveNode(alive("b", 5), false);
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.dead, "not yet");
    assert.equal(h.verifies.length, 1);
    h.table.aliveNode(alive("b", 5), false); // one check at a time
    assert.equal(h.verifies.length, 1);
    h.verifies[0].done(false); // a replay of state from before it died: no answer
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.dead);
    h.table.aliveNode(alive("b", 6), false);
    h.verifies[1].done(true); // it answered: a genuine refutation
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.equal(h.table.byName.get("b")?.incarnation, 6);
    assert.deepEqual(h.events, ["join b"]);
  });

  it("the same check guards a reaped member coming back with a higher incarnation", () => {
    const h = harness();
    killB(h, 4, true);
    h.table.aliveNode(alive("b", 5), false);
    assert.equal(h.table.byName.get("b"), undefined);
    h.verifies[0].done(true);
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.equal(h.table.tombstones.size, 0);
  });

  it("without a verifier (no node around the table) revivals are immediate, as in memberlist", () => {
    const h = harness({}, false);
    killB(h, 4, false);
    h.table.aliveNode(alive("b", 5), false);
    assert.equal(h.table.byName.get("b")?.state, NodeStateCode.alive);
  });
});

interface FakeCore {
  core: Core;
  clock: VirtualClock;
  joins: HostPort[];
  table: MemberTable;
}

function fakeCore(over: Partial<MemberlistTuning>, members: number): FakeCore {
  const h = harness(over);
  for (let i = 0; i < members; i++) h.table.aliveNode(alive(`m${i}`, 1, 10 + i), false);
  const joins: HostPort[] = [];
  const timers = new TimerSet(h.clock);
  const core = {
    name: "self",
    clock: h.clock,
    tuning: { ...tuning, ...over },
    timers,
    table: h.table,
    counters: new Counters(),
    random: seededRandom(7),
    isClosed: () => false,
    track: () => {},
    logger: { debug: () => {}, warn: () => {} },
  } as unknown as Core;
  return { core, clock: h.clock, joins, table: h.table };
}

describe("reconnector (Serf ReconnectInterval / ReconnectTimeout)", () => {
  it("remembers members declared dead until they come back or leave", () => {
    const f = fakeCore({}, 3);
    const r = new Reconnector(f.core, () => Promise.resolve());
    const rec = (name: string) => f.table.byName.get(name)!;
    r.observe("dead", rec("m0"));
    r.observe("dead", rec("m1"));
    r.observe("dead", rec("self"));
    assert.equal(r.size, 2, "never ourselves");
    r.observe("join", rec("m0"));
    r.observe("left", rec("m1"));
    assert.equal(r.size, 0);
  });

  it("re-joins failed members with probability failed / alive, every interval", async () => {
    const f = fakeCore({ reconnectIntervalMs: 30_000 }, 9);
    const r = new Reconnector(f.core, (to) => {
      f.joins.push(to);
      return Promise.resolve();
    });
    // 3 of 9 failed: 7 alive (ourselves included) => p = 3/7 per round
    for (const name of ["m0", "m1", "m2"]) {
      f.table.deadNode({ incarnation: 1, node: name, from: "x" });
      r.observe("dead", f.table.byName.get(name)!);
    }
    r.start();
    for (let i = 0; i < 200; i++) {
      await f.clock.advanceAsync(30_000);
      await new Promise((resolve) => setImmediate(resolve)); // the attempt settles
    }
    const rate = f.joins.length / 200;
    assert.ok(rate > 0.3 && rate < 0.56, `attempt rate ${rate}`);
    const targets = new Set(f.joins.map((j) => j.host));
    assert.deepEqual([...targets].sort(), ["10.0.0.10", "10.0.0.11", "10.0.0.12"]);
    assert.equal(f.core.counters.snapshot().reconnects, f.joins.length);
    f.core.timers.clearAll();
  });

  it("forgets failed members after the reconnect timeout", async () => {
    const f = fakeCore({ reconnectIntervalMs: 10_000, reconnectTimeoutMs: 60_000 }, 2);
    const r = new Reconnector(f.core, (to) => {
      f.joins.push(to);
      return Promise.resolve();
    });
    f.table.deadNode({ incarnation: 1, node: "m0", from: "x" });
    r.observe("dead", f.table.byName.get("m0")!);
    r.start();
    await f.clock.advanceAsync(59_000);
    assert.equal(r.size, 1);
    await f.clock.advanceAsync(11_000);
    assert.equal(r.size, 0);
    const attempts = f.joins.length;
    assert.ok(attempts > 0);
    await f.clock.advanceAsync(100_000);
    assert.equal(f.joins.length, attempts, "no attempts once forgotten");
    f.core.timers.clearAll();
  });

  it("is off with an interval of 0", async () => {
    const f = fakeCore({ reconnectIntervalMs: 0 }, 2);
    const r = new Reconnector(f.core, (to) => {
      f.joins.push(to);
      return Promise.resolve();
    });
    f.table.deadNode({ incarnation: 1, node: "m0", from: "x" });
    r.observe("dead", f.table.byName.get("m0")!);
    r.start();
    await f.clock.advanceAsync(300_000);
    assert.deepEqual(f.joins, []);
    assert.equal(f.core.timers.size, 0);
  });
});
