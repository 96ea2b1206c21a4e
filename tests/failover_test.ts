/**
 * The fast path for crashed processes (memberlist/refusal.ts) on real loopback sockets.
 *
 * - kill -9 of a node process (three processes of testing/ts_peer.ts, lan preset): each
 *   survivor declares it dead without anyone suspecting it (the refused TCP fallback of a
 *   regular probe is the evidence);
 * - a Go memberlist v0.2.2 peer follows our dead message: it reports the member gone without
 *   ever reaching its own suspicion timeout;
 * - a process restarting in place within the refusal window is not declared dead;
 * - cluster(): a node that stops without leaving is declared failed by both survivors, with
 *   no suspicion, from the log connection the survivors lose (the cluster's hint).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Member, Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { formatHostPort, nodeNetwork } from "../transport/mod.ts";
import { presets } from "../presets/mod.ts";
import { cluster, type ClusterStanza } from "../cluster/mod.ts";
import {
  type PeerEvent,
  type PeerProcess,
  startGoPeer,
  startPeerProcess,
  stopAllPeers,
} from "../testing/go_peer.ts";
import { ensureGoPeerBuilt } from "../testing/go_peer_build.ts";
import { isDeno } from "../testing/runtime.ts";

const WAIT_MS = 60_000; // generous: the machine may be loaded; only guards against hangs

after(async () => {
  await stopAllPeers();
});

function startTsPeer(name: string, join?: string): Promise<PeerProcess> {
  const script = fileURLToPath(
    new URL(`../testing/ts_peer.${isDeno ? "ts" : "js"}`, import.meta.url),
  );
  const prefix = isDeno ? ["run", "-A", "--quiet", script] : [script];
  return startPeerProcess(process.execPath, prefix, {
    name,
    preset: "lan",
    join: join ? [join] : undefined,
    readyTimeoutMs: 120_000,
  });
}

const about = (name: string) => (e: PeerEvent) => e.node === name;

async function goAvailable(): Promise<string | false> {
  try {
    await ensureGoPeerBuilt();
    return false;
  } catch (err) {
    return `Go memberlist peer unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
}
const noGo = await goAvailable();
if (noGo) console.log(`failover_test: Go interop case SKIPPED: ${noGo}`);

describe("failover on a crashed process (real sockets)", () => {
  it("kill -9 of a node process: every survivor declares it dead without suspecting it", async () => {
    const a = await startTsPeer("fa");
    const [b, c] = await Promise.all([startTsPeer("fb", a.address), startTsPeer("fc", a.address)]);
    try {
      await Promise.all(
        [a, b, c].map((p) => p.waitForMembers((ms) => ms.length === 3, WAIT_MS, 50)),
      );
      const marks = [a.events.length, b.events.length];
      await c.kill();
      const gone = (e: PeerEvent) => e.event === "leave" && e.node === "fc";
      await Promise.all([a.waitFor(gone, WAIT_MS, marks[0]), b.waitFor(gone, WAIT_MS, marks[1])]);
      for (const [p, mark] of [[a, marks[0]], [b, marks[1]]] as const) {
        const seen = p.events.slice(mark).filter(about("fc")).map((e) => e.event);
        assert.ok(!seen.includes("suspect"), `${p.name} suspected fc first: ${seen}`);
        assert.equal(p.events.slice(mark).find(gone)?.kind, "dead");
      }
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });

  it("a Go memberlist peer follows our dead message (no suspicion timeout of its own)", {
    skip: noGo,
  }, async () => {
    const ours = await Memberlist.create({
      name: "ours",
      network: nodeNetwork,
      bind: { host: "127.0.0.1", port: 0 },
      tuning: presets.lan.memberlist,
    });
    // The Go peer probes rarely: its own suspicion could not end before ~19 s.
    const go = await startGoPeer({
      name: "go",
      preset: "lan",
      tuning: { probeIntervalMs: 10_000 },
      join: [formatHostPort(ours.address)],
    });
    const victim = await startGoPeer({ name: "victim", preset: "lan", join: [go.address] });
    try {
      await go.waitForMembers((ms) => ms.length === 3, WAIT_MS, 50);
      const dead = new Promise<Member>((resolve) =>
        ours.on("dead", (m) => m.name === "victim" && resolve(m))
      );
      const mark = go.events.length;
      await victim.kill();
      await dead;
      assert.ok(ours.counters().crashDeaths >= 1, "ours declared it from refusals");
      await go.waitFor((e) => e.event === "leave" && e.node === "victim", WAIT_MS, mark);
      const goSaw = go.events.slice(mark).filter(about("victim")).map((e) => e.event);
      assert.ok(!goSaw.includes("failed"), `the Go peer ran its own timeout: ${goSaw}`);
    } finally {
      await Promise.all([go.stop(), victim.stop()]);
      await ours.shutdown();
    }
  });

  it("a process restarting in place within the refusal window is not declared dead", async () => {
    // a wide window: a loaded machine must still restart within it
    const tuning: MemberlistTuning = { ...presets.lan.memberlist, refusalWindowMs: 2_000 };
    const start = (name: string, port = 0) =>
      Memberlist.create({
        name,
        network: nodeNetwork,
        bind: { host: "127.0.0.1", port },
        tuning,
      });
    const a = await start("ra");
    const b = await start("rb");
    let c = await start("rc");
    const deaths: string[] = [];
    for (const l of [a, b]) l.on("dead", (m) => deaths.push(`${l.name} saw ${m.name} dead`));
    try {
      await b.join([formatHostPort(a.address)]);
      await c.join([formatHostPort(a.address)]);
      const deadline = Date.now() + WAIT_MS;
      while (![a, b, c].every((l) => l.numMembers() === 3)) {
        assert.ok(Date.now() < deadline, "never converged");
        await new Promise((r) => setTimeout(r, 20));
      }
      const port = c.address.port;
      await c.shutdown(); // the process is gone: its ports refuse
      assert.equal(a.probeNow("rc", "test: log connection lost"), true);
      assert.equal(b.probeNow("rc", "test: log connection lost"), true);
      await new Promise((r) => setTimeout(r, 100));
      c = await start("rc", port); // back in place, under the same name
      await new Promise((r) => setTimeout(r, 4_000));
      assert.deepEqual(deaths, []);
      for (const l of [a, b]) {
        assert.equal(l.counters().crashChecks, 1);
        assert.equal(l.counters().crashDeaths, 0);
      }
    } finally {
      await Promise.all([a.shutdown(), b.shutdown(), c.shutdown()]);
    }
  });

  it("cluster(): a node gone without leaving is failed by both survivors from the lost log connection", async () => {
    const stanza = (members?: string[]): ClusterStanza => ({
      environment: "lan",
      bind_address: "127.0.0.1",
      bind_port: 0,
      memberlist_bind_address: "127.0.0.1",
      memberlist_bind_port: 0,
      ...(members ? { members } : {}),
    });
    const a = await cluster(stanza(), { name: "ca" });
    const b = await cluster(stanza([a.addresses.memberlist!]), { name: "cb" });
    const c = await cluster(stanza([a.addresses.memberlist!]), { name: "cc" });
    const seen: string[] = [];
    for (const n of [a, b]) {
      n.on("member-suspect", (m) => seen.push(`${n.name} suspect ${m.name}`));
      n.on("member-failed", (m) => seen.push(`${n.name} failed ${m.name}`));
    }
    try {
      const deadline = Date.now() + WAIT_MS;
      while (
        ![a, b].every((n) => n.log.connectedPeers().includes("cc")) ||
        ![a, b, c].every((n) => n.members().filter((m) => m.state === "alive").length === 3)
      ) {
        assert.ok(Date.now() < deadline, "cluster never formed");
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.close(); // no leave: members see it fail
      while (!(seen.includes("ca failed cc") && seen.includes("cb failed cc"))) {
        assert.ok(Date.now() < deadline, `not failed everywhere: ${seen}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(seen.filter((s) => s.includes("suspect")), []);
      // both survivors checked it themselves: each lost its log connection to it
      for (const n of [a, b]) assert.ok(n.stats().memberlist!.crashChecks >= 1, n.name);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
