/**
 * Mass restart under the same names (hashicorp/memberlist#311): half of a cluster is killed
 * after its incarnations climbed, the survivors declare it dead at those incarnations, and the
 * processes come back at incarnation 1. Every restarted node must end alive everywhere, with
 * an incarnation above the death the survivors held, whether it re-joins the survivors, only
 * its restarted peers, or comes back after the survivors reaped it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LAN, SimCluster } from "../testing/sim_harness.ts";

const N = 20;
const half = [...Array(N / 2).keys()].map((i) => i + N / 2);

async function restartScenario(
  seed: number,
  downMs: number,
  seedsOfRestarted: number[],
): Promise<void> {
  // SWIM's timers decide here: with the lan preset's deadOnRefusal the killed half would be
  // declared dead within a second (refusal.ts), leaving no "restarted before the survivors
  // noticed" case; the scenarios where they noticed are the ones with longer downtimes.
  const sim = new SimCluster({ seed, tuning: { ...LAN, deadOnRefusal: false } });
  try {
    for (let i = 0; i < N; i++) await sim.start(i);
    await sim.joinAll([...Array(N).keys()].slice(1), [0]);
    assert.notEqual(await sim.until(() => sim.converged(), 60_000), undefined);
    // Climb incarnations (each meta update bumps it), as long-lived nodes' do.
    for (const i of half) {
      for (let k = 0; k < 5; k++) await sim.lists[i]!.updateMeta(Uint8Array.of(k));
    }
    await sim.runFor(10_000);
    const before = new Map<string, number>();
    for (const i of half) {
      before.set(
        sim.names[i],
        sim.lists[0]!.members().find((m) => m.name === sim.names[i])!.incarnation,
      );
    }
    assert.ok(
      [...before.values()].every((inc) => inc >= 6),
      `incarnations: ${[...before.values()]}`,
    );

    for (const i of half) sim.kill(i);
    await sim.runFor(downMs, 500);
    const view = new Map(sim.lists[0]!.members().map((m) => [m.name, m.state]));
    for (const i of half) {
      const state = view.get(sim.names[i]);
      const ok = downMs < 5_000
        ? state === "alive" || state === "suspect"
        : downMs < 60_000
        ? state === "dead"
        : state === undefined; // reaped
      assert.ok(ok, `${sim.names[i]} is ${state} before the restart`);
    }
    for (const i of half) {
      const l = await sim.start(i);
      assert.equal(l.localMember().incarnation, 1);
    }
    await sim.joinAll(half, seedsOfRestarted);
    // Settled: all alive everywhere, and every view of a restarted node is above the death the
    // survivors held (a node that learnt its pre-restart alive from a survivor holds that until
    // the refutation or a push/pull reaches it).
    const outbid = () =>
      sim.running().every((l) =>
        l.members().every((m) => !before.has(m.name) || m.incarnation > before.get(m.name)!)
      );
    const took = await sim.until(() => sim.converged() && outbid(), 180_000, 500);
    assert.notEqual(took, undefined, "restarted nodes are not alive everywhere");
    for (const l of sim.running()) {
      for (const m of l.members()) {
        assert.equal(m.state, "alive", `${l.name} sees ${m.name} ${m.state}`);
        const old = before.get(m.name);
        if (old !== undefined) {
          assert.ok(m.incarnation > old, `${m.name} ${m.incarnation} ≤ ${old}`);
        }
      }
    }
    const refuted = half.reduce((s, i) => s + sim.lists[i]!.counters().refutations, 0);
    if (downMs >= 15_000) assert.ok(refuted >= N / 2, `restarted nodes refuted: ${refuted}`);
  } finally {
    await sim.stop();
  }
}

describe("simulation: mass restart under the same names (memberlist#311)", () => {
  it("restarted after being declared dead, re-joining the survivors", async () => {
    await restartScenario(21, 20_000, [0, 1, 2]);
  });

  it("restarted after being declared dead, re-joining only restarted peers", async () => {
    await restartScenario(22, 20_000, [N / 2]);
  });

  it("restarted after the survivors reaped them, re-joining only restarted peers", async () => {
    await restartScenario(23, 150_000, [N / 2]);
  });

  it("restarted before the survivors noticed, re-joining the survivors", async () => {
    await restartScenario(24, 2_000, [0]);
  });
});
