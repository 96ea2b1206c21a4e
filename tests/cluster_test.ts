import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { type Cluster, cluster, ConfigError } from "../mod.ts";
import { aliveCount, loopback, sleep, until as untilWithin } from "../testing/loopback.ts";

const until = (what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> =>
  untilWithin(what, check, timeoutMs);

const text = new TextEncoder();
const untext = new TextDecoder();

describe("cluster() with three nodes and static members", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("forms a cluster where every node sees three alive members", async () => {
    nodes.push(await cluster(loopback(), { name: "a", meta: { zone: "z1" } }));
    const seed = nodes[0].addresses.memberlist!;
    nodes.push(await cluster(loopback({ members: [seed] }), { name: "b" }));
    nodes.push(await cluster(loopback({ members: [seed] }), { name: "c" }));
    await until("three alive everywhere", () => nodes.every((n) => aliveCount(n) === 3));
    const a = nodes[1].members().find((m) => m.name === "a")!;
    assert.equal(a.environment, "local");
    assert.deepEqual(a.meta, { zone: "z1" });
    assert.equal(a.logAddress, nodes[0].addresses.log);
    assert.ok(nodes.every((n) => n.hasQuorum));
  });

  it("an append on one node is visible on the others", async () => {
    const [a, b, c] = nodes;
    const { origin, seq } = await a.log.append(text.encode("hello"), { ack: "quorum" });
    assert.equal(origin, a.log.origin);
    assert.match(origin, /^a@/, "a memory-backed node writes under a per-run origin");
    for (const n of [b, c]) {
      await until(`${n.name} has ${origin}#${seq}`, () => (n.log.heads().get(origin) ?? 0) >= seq);
      const got: string[] = [];
      for await (const e of n.log.read({ origin, from: seq })) got.push(untext.decode(e.value));
      assert.deepEqual(got, ["hello"]);
    }
  });

  it("a cache write on one node is read on another", async () => {
    const [, b, c] = nodes;
    await b.cache.set("map:center", text.encode("59.33,18.06"));
    await until("c reads the key", () => c.cache.get("map:center") !== undefined);
    assert.equal(untext.decode(c.cache.get("map:center")!), "59.33,18.06");
  });

  it("closing one node makes the others mark it failed", async () => {
    const [a, b, c] = nodes;
    const failed: string[] = [];
    const off = a.on("member-failed", (m) => failed.push(m.name));
    await c.close();
    await until(
      "a and b mark c failed",
      () => [a, b].every((n) => n.members().find((m) => m.name === "c")?.state === "dead"),
      30_000,
    );
    off();
    assert.deepEqual(failed, ["c"]);
    assert.ok(a.hasQuorum, "2 of 3 alive is a majority");
    assert.equal(a.stats().members.dead, 1);
  });
});

describe("cluster() edge cases", () => {
  it("isolated mode: no stanza binds nothing and the API still works", async () => {
    const node = await cluster(undefined, { name: "solo" });
    try {
      assert.deepEqual(node.addresses, {
        memberlist: undefined,
        log: undefined,
        bound: { memberlist: undefined, log: undefined },
      });
      await node.log.append(text.encode("x"));
      await node.cache.set("k", text.encode("v"));
      assert.equal(untext.decode(node.cache.get("k")!), "v");
      assert.equal(node.members().length, 1);
      assert.equal(node.members()[0].name, "solo");
      assert.ok(node.hasQuorum);
    } finally {
      await node.close();
    }
  });

  it("an invalid stanza is a ConfigError", async () => {
    // @ts-expect-error: the types refuse it; a JavaScript caller still gets a ConfigError
    await assert.rejects(cluster({ environment: "moon" }), ConfigError);
  });

  it("a port in use fails with the key and value", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        cluster(loopback({ bind_port: port })),
        (err: Error) => err.message === `bind_port ${port} is already in use on 127.0.0.1`,
      );
      await assert.rejects(
        cluster(loopback({ memberlist_bind_port: port })),
        (err: Error) =>
          err.message === `memberlist_bind_port ${port} is already in use on 127.0.0.1`,
      );
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it("an address that is not local fails with the key and value", async () => {
    await assert.rejects(
      cluster(loopback({ bind_address: "192.0.2.1" })),
      (err: Error) => err.message === "bind_address 192.0.2.1 is not an address of this host",
    );
  });

  it("refuses a member whose environment differs, naming it and both environments", async () => {
    const a = await cluster(loopback(), { name: "env-a" });
    const errors: string[] = [];
    a.on("error", (err) => errors.push(err.message));
    const b = await cluster(loopback({ environment: "lan", members: [a.addresses.memberlist!] }), {
      name: "env-b",
    });
    const errorsB: string[] = [];
    b.on("error", (err) => errorsB.push(err.message));
    try {
      await until("a reports env-b", () => errors.length > 0 && errorsB.length > 0);
      assert.match(errors[0], /env-b/);
      assert.match(errors[0], /"lan"/);
      assert.match(errors[0], /"local"/);
      assert.match(errorsB[0], /env-a/);
      assert.ok(!a.members().some((m) => m.name === "env-b"), "refused members are not listed");
      assert.deepEqual(a.log.connectedPeers(), []);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("keyring: members with the same key form a cluster, a node with another key is kept out", async () => {
    const key = new Uint8Array(32).fill(7);
    const a = await cluster(loopback(), { name: "key-a", keyring: [key] });
    const b = await cluster(loopback({ members: [a.addresses.memberlist!] }), {
      name: "key-b",
      keyring: [key],
    });
    const c = await cluster(loopback({ members: [a.addresses.memberlist!] }), {
      name: "key-c",
      keyring: [new Uint8Array(32).fill(9)],
    });
    try {
      await until("a and b see each other", () => aliveCount(a) === 2 && aliveCount(b) === 2);
      await sleep(1000);
      assert.ok(!a.members().some((m) => m.name === "key-c"));
      assert.equal(aliveCount(c), 1);
      assert.ok(a.stats().memberlist!.rejected > 0, "a counted the packets it could not decrypt");
      // rotation: a new primary on both keeps them together
      const next = new Uint8Array(32).fill(8);
      for (const n of [a, b]) await n.keyring!.addKey(next);
      for (const n of [a, b]) await n.keyring!.useKey(next);
      await sleep(500);
      assert.equal(aliveCount(a), 2);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("close() releases everything: the same ports bind again", async () => {
    const a = await cluster(loopback(), { name: "rebind" });
    const ports = { log: a.addresses.log!, ml: a.addresses.memberlist! };
    await a.close();
    await a.close(); // idempotent
    const port = (s: string) => Number(s.split(":").pop());
    const b = await cluster(
      loopback({ bind_port: port(ports.log), memberlist_bind_port: port(ports.ml) }),
      { name: "rebind" },
    );
    assert.equal(b.addresses.log, ports.log);
    await b.close();
  });
});
