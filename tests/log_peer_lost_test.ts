// The log's crash hints (`onPeerLost`) on real loopback sockets: a listed peer's connection
// ending from its side, and its log port refusing a redial, are reported; a connection this
// node closes (the peer left the list) is not.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { nodeNetwork } from "../transport/node.ts";
import { ReplicatedLog } from "../log/mod.ts";
import { addr, closeAll, testTuning, waitFor } from "../testing/log_cluster.ts";

let logs: ReplicatedLog[] = [];

afterEach(async () => {
  await closeAll(logs);
  logs = [];
});

async function start(name: string, lost: string[]): Promise<ReplicatedLog> {
  const log = await ReplicatedLog.create({
    name,
    environment: "local",
    network: nodeNetwork,
    bind: { host: "127.0.0.1", port: 0 },
    tuning: testTuning,
    onPeerLost: (peer, reason) => lost.push(`${peer}: ${reason}`),
  });
  logs.push(log);
  return log;
}

function pair(a: ReplicatedLog, b: ReplicatedLog): void {
  a.setPeers([{ name: b.name, address: addr(b) }]);
  b.setPeers([{ name: a.name, address: addr(a) }]);
}

describe("log: crash hints", () => {
  it("a listed peer gone without this node closing: lost connection, then refused redials", async () => {
    const lostByA: string[] = [];
    const a = await start("a", lostByA);
    const b = await start("b", []);
    pair(a, b);
    await waitFor(() => a.connectedPeers().includes("b"), "connected");
    await b.close(); // its process is gone as far as a can tell: the connection just ends
    await waitFor(
      () => lostByA.includes("b: log connection lost without goodbye"),
      `lost connection reported (${lostByA})`,
    );
    // a dials b ("a" < "b") on its next sync tick: the port refuses
    await waitFor(
      () => lostByA.includes("b: log port refused the connection"),
      `refused redial reported (${lostByA})`,
    );
  });

  it("a connection this node closes (the peer left the list) is no hint", async () => {
    const lostByA: string[] = [];
    const lostByB: string[] = [];
    const a = await start("a", lostByA);
    const b = await start("b", lostByB);
    pair(a, b);
    await waitFor(() => a.connectedPeers().includes("b"), "connected");
    a.setPeers([]);
    b.setPeers([]); // b saw a leave too, as membership tells both sides
    await waitFor(() => a.connectedPeers().length === 0, "disconnected");
    await new Promise((r) => setTimeout(r, 4 * testTuning.syncIntervalMs));
    assert.deepEqual(lostByA, []);
    assert.deepEqual(lostByB, []);
  });
});
