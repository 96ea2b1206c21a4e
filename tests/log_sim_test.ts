// The replicated log on the simulated network (VirtualClock + SimNetwork): WAN latency,
// jitter, a partition during writes, a killed node. Deterministic: same seed, same run.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";
import { SimNetwork } from "../transport/sim/network.ts";
import { type ReplicatedLog, ReplicatedLog as Log } from "../log/mod.ts";
import { headsOf, wanTuning } from "../testing/log_cluster.ts";

const HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
const NAMES = ["n1", "n2", "n3", "n4", "n5"];

async function simCluster(
  seed: number,
): Promise<{ clock: VirtualClock; net: SimNetwork; logs: ReplicatedLog[] }> {
  const clock = new VirtualClock(1_700_000_000_000);
  const net = new SimNetwork({
    clock,
    seed,
    link: { latencyMs: 20, jitterMs: 5 },
    streamTimeoutMs: 3000,
  });
  const logs = await Promise.all(HOSTS.map((host, i) =>
    Log.create({
      name: NAMES[i],
      environment: "wan",
      network: net,
      clock: net.clockFor(host),
      bind: { host, port: 3320 },
      tuning: { ...wanTuning, syncIntervalMs: 1000, connectTimeoutMs: 2000 },
      quorumTimeoutMs: 5000,
    })
  ));
  return { clock, net, logs };
}

function wireAll(logs: ReplicatedLog[]): void {
  for (const l of logs) {
    l.setPeers(logs.filter((o) => o !== l).map((o) => ({ name: o.name, address: o.address! })));
  }
}

async function runUntil(
  clock: VirtualClock,
  cond: () => boolean,
  what: string,
  maxMs = 120_000,
): Promise<void> {
  const end = clock.now() + maxMs;
  while (!cond()) {
    if (clock.now() >= end) throw new Error(`simulated time ran out waiting for ${what}`);
    await clock.advanceAsync(50);
  }
}

function same(logs: ReplicatedLog[]): boolean {
  const h = JSON.stringify(headsOf(logs[0]));
  const d = logs[0].cacheDigest();
  return logs.every((l) => JSON.stringify(headsOf(l)) === h && l.cacheDigest() === d);
}

async function writes(log: ReplicatedLog, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i % 5 === 0) void log.cache.delete(`k${i % 7}`);
    else void log.cache.set(`k${i % 7}`, `${log.name}-${tag}-${i}`);
  }
  await Promise.resolve();
}

describe("replicated log on a simulated WAN", () => {
  it("converges after a partition during writes, and after a node dies", async () => {
    const { clock, net, logs } = await simCluster(42);
    try {
      wireAll(logs);
      await runUntil(clock, () => logs.every((l) => l.connectedPeers().length === 4), "full mesh");
      for (const l of logs) await writes(l, 30, "before");
      await clock.advanceAsync(10);
      net.partition([[HOSTS[0], HOSTS[1]], [HOSTS[2], HOSTS[3], HOSTS[4]]]);
      for (const l of logs) await writes(l, 40, "during");
      // the minority cannot reach a quorum of 5; the majority can
      const minority = logs[0].appendText("minority", { ack: "quorum", timeout: 2000 }).then(
        () => "ok",
        (e) => e.name,
      );
      const majority = logs[2].appendText("majority", { ack: "quorum", timeout: 2000 }).then(
        () => "ok",
        (e) => e.name,
      );
      await clock.advanceAsync(2500);
      assert.equal(await minority, "QuorumError");
      assert.equal(await majority, "ok");
      await clock.advanceAsync(5000);
      net.heal();
      await runUntil(
        clock,
        () => same(logs) && logs.every((l) => l.connectedPeers().length === 4),
        "healed convergence",
      );
      assert.deepEqual(headsOf(logs[0]), { n1: 71, n2: 70, n3: 71, n4: 70, n5: 70 });

      // n5 acknowledges a quorum append, then dies: the entry survives on the others
      const acked = await (async () => {
        const p = logs[4].appendText("last words", { ack: "quorum" });
        await runUntil(
          clock,
          () => logs.filter((l) => l.heads().get("n5") === 71).length >= 3,
          "quorum holders",
        );
        return p;
      })();
      assert.equal(acked.seq, 71);
      net.kill(HOSTS[4]);
      const alive = logs.slice(0, 4);
      for (const l of alive) {
        l.setPeers(
          alive.filter((o) => o !== l).map((o) => ({ name: o.name, address: o.address! })),
        );
      }
      await writes(logs[1], 10, "after");
      await runUntil(clock, () => same(alive), "convergence without n5");
      for (const l of alive) assert.equal(l.heads().get("n5"), 71);
    } finally {
      await Promise.all(logs.slice(0, 4).map((l) => l.close()));
    }
  });
});
