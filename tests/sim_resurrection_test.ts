/**
 * No resurrection under churn (hashicorp/memberlist#312): while nodes die for good and new
 * ones join through random members, stale "alive" states replayed by push/pull (or
 * re-broadcast by freshly joined nodes) must never bring a dead node back: a member that saw a
 * killed node dead never sees it alive again (even after reaping it), and in the end nobody
 * holds a killed node as alive.
 *
 * The stale states come from nodes cut off (a one-node partition) for 40 s while others
 * died: they still hold those as alive when they return, after the rest reaped them. Without
 * tombstones this replays the issue (members re-learn reaped nodes as new); a node that joins
 * through such a stale member may learn a dead node once, which the re-gossiped accusation
 * corrects: that is counted, not forbidden.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { seededRandom } from "../transport/sim/random.ts";
import { hostOf, LAN, SimCluster } from "../testing/sim_harness.ts";

// SIM_N=4500 runs the scenario at the size of memberlist#312 (14 minutes, 7.4 GB: see the
// README's "Behaviour beyond hashicorp/memberlist"; scripts/test runs it once, on Deno); the
// default keeps the main run fast.
const N = Number(process.env.SIM_N ?? 120);

describe("simulation: churn never resurrects dead nodes (memberlist#312)", () => {
  it(`${N} nodes, one replaced every 2 s for 4 min, 5% loss`, async () => {
    // push/pull every 10 s makes replays of stale state frequent
    const sim = new SimCluster({ seed: 31, tuning: { ...LAN, pushPullIntervalMs: 10_000 } });
    const rnd = seededRandom(31);
    const gone = new Set<string>(); // killed, never restarted
    const sawDead = new Set<string>(); // "observer gone-node" pairs seen dead
    const resurrections: string[] = [];
    let learntFromStale = 0;
    sim.onEvent = (e) => {
      if (!gone.has(e.who)) return;
      const pair = `${e.node} ${e.who}`;
      if (e.ev === "dead") sawDead.add(pair);
      else if (e.ev === "join") {
        if (sawDead.has(pair)) resurrections.push(`${e.t} ${e.node} saw ${e.who} alive again`);
        else learntFromStale++;
      }
    };
    try {
      // A converged cluster to churn (its join storm would be O(N²) at SIM_N=4500).
      await sim.startConverged(N);
      sim.net.setDefaultLink({ loss: 0.05 });
      let next = N;
      const cutOff = new Map<number, number>(); // node index -> end of its isolation
      for (let round = 0; round < 120; round++) {
        const live = sim.lists.flatMap((l, i) => (l === undefined ? [] : [i]));
        const now = sim.clock.now();
        for (const [i, end] of cutOff) {
          if (end <= now || sim.lists[i] === undefined) cutOff.delete(i);
        }
        if (round % 5 === 0) cutOff.set(live[Math.floor(rnd() * live.length)], now + 40_000);
        sim.net.partition([...cutOff.keys()].map((i) => [hostOf(i)]));
        const victim = live[Math.floor(rnd() * live.length)];
        gone.add(sim.names[victim]);
        sim.kill(victim);
        // (a seed that is reachable: discovery would retry an unreachable one anyway)
        const seeds = live.filter((i) => i !== victim && !cutOff.has(i));
        const seed = seeds[Math.floor(rnd() * seeds.length)];
        const fresh = next++;
        await sim.start(fresh);
        void sim.lists[fresh]!.join([sim.lists[seed]!.address]).catch(() => {});
        await sim.runFor(2_000);
      }
      sim.net.setDefaultLink({ loss: 0 });
      sim.net.heal();
      // Quiet period: everybody settles on exactly the running nodes.
      const settled = await sim.until(() => sim.converged(), 240_000, 1_000);
      assert.deepEqual(resurrections, []);
      assert.ok(sawDead.size >= 100 * (N / 2), `deaths observed: ${sawDead.size}`);
      const blocked = sim.running().reduce((s, l) => s + l.counters().accusationsSent, 0);
      assert.ok(blocked > 0, "stale alives were refused and answered");
      if (process.env.SIM_REPORT !== undefined) {
        console.log(
          JSON.stringify({ n: N, sawDead: sawDead.size, learntFromStale, blocked, settled }),
        );
      }
      assert.notEqual(settled, undefined, "did not settle on the running nodes");
      for (const l of sim.running()) {
        for (const m of l.members()) {
          if (gone.has(m.name)) assert.notEqual(m.state, "alive", `${l.name}: ${m.name}`);
        }
      }
    } finally {
      await sim.stop();
    }
  });
});
