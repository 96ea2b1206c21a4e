/**
 * Quorum means a majority of the voting membership (every member not left, failed ones
 * included), simulated with whole nodes (`cluster()`) on the simulated network: survivors of
 * a majority crash refuse quorum writes through suspicion, death and reaping until an
 * operator removes the dead (or `forget_after` passes); in a partition {2} | {3} only the
 * majority side acknowledges, and after the heal every acknowledged entry is everywhere.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Outcome, SimNodes } from "../testing/sim_cluster.ts";
import { QuorumError } from "../log/mod.ts";
import type { QuorumStatus } from "../cluster/voters.ts";

function check(ok: boolean, what: () => string): void {
  if (!ok) assert.fail(what());
}

function refused(o: Outcome, held: number, needed: number, what: string): void {
  assert.equal(o.ok, false, `${what}: acknowledged`);
  const err = (o as { error: Error }).error;
  assert.ok(err instanceof QuorumError, `${what}: ${err}`);
  assert.equal(err.acks, held, `${what}: held by`);
  assert.equal(err.needed, needed, `${what}: needed`);
}

describe("simulation: quorum of the voting membership", () => {
  it("3 nodes, 2 crash: refused through suspicion, death and reaping; accepted once the dead are removed", async () => {
    const sim = new SimNodes(1);
    try {
      await sim.startAll(3);
      const a = sim.nodes[0]!;
      const events: QuorumStatus[] = [];
      a.on("quorum", (q) => events.push(q));
      assert.ok((await sim.drive(sim.write(0, "k", "v0", "quorum"))).ok, "all up");
      assert.equal(a.hasQuorum, true);

      // hosts lost, not processes crashed: the suspicion path, where quorum was easiest to fake
      sim.lose(1);
      sim.lose(2);
      // at once: both still alive as far as a knows
      refused(await sim.drive(sim.write(0, "k", "v1", "quorum", 2000)), 1, 2, "just crashed");
      assert.ok(await sim.until(() => a.members().some((m) => m.state === "suspect"), 30_000));
      refused(await sim.drive(sim.write(0, "k", "v2", "quorum", 2000)), 1, 2, "suspect");
      assert.ok(
        await sim.until(
          () => a.members().filter((m) => m.state === "dead").length === 2,
          60_000,
        ),
        "declared dead",
      );
      refused(await sim.drive(sim.write(0, "k", "v3", "quorum", 2000)), 1, 2, "dead");
      assert.equal(a.hasQuorum, false);
      // gossip-to-the-dead (30 s) and a probe round later memberlist reaps them: still voters
      assert.ok(await sim.until(() => a.members().length === 1, 120_000), "reaped");
      refused(await sim.drive(sim.write(0, "k", "v4", "quorum", 2000)), 1, 2, "reaped");
      assert.deepEqual(a.voters(), ["n0", "n1", "n2"]);
      assert.deepEqual(a.quorum(), { hasQuorum: false, voters: 3, reachable: 1, needed: 2 });
      const last = events.at(-1)!;
      assert.equal(last.hasQuorum, false);
      assert.equal(last.reachable, 1);

      // a write waiting when the operator removes the dead completes then
      const pending = sim.write(0, "k", "v5", "quorum", 60_000);
      await sim.runFor(1000);
      await a.removeMember("n1");
      await sim.runFor(1000);
      assert.deepEqual(a.quorum(), { hasQuorum: false, voters: 2, reachable: 1, needed: 2 });
      await a.removeMember("n2");
      const o = await sim.drive(pending);
      assert.ok(o.ok, "accepted after removing both");
      assert.deepEqual(a.quorum(), { hasQuorum: true, voters: 1, reachable: 1, needed: 1 });
      assert.equal(events.at(-1)!.hasQuorum, true);
      assert.ok((await sim.drive(sim.write(0, "k", "v6", "quorum"))).ok);
      // the entries refused by the quorum stayed appended locally
      assert.equal(a.log.heads().get(a.log.origin), 7);
    } finally {
      await sim.stop();
    }
  });

  it("3 nodes, 2 crash: accepted again once forget_after has passed", async () => {
    const sim = new SimNodes(2, { forget_after: "2m" });
    try {
      await sim.startAll(3);
      const a = sim.nodes[0]!;
      sim.kill(1);
      sim.kill(2);
      await sim.runFor(60_000);
      refused(await sim.drive(sim.write(0, "k", "x", "quorum", 2000)), 1, 2, "dead for < 2m");
      assert.equal(a.voters().length, 3);
      assert.ok(await sim.until(() => a.voters().length === 1, 180_000), "forgotten");
      assert.ok((await sim.drive(sim.write(0, "k", "y", "quorum", 2000))).ok);
    } finally {
      await sim.stop();
    }
  });

  it("5 nodes split {2} | {3}: only the majority acknowledges; after the heal every acknowledged entry is on every node", async () => {
    const sim = new SimNodes(3);
    try {
      await sim.startAll(5);
      const acked: string[] = [];
      const note = (o: Outcome) => {
        if (o.ok) acked.push(`${o.origin}/${o.seq}`);
        return o;
      };
      sim.partition([[0, 1], [2, 3, 4]]);
      // before and after failure detection
      for (const phase of ["at once", "after detection"]) {
        if (phase !== "at once") {
          assert.ok(
            await sim.until(
              () =>
                sim.nodes[0]!.members().filter((m) => m.state !== "alive").length === 3 &&
                sim.nodes[2]!.members().filter((m) => m.state !== "alive").length === 2,
              60_000,
            ),
            "each side sees the other failed",
          );
        }
        const [minority, majority] = await sim.drive(Promise.all([
          sim.write(0, `min-${phase}`, "x", "quorum", 2000).then(note),
          sim.write(2, `maj-${phase}`, "y", "quorum", 2000).then(note),
        ]));
        refused(minority, 2, 3, `minority ${phase}`);
        assert.ok(majority.ok, `majority ${phase}`);
      }
      assert.deepEqual(sim.running().map((c) => c.hasQuorum), [false, false, true, true, true]);
      assert.deepEqual(sim.nodes[1]!.quorum(), {
        hasQuorum: false,
        voters: 5,
        reachable: 2,
        needed: 3,
      });
      // the minority keeps serving local writes and reads
      assert.ok((await sim.drive(sim.write(0, "t", "minority", "local"))).ok);
      assert.ok(await sim.until(() => sim.nodes[1]!.cache.getText("t") === "minority", 10_000));
      assert.ok(note(await sim.drive(sim.write(2, "u", "majority", "quorum"))).ok);
      await sim.runFor(1000);
      // later writes: a quorum delete on the majority, a local set on the minority
      const del = await sim.drive(
        sim.nodes[3]!.cache.delete("t", { ack: "quorum", timeout: 3000 }).then(
          () => true,
          () => false,
        ),
      );
      assert.ok(del, "quorum delete on the majority side");
      assert.ok((await sim.drive(sim.write(1, "u", "minority-later", "local"))).ok);

      sim.heal();
      check(
        await sim.until(
          () =>
            sim.converged() &&
            sim.running().every((c) =>
              c.quorum().reachable === 5 && c.log.connectedPeers().length === 4
            ),
          240_000,
          500,
        ),
        () =>
          "converged after the heal: " + JSON.stringify(
            sim.running().map((c) => ({
              n: c.name,
              m: c.members().map((m) => `${m.name}:${m.state}`),
              p: c.log.connectedPeers(),
              q: c.quorum(),
              h: [...c.log.heads()],
            })),
          ),
      );
      assert.equal(acked.length, 3);
      for (let i = 0; i < 5; i++) {
        const held = await sim.held(i);
        for (const id of acked) assert.ok(held.has(id), `n${i} lacks ${id}`);
        const c = sim.nodes[i]!;
        assert.equal(c.cache.getText("t"), undefined, "the later tombstone wins");
        assert.equal(c.cache.getText("u"), "minority-later", "the later write wins");
        assert.deepEqual(c.quorum(), { hasQuorum: true, voters: 5, reachable: 5, needed: 3 });
      }
    } finally {
      await sim.stop();
    }
  });
});
