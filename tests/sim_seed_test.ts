/**
 * The converged start of large simulations (memberlist/seed.ts, SimCluster.startConverged):
 * every node starts knowing every member alive, with nothing to gossip and its push/pull
 * loop staggered over the interval of a table that size, and the protocol then runs as usual
 * on top of it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pushPullScale } from "../memberlist/mod.ts";
import { MemberSeed } from "../memberlist/seed.ts";
import { LAN, SimCluster } from "../testing/sim_harness.ts";

describe("simulation: converged start", () => {
  it("starts converged and quiet, and stays converged", async () => {
    const sim = new SimCluster({ seed: 5 });
    try {
      await sim.startConverged(40);
      assert.ok(sim.converged(), "every node knows all 40 alive at t = 0");
      assert.equal(sim.lists[7]!.members().length, 40);
      assert.equal(sim.lists[7]!.numMembers(), 40);
      await sim.runFor(30_000, 500);
      assert.ok(sim.converged());
      const events = sim.events.map((e) => `${e.node} ${e.ev} ${e.who}`);
      assert.deepEqual(events, [], "no joins replayed, no suspicions");
      const refutations = sim.running().reduce((s, l) => s + l.counters().refutations, 0);
      assert.equal(refutations, 0);
    } finally {
      await sim.stop();
    }
  });

  it("staggers push/pull over the interval scaled to the seeded size", async () => {
    const n = 200;
    const scaled = pushPullScale(LAN.pushPullIntervalMs, n);
    assert.ok(scaled >= 4 * LAN.pushPullIntervalMs, `scaled interval ${scaled}`);
    const sim = new SimCluster({ seed: 6 });
    try {
      await sim.startConverged(n);
      // Over the base interval, a node started alone would push/pull once: n streams. Over
      // the scaled one, about n × base / scaled of them fall into the first base interval.
      await sim.runFor(LAN.pushPullIntervalMs, 1000);
      const dialed = sim.net.stats.streamsDialed;
      assert.ok(dialed > 0 && dialed < n / 2, `${dialed} push/pulls in the first 30 s`);
    } finally {
      await sim.stop();
    }
  });

  it("detects a failure and a join on top of it", async () => {
    const sim = new SimCluster({ seed: 7 });
    try {
      await sim.startConverged(30);
      await sim.runFor(5_000);
      sim.kill(12);
      const dead = await sim.until(
        () =>
          sim.running().every((l) => l.members().find((m) => m.name === "n12")?.state === "dead"),
        60_000,
      );
      assert.notEqual(dead, undefined, "every survivor holds n12 dead");
      assert.ok(sim.running().every((l) => l.numMembers() === 29), "29 alive everywhere");
      const fresh = await sim.start(30);
      await sim.drive(fresh.join([sim.lists[0]!.address]));
      const joined = await sim.until(() => sim.converged(), 60_000);
      assert.notEqual(joined, undefined, "the new node is alive everywhere and knows everyone");
    } finally {
      await sim.stop();
    }
  });

  it("rejects a seed member whose host is not an IP, naming it", () => {
    assert.throws(
      () => new MemberSeed([{ name: "web-1", address: { host: "web-1.local", port: 7946 } }]),
      (e: unknown) => e instanceof RangeError && /web-1.*web-1\.local.*not an IP/.test(e.message),
    );
  });
});
