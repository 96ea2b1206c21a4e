// Validates the Go interop harness against Go itself: three real hashicorp/memberlist v0.2.2
// nodes driven through testing/go_peer.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GO_INSTALL_HINT,
  type GoPeer,
  goPeerSource,
  type PeerTuning,
  startGoPeer,
  stopAllPeers,
} from "../testing/go_peer.ts";
import { buildGoPeer } from "../testing/go_peer_build.ts";

// Shortened timings (same shape as MemberlistTuning): 3 nodes => suspicion 600 ms..3.6 s.
const FAST: Partial<PeerTuning> = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  gossipIntervalMs: 50,
  suspicionMult: 3,
  pushPullIntervalMs: 2000,
  gossipToTheDeadMs: 3000,
};

describe("go peer harness (real memberlist v0.2.2)", () => {
  let a: GoPeer, b: GoPeer, c: GoPeer;

  before(async () => {
    a = await startGoPeer({ name: "go-a", tuning: FAST, meta: "role=a" });
    b = await startGoPeer({ name: "go-b", tuning: FAST, join: [a.address] });
    c = await startGoPeer({ name: "go-c", tuning: FAST });
    const r = await c.join([b.address]);
    assert.equal(r.count, 1, `join failed: ${r.error}`);
  });

  after(async () => {
    await stopAllPeers();
  });

  it("reports its bound loopback address", () => {
    for (const p of [a, b, c]) assert.match(p.address, /^127\.0\.0\.1:[1-9]\d*$/);
    assert.equal(new Set([a.address, b.address, c.address]).size, 3);
  });

  it("three Go peers converge on the same member list", async () => {
    const names = ["go-a", "go-b", "go-c"];
    for (const p of [a, b, c]) {
      const members = await p.waitForMembers((ms) => ms.length === 3, 10_000);
      assert.deepEqual(members.map((m) => m.name).sort(), names);
      const ma = members.find((m) => m.name === "go-a");
      assert.equal(ma?.meta, "role=a");
      assert.equal(ma?.addr, a.address);
      assert.ok(members.every((m) => m.state === "alive"));
    }
    // join events reach every node (the own node included)
    for (const p of [a, b, c]) {
      for (const n of names) await p.waitFor((e) => e.event === "join" && e.node === n, 5000);
    }
  });

  it("a meta update is seen by the others", async () => {
    await b.setMeta("v=2");
    for (const p of [a, c]) {
      const ev = await p.waitFor((e) => e.event === "update" && e.node === "go-b", 5000);
      assert.equal(ev.meta, "v=2");
    }
  });

  it("a reliable user message arrives", async () => {
    await a.send("go-c", "hello-from-a");
    const ev = await c.waitFor((e) => e.event === "msg", 5000);
    assert.equal(ev.data, "hello-from-a");
  });

  it("a SIGKILLed peer is suspected, then reported gone by both survivors", async () => {
    const marks = [a.events.length, b.events.length];
    const killedAt = await c.kill();
    const [la, lb] = await Promise.all([
      a.waitFor((e) => e.event === "leave" && e.node === "go-c", 20_000, marks[0]),
      b.waitFor((e) => e.event === "leave" && e.node === "go-c", 20_000, marks[1]),
    ]);
    assert.ok(la.t_ms >= killedAt - 5 && lb.t_ms >= killedAt - 5);
    // death by failure detection: at least one survivor logged the suspicion itself
    const suspected = [a.events.slice(marks[0]), b.events.slice(marks[1])]
      .flat().some((e) => e.event === "suspect" && e.node === "go-c");
    assert.ok(suspected, "no 'Suspect go-c has failed' log line seen");
    for (const p of [a, b]) {
      const names = (await p.members()).map((m) => m.name).sort();
      assert.deepEqual(names, ["go-a", "go-b"]);
    }
  });

  it("a graceful leave is seen without any suspicion", async () => {
    const mark = a.events.length;
    await b.leave(2000);
    await a.waitFor((e) => e.event === "leave" && e.node === "go-b", 5000, mark);
    assert.ok(!a.events.slice(mark).some((e) => e.event === "suspect" && e.node === "go-b"));
    assert.deepEqual((await a.members()).map((m) => m.name), ["go-a"]);
    await b.stop();
    assert.ok(b.exited);
  });

  it("stop() ends a peer cleanly with an exit line", async () => {
    await a.stop();
    assert.ok(a.events.some((e) => e.event === "exit"));
    const { code } = await a.closed;
    assert.equal(code, 0);
  });
});

describe("go peer build", () => {
  it("names the Debian packages to install when the memberlist sources are missing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "go-peer-empty-"));
    try {
      await assert.rejects(
        buildGoPeer(goPeerSource(), join(dir, "bin"), join(dir, "cache"), dir),
        (err: Error) => err.message.includes(GO_INSTALL_HINT) && err.message.includes(dir),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
