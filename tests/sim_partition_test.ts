/**
 * Partition heal (hashicorp/memberlist#222): a split that outlives suspicion and
 * gossip-to-the-dead makes each side reap the other; memberlist's own reconnect rounds
 * (Serf's ReconnectInterval) must merge the halves again once the network heals. The
 * control run, with reconnect disabled, shows the halves never merge by themselves.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hostOf, LAN, SimCluster } from "../testing/sim_harness.ts";

const N = 20;

async function splitAndHeal(
  reconnectIntervalMs: number | undefined,
  seed: number,
): Promise<{ sim: SimCluster; healedAfter: number | undefined }> {
  const tuning = reconnectIntervalMs === undefined ? LAN : { ...LAN, reconnectIntervalMs };
  const sim = new SimCluster({ seed, tuning });
  for (let i = 0; i < N; i++) await sim.start(i);
  await sim.joinAll([...Array(N).keys()].slice(1), [0]);
  assert.notEqual(await sim.until(() => sim.converged(), 60_000), undefined, "initial convergence");

  const left = [...Array(N / 2).keys()];
  const right = left.map((i) => i + N / 2);
  sim.net.partition([left.map(hostOf), right.map(hostOf)]);
  // suspicion (max 6 × 4 × log10(20) s ≈ 31 s) + gossip to the dead (30 s) + a probe wrap
  await sim.runFor(150_000, 500);
  for (const i of left) {
    const names = sim.lists[i]!.members().map((m) => m.name);
    assert.equal(names.length, N / 2, `${sim.names[i]} reaped the other side: ${names}`);
  }
  for (const i of right) assert.equal(sim.lists[i]!.members().length, N / 2);

  sim.net.heal();
  const healedAfter = await sim.until(() => sim.converged(), 180_000, 500);
  return { sim, healedAfter };
}

describe("simulation: partition heal", () => {
  it("halves split longer than suspicion + gossip-to-the-dead merge again by themselves", async () => {
    const { sim, healedAfter } = await splitAndHeal(undefined, 11);
    try {
      assert.notEqual(healedAfter, undefined, "the halves never merged");
      // one reconnect interval (30 s, probability 1 with half the members failed) + spread
      assert.ok(healedAfter! <= 90_000, `merged after ${healedAfter} ms`);
      const reconnects = sim.running().reduce((s, l) => s + l.counters().reconnects, 0);
      assert.ok(reconnects > 0, "reconnect rounds dialled the failed side");
      // nothing is left suspect or dead once merged
      for (const l of sim.running()) {
        assert.ok(l.members().every((m) => m.state === "alive"), l.name);
      }
    } finally {
      await sim.stop();
    }
  });

  it("control: with reconnect disabled the halves stay apart (memberlist#222)", async () => {
    const { sim, healedAfter } = await splitAndHeal(0, 11);
    try {
      assert.equal(healedAfter, undefined, "merged without reconnect?");
      assert.equal(sim.lists[0]!.aliveMembers().length, N / 2);
    } finally {
      await sim.stop();
    }
  });
});
