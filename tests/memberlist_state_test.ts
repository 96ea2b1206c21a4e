import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemberTable, NodeStateCode, type StateEnv, toMember } from "../memberlist/state.ts";
import { Awareness } from "../memberlist/awareness.ts";
import { kRandomNodes } from "../memberlist/sample.ts";
import type { MemberlistTuning } from "../memberlist/config.ts";
import type { Alive, Message } from "../memberlist/wire/messages.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";

const tuning: MemberlistTuning = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 200,
  indirectChecks: 1,
  gossipIntervalMs: 100,
  gossipNodes: 3,
  gossipToTheDeadMs: 15_000,
  suspicionMult: 3,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 2,
  pushPullIntervalMs: 15_000,
  tcpTimeoutMs: 1000,
  awarenessMaxMultiplier: 8,
  udpBufferSize: 1400,
  disableTcpPings: false,
  deadNodeReclaimMs: 0,
  reconnectIntervalMs: 30_000, // Serf's defaults, as the presets have them
  reconnectTimeoutMs: 24 * 3600_000,
  deadOnRefusal: false, // memberlist's behaviour; the fast path has tests of its own
  refusalWindowMs: 150,
};

const VSN = Uint8Array.of(1, 5, 2, 0, 0, 0);

function setup(over: Partial<MemberlistTuning> = {}) {
  const clock = new VirtualClock(1_000_000);
  const events: [string, string][] = [];
  const sent: { node: string; msg: Message; done?: () => void }[] = [];
  let refutes = 0;
  let seed = 1;
  const env: StateEnv = {
    clock,
    name: "self",
    tuning: { ...tuning, ...over },
    awareness: new Awareness(8),
    random: () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    },
    broadcast: (node, msg, done) => sent.push({ node, msg, done }),
    emit: (ev, rec) => events.push([ev, rec.name]),
    warn: () => {},
    onRefute: () => refutes++,
  };
  const table = new MemberTable(env);
  table.setAlive(Uint8Array.of(127, 0, 0, 1), 7000, new Uint8Array(0), VSN);
  events.length = 0;
  sent.length = 0;
  return { clock, events, sent, table, env, refutes: () => refutes };
}

function alive(node: string, inc: number, port = 7001, meta: Uint8Array | null = null): Alive {
  return { incarnation: inc, node, addr: Uint8Array.of(127, 0, 0, 1), port, meta, vsn: VSN };
}

describe("MemberTable alive handling", () => {
  it("adds a new node as a join and re-broadcasts", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    const rec = s.table.byName.get("b");
    assert.equal(rec?.state, NodeStateCode.alive);
    assert.deepEqual(s.events, [["join", "b"]]);
    assert.equal(s.sent.length, 1);
    assert.equal(s.sent[0].msg.type, "alive");
    assert.equal(s.table.numNodes, 2);
    const m = toMember(rec!);
    assert.deepEqual(m.address, { host: "127.0.0.1", port: 7001 });
    assert.deepEqual(m.protocol, { min: 1, max: 5, current: 2 });
  });
  it("drops alive messages with an incarnation not newer than known", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 3), false);
    s.table.aliveNode(alive("b", 3, 7001, Uint8Array.of(1)), false);
    s.table.aliveNode(alive("b", 2, 7001, Uint8Array.of(1)), false);
    assert.equal(s.table.byName.get("b")?.meta.length, 0);
    assert.equal(s.sent.length, 1);
  });
  it("emits update on a metadata change", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.aliveNode(alive("b", 2, 7001, Uint8Array.of(9)), false);
    assert.deepEqual(s.events, [["join", "b"], ["update", "b"]]);
    assert.deepEqual([...s.table.byName.get("b")!.meta], [9]);
  });
  it("ignores alive messages with invalid protocol versions", () => {
    const s = setup();
    s.table.aliveNode({ ...alive("b", 1), vsn: Uint8Array.of(0, 5, 2, 0, 0, 0) }, false);
    s.table.aliveNode({ ...alive("c", 1), vsn: Uint8Array.of(3, 2, 2, 0, 0, 0) }, false);
    assert.equal(s.table.numNodes, 1);
  });
  it("refuses a conflicting address for a live node, accepts it for a left one", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.aliveNode(alive("b", 5, 7999), false);
    assert.equal(s.table.byName.get("b")?.port, 7001);
    s.table.deadNode({ incarnation: 1, node: "b", from: "b" });
    s.table.aliveNode(alive("b", 1, 7999), false); // same incarnation is fine for a new address
    assert.equal(s.table.byName.get("b")?.port, 7999);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.deepEqual(s.events.map((e) => e[0]), ["join", "left", "join"]);
  });
  it("reclaims a dead node's name only after deadNodeReclaim", () => {
    const s = setup({ deadNodeReclaimMs: 5000 });
    s.table.aliveNode(alive("b", 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "c" });
    s.table.aliveNode(alive("b", 2, 7999), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
    s.clock.advance(5001);
    s.table.aliveNode(alive("b", 2, 7999), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.equal(s.table.byName.get("b")?.port, 7999);
  });
  it("never reclaims with deadNodeReclaim 0", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "c" });
    s.clock.advance(1_000_000);
    s.table.aliveNode(alive("b", 9, 7999), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
  });
});

describe("MemberTable.holdsAlive (push/pull states dropped while decoding)", () => {
  it("accepts only alives that aliveNode would ignore, and the unchanged ones all", () => {
    const addrs = [Uint8Array.of(127, 0, 0, 1), Uint8Array.of(10, 0, 0, 2)];
    // valid, valid, invalid, none (held as zeros), zeros (invalid)
    const vsns = [
      VSN,
      Uint8Array.of(1, 5, 3, 0, 0, 0),
      Uint8Array.of(0, 5, 2, 0, 0, 0),
      new Uint8Array(0),
      new Uint8Array(6),
    ];
    let held = 0;
    fc.assert(
      fc.property(
        fc.record({
          // the record: how it got where it is
          incarnation: fc.integer({ min: 1, max: 4 }),
          state: fc.constantFrom(
            "alive",
            "alive",
            "alive",
            "alive",
            "suspect",
            "dead",
            "left",
            "unknown",
          ),
          addr: fc.integer({ min: 0, max: 1 }),
          port: fc.constantFrom(7001, 7002),
          vsn: fc.integer({ min: 0, max: 1 }),
        }),
        fc.record({
          // the alive message about it (or about us): each field the record's or another
          self: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
          incarnation: fc.integer({ min: 0, max: 5 }),
          otherAddr: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
          otherPort: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
          vsn: fc.integer({ min: 0, max: 7 }),
        }),
        (rec, drawn) => {
          const msg = {
            self: drawn.self,
            incarnation: drawn.incarnation,
            addr: drawn.otherAddr ? 1 - rec.addr : rec.addr,
            port: drawn.otherPort ? 7003 : rec.port,
            vsn: drawn.vsn <= 4 ? drawn.vsn : rec.vsn,
          };
          const s = setup();
          const warnings: string[] = [];
          s.env.warn = (m) => warnings.push(m);
          s.env.sendDirect = () => warnings.push("sendDirect");
          if (rec.state !== "unknown") {
            s.table.aliveNode({
              ...alive("b", rec.incarnation, rec.port),
              addr: addrs[rec.addr],
              vsn: vsns[rec.vsn],
            }, false);
            if (rec.state === "suspect") {
              s.table.suspectNode({ incarnation: rec.incarnation, node: "b", from: "c" });
            } else if (rec.state !== "alive") {
              const from = rec.state === "left" ? "b" : "c";
              s.table.deadNode({ incarnation: rec.incarnation, node: "b", from });
            }
          }
          const a: Alive = {
            ...alive(msg.self ? "self" : "b", msg.incarnation, msg.port),
            addr: addrs[msg.addr],
            vsn: vsns[msg.vsn],
          };
          const buf = new Uint8Array([...a.addr, ...a.vsn]);
          const holds = s.table.holdsAlive(
            a.node,
            a.incarnation,
            a.port,
            buf,
            0,
            4,
            4,
            a.vsn.length,
          );
          const unchanged = rec.state === "alive" && !msg.self &&
            msg.incarnation <= rec.incarnation &&
            msg.addr === rec.addr && msg.port === rec.port && msg.vsn === rec.vsn && rec.vsn !== 3;
          assert.equal(holds, unchanged);
          if (!holds) return;
          held++;
          const before = JSON.stringify(s.table.nodes.map(toMember));
          const version = s.table.version;
          s.events.length = 0;
          s.sent.length = 0;
          s.table.aliveNode(a, false);
          assert.deepEqual([s.events, s.sent, warnings], [[], [], []]);
          assert.equal(s.table.version, version);
          assert.equal(JSON.stringify(s.table.nodes.map(toMember)), before);
        },
      ),
      { numRuns: 3000 },
    );
    assert.ok(held > 100, `only ${held} unchanged alives drawn`);
  });
});

describe("MemberTable suspicion", () => {
  it("ignores suspicion of unknown nodes and of older incarnations", () => {
    const s = setup();
    s.table.suspectNode({ incarnation: 1, node: "zz", from: "c" });
    s.table.aliveNode(alive("b", 4), false);
    s.table.suspectNode({ incarnation: 3, node: "b", from: "c" });
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
  });
  it("suspects at an equal incarnation, then declares dead at the timeout", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.sent.length = 0;
    s.table.suspectNode({ incarnation: 1, node: "b", from: "c" });
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.suspect);
    assert.deepEqual(s.sent.map((x) => x.msg.type), ["suspect"]);
    // n = 2 (self, b): k = 0, so the timer runs for min = 3 × 1 s.
    s.clock.advance(2999);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.suspect);
    s.clock.advance(1);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
    const last = s.sent.at(-1)!;
    assert.equal(last.msg.type, "dead");
    assert.deepEqual(last.msg.body, { incarnation: 1, node: "b", from: "self" });
    assert.deepEqual(s.events.map((e) => e[0]), ["join", "suspect", "dead"]);
    assert.equal(s.clock.pending, 0);
  });
  it("re-gossips new confirmations only", () => {
    const s = setup();
    for (const n of ["b", "c", "d", "e"]) s.table.aliveNode(alive(n, 1), false);
    s.sent.length = 0;
    s.table.suspectNode({ incarnation: 1, node: "b", from: "c" });
    assert.equal(s.table.suspicionOf("b")?.wanted, 1); // n=5, k = 3 - 2
    s.table.suspectNode({ incarnation: 1, node: "b", from: "c" });
    s.table.suspectNode({ incarnation: 1, node: "b", from: "d" });
    s.table.suspectNode({ incarnation: 1, node: "b", from: "e" });
    assert.deepEqual(s.sent.map((x) => (x.msg.body as { from: string }).from), ["c", "d"]);
  });
  it("a newer alive clears the suspicion without a join event", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.suspectNode({ incarnation: 1, node: "b", from: "c" });
    s.table.aliveNode(alive("b", 2), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.equal(s.clock.pending, 0);
    s.clock.advance(60_000);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.deepEqual(s.events.map((e) => e[0]), ["join", "suspect"]);
  });
  it("suspect of a dead node is ignored", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "c" });
    s.table.suspectNode({ incarnation: 1, node: "b", from: "c" });
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
  });
});

describe("MemberTable refutation", () => {
  it("refutes a suspicion of itself past the accused incarnation", () => {
    const s = setup();
    s.table.suspectNode({ incarnation: 7, node: "self", from: "x" });
    const me = s.table.self()!;
    assert.equal(me.state, NodeStateCode.alive);
    assert.equal(me.incarnation, 8);
    assert.equal(s.env.awareness.getHealthScore(), 1);
    assert.equal(s.refutes(), 1);
    assert.equal(s.sent[0].msg.type, "alive");
    assert.equal((s.sent[0].msg.body as Alive).incarnation, 8);
  });
  it("refutes with next incarnation when the accusation is old", () => {
    const s = setup();
    s.table.suspectNode({ incarnation: 1, node: "self", from: "x" });
    assert.equal(s.table.self()!.incarnation, 2);
    s.table.deadNode({ incarnation: 2, node: "self", from: "x" });
    assert.equal(s.table.self()!.incarnation, 3);
    assert.equal(s.table.self()!.state, NodeStateCode.alive);
    assert.equal(s.refutes(), 2);
  });
  it("refutes an alive about itself that differs, ignores an identical one", () => {
    const s = setup();
    s.table.aliveNode(alive("self", 1, 7000), false);
    assert.equal(s.refutes(), 0);
    s.table.aliveNode(alive("self", 1, 7000, Uint8Array.of(1)), false);
    assert.equal(s.refutes(), 1);
    assert.equal(s.table.self()!.incarnation, 2);
    assert.equal(s.table.self()!.meta.length, 0);
  });
  it("when leaving: marks itself left, broadcasts with the finish hook, ignores alive", () => {
    const s = setup();
    s.table.leaving = true;
    let done = 0;
    s.table.deadNode({ incarnation: 1, node: "self", from: "self" }, () => done++);
    assert.equal(s.table.self()!.state, NodeStateCode.left);
    assert.equal(s.sent.length, 1);
    s.sent[0].done?.();
    assert.equal(done, 1);
    s.table.aliveNode(alive("self", 5, 7000), false);
    assert.equal(s.table.self()!.state, NodeStateCode.left);
  });
});

describe("MemberTable dead / left / reaping", () => {
  it("dead from another node is dead, from itself is left", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.aliveNode(alive("c", 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "x" });
    s.table.deadNode({ incarnation: 1, node: "c", from: "c" });
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
    assert.equal(s.table.byName.get("c")?.state, NodeStateCode.left);
    // A second dead about an already dead node does nothing.
    s.table.deadNode({ incarnation: 2, node: "b", from: "x" });
    assert.equal(s.table.byName.get("b")?.incarnation, 1);
    assert.deepEqual(s.events.map((e) => e[0]), ["join", "join", "dead", "left"]);
  });
  it("ignores dead with an older incarnation", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 5), false);
    s.table.deadNode({ incarnation: 4, node: "b", from: "x" });
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
  });
  it("a dead node comes back alive with a higher incarnation as a join", () => {
    const s = setup();
    s.table.aliveNode(alive("b", 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "x" });
    s.table.aliveNode(alive("b", 1), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.dead);
    s.table.aliveNode(alive("b", 2), false);
    assert.equal(s.table.byName.get("b")?.state, NodeStateCode.alive);
    assert.deepEqual(s.events.map((e) => e[0]), ["join", "dead", "join"]);
  });
  it("reaps dead and left nodes only after gossipToTheDead", () => {
    const s = setup();
    for (const n of ["b", "c", "d"]) s.table.aliveNode(alive(n, 1), false);
    s.table.deadNode({ incarnation: 1, node: "b", from: "x" });
    s.clock.advance(10_000);
    s.table.deadNode({ incarnation: 1, node: "c", from: "c" });
    s.clock.advance(5_001);
    s.table.resetNodes();
    assert.deepEqual(s.table.nodes.map((n) => n.name).sort(), ["c", "d", "self"]);
    s.clock.advance(10_000);
    s.table.resetNodes();
    assert.deepEqual(s.table.nodes.map((n) => n.name).sort(), ["d", "self"]);
    assert.equal(s.table.byName.size, 2);
  });
  it("anyAlive and kRandomNodes honour the filter", () => {
    const s = setup();
    assert.equal(s.table.anyAlive(), false);
    for (let i = 0; i < 40; i++) s.table.aliveNode(alive(`n${i}`, 1), false);
    assert.equal(s.table.anyAlive(), true);
    const random = (): number => s.env.random();
    const picked = kRandomNodes(
      s.table.nodes,
      3,
      (n) => n.name === "self" || n.name.endsWith("1"),
      random,
    );
    assert.equal(picked.length, 3);
    assert.equal(new Set(picked).size, 3);
    assert.ok(picked.every((n) => n.name !== "self" && !n.name.endsWith("1")));
    const small = setup();
    small.table.aliveNode(alive("only", 1), false);
    const picks = kRandomNodes(small.table.nodes, 3, (n) => n.name === "self", random);
    assert.deepEqual(picks.map((n) => n.name), [
      "only",
    ]);
  });
});
