/**
 * Quorum over real sockets (loopback, the `local` preset): a quorum is a majority of the
 * voting membership, so survivors of a majority crash refuse quorum writes until an operator
 * removes the dead; a member restarted under its name takes its old seat; `min_quorum` keeps
 * a lone node from acknowledging; removals reach the other members.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type Cluster,
  cluster,
  type ClusterStanza,
  MembershipError,
  QuorumError,
  type QuorumStatus,
} from "../mod.ts";
import { loopback, until as untilWithin } from "../testing/loopback.ts";

const until = (what: string, check: () => boolean, timeoutMs = 45_000): Promise<void> =>
  untilWithin(what, check, timeoutMs);

const stateOf = (node: Cluster, name: string) => node.members().find((m) => m.name === name)?.state;

/** Starts `names` as one cluster (all joining the first) and waits for the full log mesh. */
async function start(names: string[], extra: Partial<ClusterStanza> = {}): Promise<Cluster[]> {
  const nodes: Cluster[] = [];
  try {
    nodes.push(await cluster(loopback(extra), { name: names[0] }));
    const seed = nodes[0].addresses.memberlist!;
    for (const name of names.slice(1)) {
      nodes.push(await cluster(loopback({ ...extra, members: [seed] }), { name }));
    }
    await until(
      "every node sees every other alive, log connected",
      () =>
        nodes.every((n) =>
          n.members().filter((m) => m.state === "alive").length === names.length &&
          n.log.connectedPeers().length === names.length - 1
        ),
    );
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.close()));
    throw err;
  }
}

async function refusedWith(
  p: Promise<unknown>,
  held: number,
  needed: number,
  voters: number,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof QuorumError, String(err));
    assert.equal(err.acks, held, "held by");
    assert.equal(err.needed, needed, "needed");
    assert.equal(err.voters, voters, "voters");
    assert.match(err.message, new RegExp(`held by ${held}, ${needed} needed`));
    return true;
  });
}

describe("cluster quorum over real sockets", () => {
  it("3 nodes, 2 crash: the survivor refuses quorum writes (suspect and dead) until both are removed", async () => {
    const [a, b, c] = await start(["q3-a", "q3-b", "q3-c"]);
    try {
      const events: QuorumStatus[] = [];
      a.on("quorum", (q) => events.push(q));
      await a.cache.set("k", "before", { ack: "quorum", timeout: 5000 });
      assert.equal(a.hasQuorum, true);
      await b.close(); // closed without leaving: a crash as the others see it
      await c.close();
      await refusedWith(a.cache.set("k", "at once", { ack: "quorum", timeout: 500 }), 1, 2, 3);
      await until(
        "a sees both dead",
        () => stateOf(a, "q3-b") === "dead" && stateOf(a, "q3-c") === "dead",
      );
      await refusedWith(a.cache.set("k", "dead", { ack: "quorum", timeout: 500 }), 1, 2, 3);
      assert.equal(a.hasQuorum, false);
      assert.deepEqual(a.quorum(), { hasQuorum: false, voters: 3, reachable: 1, needed: 2 });
      assert.equal(events.at(-1)?.hasQuorum, false);
      // refused entries stay appended locally; reads and local writes go on
      assert.equal(a.cache.getText("k"), "dead");
      await a.cache.set("k", "local", { ack: "local" });

      const waiting = a.cache.set("k", "waiting", { ack: "quorum", timeout: 30_000 });
      assert.deepEqual(await a.removeMember("q3-b"), { told: 0 });
      await refusedWith(a.cache.set("k", "2 voters", { ack: "quorum", timeout: 500 }), 1, 2, 2);
      await a.removeMember("q3-c");
      await waiting; // completes once the voting membership is this node alone
      assert.deepEqual(a.voters(), ["q3-a"]);
      assert.equal(a.hasQuorum, true);
      assert.deepEqual(events.at(-1), { hasQuorum: true, voters: 1, reachable: 1, needed: 1 });
      await a.cache.set("k", "after", { ack: "quorum", timeout: 500 });
    } finally {
      await Promise.all([a, b, c].map((n) => n.close()));
    }
  });

  it("1 of 2: the survivor refuses quorum writes", async () => {
    const [a, b] = await start(["q2-a", "q2-b"]);
    try {
      await a.log.appendText("both", { ack: "quorum", timeout: 5000 });
      await b.close();
      await refusedWith(a.log.appendText("alone", { ack: "quorum", timeout: 500 }), 1, 2, 2);
      await until("a sees b dead", () => stateOf(a, "q2-b") === "dead");
      await refusedWith(a.log.appendText("alone", { ack: "quorum", timeout: 500 }), 1, 2, 2);
      assert.equal(a.hasQuorum, false);
    } finally {
      await Promise.all([a, b].map((n) => n.close()));
    }
  });

  it("a member restarted under its name takes its old seat (a fresh log origin adds no voter)", async () => {
    const [a, b, c] = await start(["qr-a", "qr-b", "qr-c"]);
    let c2: Cluster | undefined;
    try {
      const oldOrigin = c.log.origin;
      const port = (s: string) => Number(s.split(":").pop());
      const ports = { log: port(c.addresses.log!), ml: port(c.addresses.memberlist!) };
      await c.close();
      await until("a suspects c", () => stateOf(a, "qr-c") !== "alive");
      c2 = await cluster(
        loopback({
          bind_port: ports.log,
          memberlist_bind_port: ports.ml,
          members: [a.addresses.memberlist!],
        }),
        { name: "qr-c" },
      );
      assert.notEqual(c2.log.origin, oldOrigin);
      await until(
        "a and b see c alive again, log connected",
        () =>
          [a, b].every((n) => stateOf(n, "qr-c") === "alive" && a.quorum().reachable === 3) &&
          c2!.log.connectedPeers().length === 2,
      );
      assert.deepEqual(a.voters(), ["qr-a", "qr-b", "qr-c"]);
      assert.deepEqual(a.quorum(), { hasQuorum: true, voters: 3, reachable: 3, needed: 2 });
      // with b gone, a and the restarted c are 2 of 3
      await b.close();
      await a.log.appendText("a and c", { ack: "quorum", timeout: 5000 });
      await c2.log.appendText("c and a", { ack: "quorum", timeout: 5000 });
    } finally {
      await Promise.all([a, b, c, ...(c2 ? [c2] : [])].map((n) => n.close()));
    }
  });

  it("min_quorum 2: a lone node refuses quorum writes until a second member joins", async () => {
    const a = await cluster(loopback({ min_quorum: 2 }), { name: "qm-a" });
    let b: Cluster | undefined;
    try {
      assert.deepEqual(a.quorum(), { hasQuorum: false, voters: 1, reachable: 1, needed: 2 });
      await refusedWith(a.log.appendText("alone", { ack: "quorum", timeout: 300 }), 1, 2, 1);
      const pending = a.log.appendText("waits for b", { ack: "quorum", timeout: 30_000 });
      b = await cluster(loopback({ min_quorum: 2, members: [a.addresses.memberlist!] }), {
        name: "qm-b",
      });
      await pending;
      assert.equal(a.hasQuorum, true);
      assert.equal(b.quorum().needed, 2);
    } finally {
      await Promise.all([a, ...(b ? [b] : [])].map((n) => n.close()));
    }
  });

  it("removeMember refuses unknown names, itself and alive members; a removal reaches the others", async () => {
    const [a, b, c] = await start(["qx-a", "qx-b", "qx-c"]);
    try {
      const refused = async (name: string, why: RegExp) =>
        await assert.rejects(a.removeMember(name), (err: unknown) => {
          assert.ok(err instanceof MembershipError);
          assert.equal(err.member, name);
          assert.match(err.message, why);
          return true;
        });
      await refused("nobody", /no voting member named "nobody"/);
      await refused("qx-a", /this node/);
      await refused("qx-b", /is alive/);
      await c.close();
      await until(
        "a and b no longer see c alive",
        () => [a, b].every((n) => stateOf(n, "qx-c") !== "alive"),
      );
      assert.deepEqual(await a.removeMember("qx-c"), { told: 1 });
      await until("b removed c too", () => !b.voters().includes("qx-c"));
      assert.deepEqual(b.quorum(), { hasQuorum: true, voters: 2, reachable: 2, needed: 2 });
    } finally {
      await Promise.all([a, b, c].map((n) => n.close()));
    }
  });
});
