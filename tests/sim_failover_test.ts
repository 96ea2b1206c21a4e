/**
 * The fast path for crashed processes (memberlist/refusal.ts) in the simulator, where a
 * process crashed on a live host (`net.kill`: its kernel refuses dials and resets streams)
 * differs from a host gone silent (`net.silence`: nothing comes back, dials time out).
 *
 * - crash on a live host: every survivor declares it dead without anyone suspecting it,
 *   from the refused TCP fallback of the regular probe alone, and at once from a hint (what
 *   the log's lost connection gives the cluster);
 * - silent host: suspicion first, death after the Lifeguard timeout, no refusal deaths;
 * - a process restarting in place within the refusal window is not declared dead; one that
 *   restarts later is declared dead and comes back alive by refuting it;
 * - `deadOnRefusal: false` keeps SWIM's path for a crash too.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hostOf, LAN, SimCluster, type SimEvent } from "../testing/sim_harness.ts";
import type { MemberlistTuning } from "../memberlist/mod.ts";

const N = 5;
const VICTIM = N - 1;

async function cluster(seed: number, tuning: MemberlistTuning = LAN): Promise<SimCluster> {
  const sim = new SimCluster({ seed, tuning });
  await sim.startConverged(N);
  await sim.runFor(3_000); // loops past their stagger
  assert.ok(sim.converged(), "converged before the fault");
  return sim;
}

const about = (sim: SimCluster, since: number, ev: SimEvent["ev"]) =>
  sim.events.filter((e) => e.t >= since && e.who === sim.names[VICTIM] && e.ev === ev);

const survivors = [...Array(N - 1).keys()];

function allDead(sim: SimCluster, since: number): boolean {
  const dead = new Set(about(sim, since, "dead").map((e) => e.node));
  return survivors.every((i) => dead.has(sim.names[i]));
}

function crashDeaths(sim: SimCluster): number {
  return survivors.reduce((s, i) => s + sim.lists[i]!.counters().crashDeaths, 0);
}

describe("simulation: failover on a crashed process", () => {
  it("a crash on a live host is declared dead by every survivor without suspicion (probe only)", async () => {
    for (const seed of [1, 2, 3]) {
      const sim = await cluster(seed);
      try {
        const t0 = sim.clock.now();
        sim.kill(VICTIM);
        const took = await sim.until(() => allDead(sim, t0), 30_000, 10);
        assert.notEqual(took, undefined, `seed ${seed}: not dead everywhere`);
        assert.deepEqual(about(sim, t0, "suspect"), [], `seed ${seed}: nobody suspects it`);
        // declared by refusal (SWIM would suspect first and wait out 4 × log10(5) × 1 s)
        assert.ok(crashDeaths(sim) >= 1, `seed ${seed}: declared by refusal`);
      } finally {
        await sim.stop();
      }
    }
  });

  it("with a hint (the log's lost connection) every survivor declares it dead within the window", async () => {
    const sim = await cluster(4);
    try {
      const t0 = sim.clock.now();
      sim.kill(VICTIM);
      await sim.clock.advanceAsync(1); // the kernel's resets reach the survivors
      for (const i of survivors) {
        assert.equal(sim.lists[i]!.probeNow(sim.names[VICTIM], "log connection lost"), true);
      }
      const took = await sim.until(() => allDead(sim, t0), 5_000, 5);
      assert.notEqual(took, undefined);
      // three refused dials over the 150 ms window, one round trip each
      assert.ok(took! <= 200, `took ${took} ms`);
      assert.deepEqual(about(sim, t0, "suspect"), []);
      assert.equal(crashDeaths(sim), survivors.length);
    } finally {
      await sim.stop();
    }
  });

  it("a silent host takes SWIM's path: suspicion first, no refusal deaths", async () => {
    const sim = await cluster(5);
    try {
      const t0 = sim.clock.now();
      sim.net.silence(hostOf(VICTIM));
      // hints change nothing for silence: the check times out and leaves it to SWIM
      for (const i of survivors) sim.lists[i]!.probeNow(sim.names[VICTIM], "test hint");
      const took = await sim.until(() => allDead(sim, t0), 60_000, 50);
      assert.notEqual(took, undefined, "dead everywhere in the end");
      const suspects = about(sim, t0, "suspect");
      assert.ok(suspects.length > 0, "suspected first");
      const firstDead = Math.min(...about(sim, t0, "dead").map((e) => e.t));
      assert.ok(Math.min(...suspects.map((e) => e.t)) < firstDead);
      assert.equal(crashDeaths(sim), 0);
    } finally {
      await sim.stop();
    }
  });

  it("a process restarting in place within the window is not declared dead", async () => {
    const sim = await cluster(6);
    try {
      const t0 = sim.clock.now();
      sim.kill(VICTIM);
      await sim.clock.advanceAsync(1);
      for (const i of survivors) sim.lists[i]!.probeNow(sim.names[VICTIM], "log connection lost");
      await sim.clock.advanceAsync(40); // the first dial is refused; the process is back at 41 ms
      await sim.start(VICTIM);
      await sim.joinAll([VICTIM], [0]);
      await sim.runFor(15_000);
      assert.deepEqual(about(sim, t0, "dead"), [], "no death");
      assert.ok(survivors.every((i) => sim.lists[i]!.counters().crashChecks >= 1));
      assert.ok(sim.converged());
    } finally {
      await sim.stop();
    }
  });

  it("a process restarting after the window is declared dead, then refutes and is alive again", async () => {
    const sim = await cluster(7);
    try {
      const t0 = sim.clock.now();
      sim.kill(VICTIM);
      assert.notEqual(await sim.until(() => allDead(sim, t0), 10_000, 10), undefined);
      await sim.start(VICTIM);
      await sim.joinAll([VICTIM], [0]);
      const back = await sim.until(() => sim.converged(), 30_000);
      assert.notEqual(back, undefined, "alive everywhere again: a short death, not a lost member");
    } finally {
      await sim.stop();
    }
  });

  it("deadOnRefusal: false keeps the SWIM path for a crash", async () => {
    const sim = await cluster(8, { ...LAN, deadOnRefusal: false });
    try {
      const t0 = sim.clock.now();
      sim.kill(VICTIM);
      for (const i of survivors) {
        assert.equal(sim.lists[i]!.probeNow(sim.names[VICTIM], "hint"), false, "hint ignored");
      }
      assert.notEqual(await sim.until(() => allDead(sim, t0), 60_000, 50), undefined);
      assert.ok(about(sim, t0, "suspect").length > 0, "suspected first");
      assert.equal(crashDeaths(sim), 0);
    } finally {
      await sim.stop();
    }
  });
});
