/**
 * NATS discovery against a real nats-server (Debian package), with a fake membership layer.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { type NatsDiscovery, natsDiscovery } from "../discovery/mod.ts";
import { formatHostPort } from "../transport/address.ts";
import { FakeCluster, type FakeNode, waitFor, withDeadline } from "../testing/fake_cluster.ts";
import { NatsServer } from "../testing/nats_server.ts";

// short intervals keep the file fast; behaviour does not depend on them
const TIMING = {
  announceIntervalMs: 250,
  discoverWindowMs: 300,
  connectTimeoutMs: 2000,
  retryInitialMs: 100,
  retryMaxMs: 500,
  reconnectTimeWaitMs: 200,
};

/** Resolves once some node answers discovery requests on `subject` (so it is subscribed). */
async function awaitResponder(url: string, subject: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const probe = new TextEncoder().encode(
      JSON.stringify({ name: "probe", address: "127.0.0.1:1" }),
    );
    const deadline = Date.now() + 10_000;
    while (true) {
      try {
        await nc.request(`${subject}.discover`, probe, { timeout: 1000 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    await nc.close();
  }
}

interface Running {
  node: FakeNode;
  discovery: NatsDiscovery;
  stop: AbortController;
}

describe("nats discovery (real nats-server)", () => {
  let nats: NatsServer;
  const running: Running[] = [];
  const servers: NatsServer[] = [];

  async function startNode(
    node: FakeNode,
    url: string,
    subject: string,
    timing: Partial<typeof TIMING> = {},
  ): Promise<Running> {
    const discovery = natsDiscovery({ url, subject, ...TIMING, ...timing });
    const stop = new AbortController();
    const r = { node, discovery, stop };
    running.push(r);
    await withDeadline(discovery.start(node.context(stop.signal)), 5000, `start of ${node.name}`);
    return r;
  }

  async function stopAll(): Promise<void> {
    for (const r of running.splice(0)) {
      await withDeadline(r.discovery.close(), 10_000, `close of ${r.node.name}`);
    }
  }

  before(async () => {
    nats = await NatsServer.launch();
    servers.push(nats);
  });

  after(async () => {
    await stopAll();
    for (const s of servers) await s.dispose();
  });

  it("three nodes autojoin into one cluster", async () => {
    const cluster = new FakeCluster();
    const [a, b, c] = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    for (const n of [a, b, c]) await startNode(n, nats.url, "three");
    await waitFor("a, b, c in one cluster", () => cluster.sameGroup([a, b, c]));
    for (const n of [a, b, c]) {
      assert.ok(!n.joinedAddresses().has(formatHostPort(n.self)), `${n.name} never joins itself`);
      assert.ok(n.logger.has("info", /connected to NATS/), `${n.name} logs its connection`);
    }
    await stopAll();
  });

  it("every node is told about every other node (announcements and replies)", async () => {
    // without group merging each node must join each other node by itself
    const cluster = new FakeCluster({ merge: false });
    const nodes = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    for (const n of nodes) await startNode(n, nats.url, "announce");
    for (const n of nodes) {
      const others = nodes.filter((o) => o !== n).map((o) => formatHostPort(o.self));
      await waitFor(
        `${n.name} joined ${others.join(", ")}`,
        () => others.every((o) => n.joinedAddresses().has(o)),
      );
    }
    for (const r of running) assert.ok(r.discovery.stats.announcements >= 1);
    await stopAll();
  });

  it("a starting node learns the nodes already there through its discovery request", async () => {
    // a announces only once, before b listens: b can learn a only from the reply to its request
    const quiet = { announceIntervalMs: 600_000 };
    const cluster = new FakeCluster({ merge: false });
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    const ra = await startNode(a, nats.url, "request", quiet);
    await awaitResponder(nats.url, "request"); // a is subscribed
    assert.equal(ra.discovery.stats.announcements, 1);
    const rb = await startNode(b, nats.url, "request", quiet);
    await waitFor("b joined a", () => b.joinedAddresses().has(formatHostPort(a.self)));
    await waitFor(
      "a joined b (b's start announcement)",
      () => a.joinedAddresses().has(formatHostPort(b.self)),
    );
    assert.equal(ra.discovery.stats.repliesSent, 2); // the probe's request and b's
    assert.equal(rb.discovery.stats.announcements, 1);
    await stopAll();
  });

  it("two subjects on one server make two clusters", async () => {
    const cluster = new FakeCluster();
    const alpha = [cluster.add("a1"), cluster.add("a2")];
    const beta = [cluster.add("b1"), cluster.add("b2")];
    for (const n of alpha) await startNode(n, nats.url, "alpha.cluster");
    for (const n of beta) await startNode(n, nats.url, "beta.cluster");
    await waitFor("alpha formed", () => cluster.sameGroup(alpha));
    await waitFor("beta formed", () => cluster.sameGroup(beta));
    // several announcement rounds: still apart
    await new Promise((r) => setTimeout(r, TIMING.announceIntervalMs * 4));
    assert.ok(cluster.sameGroup(alpha) && cluster.sameGroup(beta));
    const betaAddresses = beta.map((n) => formatHostPort(n.self));
    for (const n of alpha) {
      for (const addr of betaAddresses) {
        assert.ok(!n.joinedAddresses().has(addr), `${n.name} never saw ${addr}`);
      }
    }
    await stopAll();
  });

  it("NATS restart mid-test: nodes reconnect, announce again, and a fourth node still joins", async () => {
    const cluster = new FakeCluster();
    const nodes = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    const rs: Running[] = [];
    for (const n of nodes) rs.push(await startNode(n, nats.url, "restart"));
    await waitFor("three formed", () => cluster.sameGroup(nodes));

    await nats.stop();
    await waitFor(
      "every node noticed the loss",
      () => nodes.every((n) => n.logger.has("warn", /NATS connection .* lost/)),
    );
    await nats.start();
    await waitFor("every node reconnected", () => rs.every((r) => r.discovery.stats.connects >= 2));
    assert.ok(nodes.every((n) => n.logger.has("info", /NATS reconnected/)));

    // announcements resume: a plain subscriber opened after the restart hears all three
    const nc = await connect({ servers: nats.url });
    try {
      const heard = new Set<string>();
      const sub = nc.subscribe("restart.announce", {
        callback: (_err, msg) => {
          heard.add((msg.json() as { name: string }).name);
        },
      });
      await waitFor("announcements from a, b, c", () => ["a", "b", "c"].every((n) => heard.has(n)));
      sub.unsubscribe();
    } finally {
      await nc.close();
    }

    const d = cluster.add("d");
    await startNode(d, nats.url, "restart");
    await waitFor("d joined the cluster", () => cluster.sameGroup([...nodes, d]));
    await stopAll();
  });

  it("NATS absent at start: nodes start, say so, retry, and form the cluster once it runs", async () => {
    const late = await NatsServer.create();
    servers.push(late);
    const cluster = new FakeCluster();
    const nodes = [cluster.add("a"), cluster.add("b")];
    for (const n of nodes) await startNode(n, late.url, "late"); // resolves without NATS
    await waitFor(
      "unreachable warning",
      () => nodes.every((n) => n.logger.has("warn", /NATS unreachable/)),
    );
    assert.ok(nodes.every((n) => n.joinCalls.length === 0));
    await late.start();
    await waitFor("cluster formed after NATS came up", () => cluster.sameGroup(nodes));
    assert.ok(
      nodes.every((n) => n.logger.has("info", /NATS reachable .* after \d+ failed attempt/)),
    );
    await stopAll();
    await late.stop();
  });

  it("close while NATS is unreachable ends promptly and joins nothing afterwards", async () => {
    const absent = await NatsServer.create(); // never started
    servers.push(absent);
    const cluster = new FakeCluster();
    const a = cluster.add("a");
    const r = await startNode(a, absent.url, "never");
    await waitFor("unreachable warning", () => a.logger.has("warn", /NATS unreachable/));
    r.stop.abort(); // the node shuts down through its signal
    await withDeadline(r.discovery.close(), 5000, "close");
    assert.equal(a.joinCalls.length, 0);
    running.splice(running.indexOf(r), 1);
  });

  it("close while NATS is lost (after having connected) ends promptly", async () => {
    const lost = await NatsServer.launch();
    servers.push(lost);
    const cluster = new FakeCluster();
    const a = cluster.add("a");
    const r = await startNode(a, lost.url, "lost");
    await waitFor("connected", () => r.discovery.stats.connects === 1);
    await lost.stop();
    await waitFor("loss noticed", () => a.logger.has("warn", /NATS connection .* lost/));
    await withDeadline(r.discovery.close(), 5000, "close while reconnecting");
    await withDeadline(r.discovery.close(), 5000, "second close");
    running.splice(running.indexOf(r), 1);
  });

  it("malformed messages are dropped and counted; the node keeps working", async () => {
    const cluster = new FakeCluster();
    const a = cluster.add("a");
    const ra = await startNode(a, nats.url, "garbage");
    await awaitResponder(nats.url, "garbage"); // a is subscribed
    const nc = await connect({ servers: nats.url });
    try {
      const bad = [
        new Uint8Array([0xff, 0xfe, 0x00]),
        new TextEncoder().encode("{not json"),
        new TextEncoder().encode(JSON.stringify({ name: 1, address: "x" })),
        new TextEncoder().encode(JSON.stringify({ name: "x", address: "no-port" })),
        new Uint8Array(10_000),
      ];
      for (const payload of bad) nc.publish("garbage.announce", payload);
      nc.publish("garbage.discover", new TextEncoder().encode("nope"), { reply: "inbox.x" });
      await nc.flush();
      await waitFor("six drops counted", () => ra.discovery.stats.dropped >= 6);
    } finally {
      await nc.close();
    }
    assert.equal(a.joinCalls.length, 0);
    const b = cluster.add("b");
    await startNode(b, nats.url, "garbage");
    await waitFor("b joined a", () => cluster.sameGroup([a, b]));
    await stopAll();
  });
});
