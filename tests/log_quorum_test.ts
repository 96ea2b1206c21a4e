/**
 * The quorum tracker on its own (virtual clock): holders needed for a voting membership and a
 * floor, acknowledgements counted per voter name, voters that never ack, re-checks when the
 * voting membership shrinks, and acknowledgements forgotten with their connection.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { QuorumError, QuorumTracker } from "../log/quorum.ts";
import { quorumNeeded } from "../log/mod.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";

function settled(p: Promise<void>): { state: () => "pending" | "resolved" | "rejected" } {
  let state: "pending" | "resolved" | "rejected" = "pending";
  p.then(() => (state = "resolved"), () => (state = "rejected"));
  return { state: () => state };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("quorum tracker", () => {
  it("quorumNeeded: a majority of the voters, at least the floor", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((v) => quorumNeeded(v)), [1, 2, 2, 3, 3, 4, 4]);
    assert.equal(quorumNeeded(1, 2), 2);
    assert.equal(quorumNeeded(5, 2), 3);
    assert.equal(quorumNeeded(5, 4), 4);
  });

  it("voters that never acknowledge still count: 1 of 3 is refused with held/needed/voters", async () => {
    const clock = new VirtualClock();
    const q = new QuorumTracker("a@1", clock, { self: "a" });
    q.setPeers([]); // no connection to anyone
    q.setVoters(["a", "b", "c"]); // this node's own name is ignored
    assert.equal(q.voters, 3);
    assert.equal(q.needed, 2);
    const w = q.wait(1, 1000);
    w.catch(() => {});
    clock.advance(1000);
    await assert.rejects(w, (err: unknown) => {
      assert.ok(err instanceof QuorumError);
      assert.equal(err.acks, 1);
      assert.equal(err.needed, 2);
      assert.equal(err.voters, 3);
      assert.equal(
        err.message,
        "quorum not reached for a@1/1: held by 1, 2 needed (3 voting members) (timeout)",
      );
      return true;
    });
  });

  it("acks of non-voters do not count; removing a silent voter completes a pending wait", async () => {
    const clock = new VirtualClock();
    const q = new QuorumTracker("a", clock, { self: "a" });
    q.setVoters(["b", "c", "d", "e"]); // 5 voters: 3 needed
    const w = settled(q.wait(4, 60_000));
    q.ack("stranger", 10);
    q.ack("b", 4);
    await tick();
    assert.equal(w.state(), "pending");
    q.setVoters(["b", "c", "d"]); // e removed: 4 voters, 3 needed, held by a and b
    await tick();
    assert.equal(w.state(), "pending");
    q.setVoters(["b", "c"]); // 3 voters, 2 needed
    await tick();
    assert.equal(w.state(), "resolved");
  });

  it("an acknowledgement is forgotten with its connection (the peer may have lost a memory store)", async () => {
    const clock = new VirtualClock();
    const q = new QuorumTracker("a", clock, { self: "a" });
    q.setVoters(["b", "c", "d", "e"]);
    q.ack("b", 5);
    q.ack("c", 5);
    assert.equal(q.holders(5), 3);
    q.reset("b");
    assert.equal(q.holders(5), 2);
    const w = settled(q.wait(5, 60_000));
    await tick();
    assert.equal(w.state(), "pending");
    q.ack("d", 5);
    await tick();
    assert.equal(w.state(), "resolved");
  });

  it("without setVoters the peers are the voters (a log wired by hand); the floor applies", () => {
    const clock = new VirtualClock();
    const q = new QuorumTracker("a", clock, { self: "a", minimum: 3 });
    q.setPeers(["b"]);
    assert.equal(q.voters, 2);
    assert.equal(q.needed, 3);
    q.setVoters(["b", "c", "d", "e", "f", "g"]);
    assert.equal(q.voters, 7);
    assert.equal(q.needed, 4);
    q.setPeers([]); // peers no longer change the voters
    assert.equal(q.voters, 7);
    q.close();
  });
});
