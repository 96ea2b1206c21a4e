/**
 * NATS discovery over WebSocket: a clear typed error where the runtime has no global
 * WebSocket (Node 20), real autojoin where it has one (Deno). A file of its own because the
 * NATS client keeps one process-wide transport factory (TCP or WebSocket).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { natsDiscovery, NatsDiscoveryError } from "../discovery/mod.ts";
import { FakeCluster, waitFor, withDeadline } from "../testing/fake_cluster.ts";
import { NatsServer } from "../testing/nats_server.ts";

const hasWebSocket = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";

/** Runs `fn` with `globalThis.WebSocket` removed (Node 20 has none to begin with). */
async function withoutWebSocket<T>(fn: () => Promise<T>): Promise<T> {
  const g = globalThis as { WebSocket?: unknown };
  const saved = Object.getOwnPropertyDescriptor(g, "WebSocket");
  if (saved !== undefined) delete g.WebSocket;
  try {
    return await fn();
  } finally {
    if (saved !== undefined) Object.defineProperty(g, "WebSocket", saved);
  }
}

describe("nats discovery over WebSocket", () => {
  let nats: NatsServer;

  before(async () => {
    nats = await NatsServer.launch({ websocket: true });
  });

  after(async () => {
    await nats?.dispose();
  });

  it("without a global WebSocket, start rejects with ENOWEBSOCKET instead of hanging", async () => {
    await withoutWebSocket(async () => {
      const cluster = new FakeCluster();
      const a = cluster.add("a");
      const d = natsDiscovery({ url: nats.wsUrl });
      const err = await withDeadline(
        d.start(a.context(new AbortController().signal)).then(() => undefined, (e: unknown) => e),
        5000,
        "start over ws:// without WebSocket",
      );
      assert.ok(err instanceof NatsDiscoveryError, `typed error, got ${err}`);
      assert.equal(err.code, "ENOWEBSOCKET");
      assert.match(err.message, /needs a global WebSocket/);
      assert.match(err.message, /nats:\/\/ or tls:\/\//);
      assert.ok(a.logger.has("error", /needs a global WebSocket/));
      await withDeadline(d.close(), 5000, "close");
      assert.equal(a.joinCalls.length, 0);
    });
  });

  it("with a global WebSocket, nodes autojoin over ws://", {
    skip: hasWebSocket ? false : "no global WebSocket here",
  }, async () => {
    const cluster = new FakeCluster();
    const nodes = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    const stop = new AbortController();
    const discoveries = nodes.map(() =>
      natsDiscovery({
        url: nats.wsUrl,
        subject: "ws",
        announceIntervalMs: 250,
        discoverWindowMs: 300,
      })
    );
    try {
      for (const [i, n] of nodes.entries()) {
        await withDeadline(discoveries[i].start(n.context(stop.signal)), 5000, "start");
      }
      await waitFor("one cluster over ws://", () => cluster.sameGroup(nodes));
      assert.ok(nodes.every((n) => n.logger.has("info", /connected to NATS/)));
    } finally {
      stop.abort();
      await Promise.all(discoveries.map((d) => withDeadline(d.close(), 5000, "close")));
    }
  });
});
