/**
 * The chaos testbed itself, checked with real UDP traffic between five network namespaces:
 * reachability, measured loss per direction, partitions, heal, and complete teardown.
 * Skipped (with the reason printed) where namespaces cannot be created.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { EchoFleet, orderedPairs, uniqueTag } from "../../testing/echo_fleet.ts";
import {
  canCreateNamespaces,
  cleanupStaleNamespaces,
  createTestbed,
  existingNamespaces,
  rootInterfaceExists,
  type Testbed,
} from "../../testing/netns.ts";
import { run } from "../../testing/netns_exec.ts";

const HOSTS = 5;
const can = await canCreateNamespaces();
const skip: string | false = can.ok ? false : `network namespaces unavailable: ${can.reason}`;
if (skip) console.log(`chaos/netns_test: SKIPPED: ${skip}`);

/** Sends `count` packets over every ordered pair at once; returns the measurements keyed "a>b". */
async function allPairs(fleet: EchoFleet, label: string, count: number) {
  const pairs = orderedPairs(HOSTS);
  const results = await Promise.all(
    pairs.map(([a, b]) => fleet.measure(a, b, uniqueTag(`${label}${a}${b}`), count)),
  );
  return new Map(pairs.map(([a, b], i) => [`${a}>${b}`, results[i]]));
}

describe("netns testbed (5 namespaces, bridge, nftables)", { skip }, () => {
  let bed: Testbed | undefined;
  let fleet: EchoFleet | undefined;

  before(async () => {
    bed = await createTestbed({ hosts: HOSTS });
    fleet = await EchoFleet.start(bed);
  });

  after(async () => {
    await fleet?.stop();
    await bed?.destroy();
  });

  it("(a) with no rules every host reaches every other, and the root reaches every host", async () => {
    const results = await allPairs(fleet!, "a", 20);
    for (const [pair, m] of results) {
      assert.equal(m.received, 20, `${pair}: ${JSON.stringify(m)}`);
      assert.equal(m.echoes, 20, `${pair}: ${JSON.stringify(m)}`);
    }
    for (let h = 0; h < HOSTS; h++) {
      const r = await fleet!.probeFromRoot(h, uniqueTag(`root${h}`), 20);
      assert.equal(r.echoes, 20, `root -> host ${h}`);
    }
    // The addresses live only in the testbed: the host namespace has its own, the root only the probe's.
    const inside = await bed!.exec(0, "ip", ["-4", "-o", "addr", "show", "dev", "eth0"]);
    assert.match(inside.stdout, new RegExp(`inet ${bed!.address(0).replaceAll(".", "\\.")}/24`));
    const root = await run("ip", ["-4", "-o", "addr", "show"]);
    assert.ok(
      !root.stdout.includes(`${bed!.address(0)}/`),
      "a host address leaked into the root namespace",
    );
  });

  it("(b) 10% loss: measured loss over 2,000 packets is 5-15% in each direction; the probe port is exempt", async () => {
    await bed!.setLoss(100);
    const results = await allPairs(fleet!, "b", 2000);
    for (const [pair, m] of results) {
      assert.equal(m.sent, 2000);
      assert.ok(
        m.forwardLoss >= 0.05 && m.forwardLoss <= 0.15,
        `${pair} forward loss ${m.forwardLoss}: ${JSON.stringify(m)}`,
      );
      assert.ok(
        m.reverseLoss >= 0.05 && m.reverseLoss <= 0.15,
        `${pair} reverse loss ${m.reverseLoss}: ${JSON.stringify(m)}`,
      );
    }
    // Through the probe port nothing is dropped (a lossy path would lose ~19% of 500 round trips).
    for (let h = 0; h < HOSTS; h++) {
      const r = await fleet!.probeFromRoot(h, uniqueTag(`rootb${h}`), 500);
      assert.ok(
        r.echoes >= 495,
        `root -> host ${h}: ${r.echoes}/500 echoes under host-to-host loss`,
      );
    }
    assert.match(await bed!.rules(), /numgen random mod 1000 < 100 counter packets [1-9]/);
  });

  it("(c) partition {0,1}|{2,3,4} blocks across groups only (loss off)", async () => {
    await bed!.setLoss(0);
    await bed!.partition([[0, 1], [2, 3, 4]]);
    const side = (h: number) => (h <= 1 ? 0 : 1);
    const results = await allPairs(fleet!, "c", 20);
    for (const [pair, m] of results) {
      const [a, b] = pair.split(">").map(Number);
      if (side(a) === side(b)) {
        assert.equal(m.received, 20, `${pair} (same side): ${JSON.stringify(m)}`);
        assert.equal(m.echoes, 20, `${pair} (same side): ${JSON.stringify(m)}`);
      } else {
        assert.equal(m.received, 0, `${pair} (across): ${JSON.stringify(m)}`);
        assert.equal(m.echoes, 0, `${pair} (across): ${JSON.stringify(m)}`);
      }
    }
    for (let h = 0; h < HOSTS; h++) {
      const r = await fleet!.probeFromRoot(h, uniqueTag(`rootc${h}`), 20);
      assert.equal(r.echoes, 20, `root -> host ${h} during the partition`);
    }
  });

  it("(d) heal restores every path, after loss and partition together", async () => {
    await bed!.setLoss(300);
    await bed!.partition([[0], [1, 2], [3, 4]]);
    await bed!.heal();
    const results = await allPairs(fleet!, "d", 20);
    for (const [pair, m] of results) {
      assert.equal(m.received, 20, `${pair}: ${JSON.stringify(m)}`);
      assert.equal(m.echoes, 20, `${pair}: ${JSON.stringify(m)}`);
    }
    assert.doesNotMatch(await bed!.rules(), /drop/);
  });

  it("(e) destroy kills the programs and removes every namespace and interface; twice is fine", async () => {
    const names = [bed!.bridgeNamespace, ...bed!.hostNamespaces];
    for (const ns of names) {
      assert.ok(existingNamespaces().includes(ns), `${ns} should exist before destroy`);
    }
    const child = fleet!.child(0);
    await bed!.destroy();
    await bed!.destroy();
    assert.ok(child.exitCode !== null || child.signalCode !== null, "the echo program still runs");
    const listed = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    for (const ns of names) assert.ok(!listed.includes(ns), `${ns} survived destroy:\n${listed}`);
    assert.equal(
      rootInterfaceExists(bed!.probeInterface),
      false,
      `${bed!.probeInterface} survived destroy`,
    );
    await assert.rejects(bed!.setLoss(10), /destroyed/);
  });
});

describe("netns stale cleanup", { skip }, () => {
  it("removes namespaces of a dead owner, keeps those of a live one", async () => {
    const dead = spawnSync("true").pid; // a pid that has exited
    assert.ok(typeof dead === "number");
    const stale = `rcx-abcdef-${dead}-h0`;
    const mine = `rcx-abcdef-${process.pid}-h1`;
    try {
      for (const ns of [stale, mine]) assert.equal((await run("ip", ["netns", "add", ns])).code, 0);
      const removed = await cleanupStaleNamespaces({ prefix: "rcx" });
      assert.ok(removed.includes(stale), `removed: ${removed.join(", ")}`);
      assert.ok(!removed.includes(mine));
      assert.ok(!existingNamespaces().includes(stale));
      assert.ok(existingNamespaces().includes(mine));
    } finally {
      for (const ns of [stale, mine]) await run("ip", ["netns", "del", ns]);
    }
  });

  it("rejects prefixes that would not fit interface names", async () => {
    await assert.rejects(createTestbed({ hosts: 1, prefix: "much-too-long-prefix" }), /prefix/);
    await assert.rejects(createTestbed({ hosts: 0 }), /hosts/);
  });
});
