/**
 * Deterministic memberlist scenarios on the simulated network (VirtualClock + SimNetwork,
 * seeded): the same seed replays the same run. Tuning: the LAN preset values
 * (probe 1 s / 500 ms, 3 relays, gossip 200 ms × 3, suspicion 4 × log10(n), max ×6,
 * retransmit 4, push/pull 30 s, TCP timeout 10 s) with 1 ms links.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { SimNetwork } from "../transport/sim/network.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";
import { seededRandom } from "../transport/sim/random.ts";
import { presets } from "../presets/mod.ts";
import { MessageType } from "../memberlist/wire/messages.ts";
import type { PacketSecurity } from "../memberlist/wire/packet.ts";
import {
  encodePushPull,
  MAX_STREAM_BYTES,
  readPushPull,
  readStreamMessage,
  writeStreamMessage,
} from "../memberlist/wire/stream.ts";

const lan: MemberlistTuning = presets.lan.memberlist;

interface Sim {
  clock: VirtualClock;
  net: SimNetwork;
  nodes: Memberlist[];
  events: { t: number; node: string; ev: string; who: string }[];
}

async function cluster(n: number, seed: number, tuning: MemberlistTuning = lan): Promise<Sim> {
  const clock = new VirtualClock();
  const net = new SimNetwork({ clock, seed, link: { latencyMs: 1 } });
  const nodes: Memberlist[] = [];
  const events: Sim["events"] = [];
  for (let i = 0; i < n; i++) {
    const host = `10.0.0.${i + 1}`;
    const list = await Memberlist.create({
      name: `n${i}`,
      network: net,
      clock: net.clockFor(host),
      bind: { host, port: 7946 },
      tuning,
      random: seededRandom(seed * 1000 + i),
    });
    for (const ev of ["join", "suspect", "dead", "left"] as const) {
      list.on(ev, (m) => events.push({ t: clock.now(), node: list.name, ev, who: m.name }));
    }
    nodes.push(list);
  }
  let joined = false;
  const join = Promise.all(nodes.slice(1).map((l) => l.join([nodes[0].address]))).then(() => {
    joined = true;
  });
  while (!joined) await clock.advanceAsync(10);
  await join;
  return { clock, net, nodes, events };
}

async function runFor(sim: Sim, ms: number, step = 100): Promise<void> {
  const end = sim.clock.now() + ms;
  while (sim.clock.now() < end) await sim.clock.advanceAsync(Math.min(step, end - sim.clock.now()));
}

async function stop(sim: Sim, expectNoTimers = true): Promise<void> {
  const done = Promise.all(sim.nodes.map((n) => n.shutdown()));
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) await sim.clock.advanceAsync(10);
  await done;
  // shutdown() leaves no timer behind (a killed process's timers would stay queued).
  if (expectNoTimers) assert.equal(sim.clock.pending, 0, "timers left after shutdown");
}

describe("memberlist simulation", () => {
  it("20 nodes converge: mostly by gossip in 2 s, fully after a push/pull interval", async () => {
    const sim = await cluster(20, 1);
    try {
      await runFor(sim, 2_000);
      const known = sim.nodes.reduce((s, n) => s + n.aliveMembers().length, 0);
      assert.ok(known >= 0.9 * 400, `known pairs after 2 s: ${known}`);
      // Nodes that learnt a peer from the seed's push/pull do not re-gossip it, so a few gaps
      // of a simultaneous join are closed by anti-entropy (as in memberlist).
      await runFor(sim, 45_000);
      for (const n of sim.nodes) assert.equal(n.aliveMembers().length, 20, n.name);
    } finally {
      await stop(sim);
    }
  });

  it("20 nodes, 10% packet loss, 10 simulated minutes: nobody declared dead", async () => {
    const sim = await cluster(20, 2);
    try {
      await runFor(sim, 45_000);
      sim.net.setDefaultLink({ loss: 0.1 });
      const start = sim.events.length;
      await runFor(sim, 10 * 60_000, 500);
      const later = sim.events.slice(start);
      assert.deepEqual(later.filter((e) => e.ev === "dead"), []);
      for (const n of sim.nodes) assert.equal(n.aliveMembers().length, 20, n.name);
      const probes = sim.nodes.reduce((s, n) => s + n.counters().probesSent, 0);
      assert.ok(probes > 20 * 500, `probes ran: ${probes}`);
    } finally {
      await stop(sim);
    }
  });

  it("a node paused for 2 probe intervals causes no flapping storm", async () => {
    const sim = await cluster(20, 3);
    try {
      await runFor(sim, 45_000);
      const start = sim.events.length;
      // Ten stalls of n4 (e.g. GC pauses), 15 s apart.
      for (let i = 0; i < 10; i++) {
        sim.net.pause("10.0.0.5", 2 * lan.probeIntervalMs);
        await runFor(sim, 15_000);
      }
      await runFor(sim, 30_000);
      const later = sim.events.slice(start);
      assert.deepEqual(later.filter((e) => e.ev === "dead"), []);
      const suspects = later.filter((e) => e.ev === "suspect");
      assert.ok(suspects.length > 0, "the stalls were noticed");
      // At most one suspicion wave per stall, only about the stalled node, each refuted once.
      assert.ok(suspects.every((e) => e.who === "n4"), "only the stalled node is suspected");
      assert.ok(suspects.length <= 10 * 19, `suspect events: ${suspects.length}`);
      const refutations = sim.nodes[4].counters().refutations;
      assert.ok(refutations >= 1 && refutations <= 10, `refutations: ${refutations}`);
      assert.ok(sim.nodes.every((n) => n.healthScore() === 0), "health recovered");
      for (const n of sim.nodes) assert.equal(n.aliveMembers().length, 20, n.name);
    } finally {
      await stop(sim);
    }
  });

  it("a killed node is declared dead by everyone, then reaped", async () => {
    const sim = await cluster(10, 4);
    try {
      await runFor(sim, 45_000);
      sim.net.kill("10.0.0.10");
      const killedAt = sim.clock.now();
      await runFor(sim, 60_000);
      const others = sim.nodes.slice(0, 9);
      const deaths = sim.events.filter((e) => e.ev === "dead" && e.who === "n9");
      assert.equal(new Set(deaths.map((e) => e.node)).size, 9);
      // n = 10: suspicion min 4 s, max 24 s; plus probe rounds.
      assert.ok(deaths.every((e) => e.t - killedAt <= 40_000));
      await runFor(sim, 60_000); // past gossipToTheDead: reaped at the next probe wrap
      for (const n of others) assert.ok(!n.members().some((m) => m.name === "n9"), n.name);
      sim.nodes.pop(); // its process is gone: no shutdown
    } finally {
      await stop(sim, false);
    }
  });

  it("a push/pull answer always carries the current table, never an earlier one", async () => {
    // Each node re-sends its last push/pull body while its table is unchanged: every kind of
    // change (metadata, refutation, suspect, dead, left, reaped) must show in the next answer.
    const sim = await cluster(6, 12);
    const spy = await sim.net.bind({ host: "10.0.0.99", port: 0, packets: false });
    const settle = async <T>(p: Promise<T>): Promise<T> => {
      let done = false;
      const out = p.finally(() => (done = true));
      while (!done) await sim.clock.advanceAsync(1);
      return await out;
    };
    const sec: PacketSecurity = {
      verifyIncoming: true,
      verifyOutgoing: true,
      encryptionVersion: 1,
    };
    // What n0 sends a push/pull peer, as name -> "incarnation state meta".
    const answer = (): Promise<Map<string, string>> =>
      settle((async () => {
        const s = await spy.dial(sim.nodes[0].address, 5_000);
        try {
          const ask = encodePushPull({ join: false }, [], new Uint8Array(0));
          await writeStreamMessage(s, ask, { compress: false, ...sec });
          const { type, reader } = await readStreamMessage(s, sec, {
            maxBytes: MAX_STREAM_BYTES,
            readLabel: false,
          });
          assert.equal(type, MessageType.pushPull);
          const { nodes } = await readPushPull(reader);
          const meta = (m: Uint8Array | null) => new TextDecoder().decode(m ?? new Uint8Array(0));
          return new Map(nodes.map((n) => [n.name, `${n.incarnation} ${n.state} ${meta(n.meta)}`]));
        } finally {
          s.close();
        }
      })());
    const table = (): Map<string, string> => {
      const code = { alive: 0, suspect: 1, dead: 2, left: 3 };
      const meta = (m: Uint8Array) => new TextDecoder().decode(m);
      return new Map(
        sim.nodes[0].members().map((
          m,
        ) => [m.name, `${m.incarnation} ${code[m.state]} ${meta(m.meta)}`]),
      );
    };
    const seen = new Set<string>();
    const check = async (label: string): Promise<void> => {
      const got = await answer();
      assert.deepEqual(got, table(), label);
      seen.add([...got.values()].join());
    };
    try {
      await check("converged");
      await check("unchanged");
      await settle(sim.nodes[3].updateMeta(new TextEncoder().encode("zone-b")));
      await runFor(sim, 2_000);
      await check("metadata");
      // Suspected while paused, n0 refutes: its own incarnation goes up.
      const before = sim.nodes[0].localMember().incarnation;
      sim.net.pause("10.0.0.1", 4 * lan.probeIntervalMs);
      await runFor(sim, 10_000);
      assert.ok(sim.nodes[0].localMember().incarnation > before, "n0 refuted");
      await check("refuted");
      // n5's host goes silent: SWIM's path, suspect first (a crash on a live host would be
      // declared dead at once by the lan preset's deadOnRefusal, with no suspect state to check)
      sim.net.silence("10.0.0.6");
      await sim.clock.advanceAsync(0);
      const suspected = sim.clock.now();
      while (!sim.nodes[0].members().some((m) => m.name === "n5" && m.state === "suspect")) {
        await sim.clock.advanceAsync(100);
        assert.ok(sim.clock.now() - suspected < 30_000, "n5 suspected");
      }
      await check("suspect");
      while (!sim.nodes[0].members().some((m) => m.name === "n5" && m.state === "dead")) {
        await sim.clock.advanceAsync(100);
      }
      await check("dead");
      await settle(sim.nodes[4].leave(5_000));
      await runFor(sim, 1_000);
      assert.ok(sim.nodes[0].members().some((m) => m.name === "n4" && m.state === "left"));
      await check("left");
      await runFor(sim, 90_000); // past gossipToTheDead: reaped at a probe wrap
      assert.ok(!sim.nodes[0].members().some((m) => m.name === "n5"), "n5 reaped");
      await check("reaped");
      assert.equal(seen.size, 7, "every step changed the answer");
      await settle(sim.nodes[4].shutdown());
      sim.nodes.splice(4, 2); // n4 is shut down, n5's process is gone
    } finally {
      spy.close();
      await stop(sim, false);
    }
  });

  it("is deterministic for a seed", async () => {
    const trace = async (): Promise<string> => {
      const sim = await cluster(8, 9);
      sim.net.setDefaultLink({ loss: 0.2 });
      await runFor(sim, 30_000);
      const out = JSON.stringify(sim.events) +
        JSON.stringify(sim.nodes.map((n) => n.counters().messagesOut));
      await stop(sim);
      return out;
    };
    assert.equal(await trace(), await trace());
  });
});
