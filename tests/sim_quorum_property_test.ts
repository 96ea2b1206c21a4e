/**
 * Property: over random schedules of crashes (a minority of the members at most, each losing
 * its memory store; one step crashes the whole small side of a split), restarts, partitions
 * and quorum writes on every running node, an entry
 * acknowledged with `ack: "quorum"` is on every node that runs once the faults stop (the
 * partition healed, the crashed restarted under their names) and the cluster converged.
 *
 * The first example is the schedule that broke the old alive-members quorum: the {2} side of
 * a split acknowledged its writes between themselves, then both crashed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Outcome, SimNodes } from "../testing/sim_cluster.ts";

const N = 5;
const MAX_CRASHED = 2; // a minority of 5

type Step =
  | { t: "partition"; side: number[] }
  | { t: "heal" }
  | { t: "crash"; i: number }
  | { t: "crash-side" }
  | { t: "restart"; i: number }
  | { t: "write" }
  | { t: "wait"; ms: number };

/**
 * One round of faults: split off a small side (or heal), wait, let every running node write,
 * crash the small side or one node, wait, maybe restart one. A schedule is 1 to 3 rounds.
 */
const round: fc.Arbitrary<Step[]> = fc.record({
  side: fc.uniqueArray(fc.integer({ min: 0, max: N - 1 }), { minLength: 0, maxLength: 2 }),
  wait: fc.integer({ min: 0, max: 40_000 }),
  write: fc.boolean(),
  crashSide: fc.boolean(),
  crash: fc.option(fc.integer({ min: 0, max: N - 1 })),
  settle: fc.integer({ min: 500, max: 20_000 }),
  restart: fc.option(fc.integer({ min: 0, max: N - 1 })),
}).map((r) => {
  const steps: Step[] = [r.side.length > 0 ? { t: "partition", side: r.side } : { t: "heal" }];
  if (r.wait > 0) steps.push({ t: "wait", ms: r.wait });
  if (r.write) steps.push({ t: "write" });
  if (r.crashSide) steps.push({ t: "crash-side" });
  if (r.crash !== null) steps.push({ t: "crash", i: r.crash });
  steps.push({ t: "wait", ms: r.settle });
  if (r.restart !== null) steps.push({ t: "restart", i: r.restart });
  return steps;
});
const schedule: fc.Arbitrary<Step[]> = fc.array(round, { minLength: 1, maxLength: 3 }).map((
  rounds,
) => rounds.flat());

interface RunResult {
  acked: string[];
  missing: string[];
}

async function run(seed: number, steps: Step[]): Promise<RunResult> {
  const sim = new SimNodes(seed);
  const acked: string[] = [];
  // the round of each acknowledged write: a node writes one of three keys of its own per
  // round, a later round may write it again, and compaction then keeps only the key's winner
  const roundOf = new Map<string, number>();
  const crashedEver = new Set<number>();
  try {
    await sim.startAll(N);
    let w = 0;
    let side: number[] = [];
    const crash = (i: number) => {
      if (!sim.nodes[i]) return;
      if (!crashedEver.has(i) && crashedEver.size >= MAX_CRASHED) return;
      crashedEver.add(i);
      sim.kill(i);
    };
    for (const s of steps) {
      if (s.t === "partition") {
        side = s.side;
        sim.partition([s.side, [...Array(N).keys()].filter((i) => !s.side.includes(i))]);
      } else if (s.t === "heal") {
        sim.heal();
        side = [];
      } else if (s.t === "crash") {
        crash(s.i);
      } else if (s.t === "crash-side") {
        // the whole small side of the split (what kills the data a minority "acknowledged")
        for (const i of side) crash(i);
      } else if (s.t === "restart") {
        if (sim.nodes[s.i]) continue;
        await sim.start(s.i);
      } else if (s.t === "write") {
        w++;
        const writes: Promise<Outcome>[] = [];
        sim.nodes.forEach((c, i) => {
          if (c) writes.push(sim.write(i, `k${w % 3}-n${i}`, `n${i}-${w}`, "quorum", 2000));
        });
        for (const o of await sim.drive(Promise.all(writes))) {
          if (o.ok) {
            acked.push(`${o.origin}/${o.seq}`);
            roundOf.set(`${o.origin}/${o.seq}`, w);
          }
        }
      } else {
        await sim.runFor(s.ms, 250);
      }
    }
    // the faults stop: heal, restart the crashed, converge
    sim.heal();
    for (let i = 0; i < N; i++) if (!sim.nodes[i]) await sim.start(i);
    const converged = await sim.until(
      () => sim.converged() && sim.running().every((c) => c.log.connectedPeers().length === N - 1),
      400_000,
      500,
    );
    assert.ok(converged, `no convergence after ${JSON.stringify(steps)}`);
    // Survived: the node holds the entry, or the winner of its key comes from a later round
    // (last writer wins; automatic compaction drops superseded writes). A lost write leaves an
    // older winner, or none.
    const missing: string[] = [];
    for (let i = 0; i < N; i++) {
      const held = await sim.held(i);
      for (const id of acked) {
        if (held.has(id)) continue;
        const round = roundOf.get(id)!;
        const writer = id.slice(0, id.indexOf("@"));
        const winner = sim.nodes[i]!.cache.getText(`k${round % 3}-${writer}`);
        const winnerRound = Number(winner?.split("-")[1] ?? -1);
        if (!(winnerRound > round)) missing.push(`n${i} lacks ${id}`);
      }
    }
    return { acked, missing };
  } finally {
    await sim.stop();
  }
}

/** The {2} side of a split acknowledges between themselves (old behaviour), then both crash. */
const minorityThenCrash: Step[] = [
  { t: "partition", side: [0, 1] },
  { t: "wait", ms: 40_000 },
  { t: "write" },
  { t: "crash", i: 0 },
  { t: "crash", i: 1 },
];

describe("simulation property: quorum-acknowledged entries survive crashes and partitions", () => {
  it("the hand-written schedule: the minority acknowledges nothing, the majority's entries survive", async () => {
    const { acked, missing } = await run(7, minorityThenCrash);
    assert.deepEqual(missing, []);
    // n2, n3, n4 (the majority side) acknowledged one write each; n0 and n1 none
    assert.equal(acked.length, 3, acked.join(" "));
    assert.ok(acked.every((id) => /^n[234]@/.test(id)), acked.join(" "));
  });

  it("random schedules (fast-check)", async () => {
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        schedule,
        async (seed, steps) => {
          const { acked, missing } = await run(seed, steps);
          acknowledged += acked.length;
          assert.deepEqual(missing, [], JSON.stringify(steps));
        },
      ),
      { numRuns: 40, seed: 19, endOnFailure: true },
    );
    console.log(`property: ${acknowledged} quorum-acknowledged entries checked over 41 schedules`);
    assert.ok(acknowledged > 25, "the schedules acknowledged too little to test anything");
  });
});
