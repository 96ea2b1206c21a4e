/**
 * Static (`members`) discovery: retry with capped exponential backoff and jitter, re-join of
 * listed members missing from the cluster, host names resolved every round.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { discoverPeers, staticDiscovery } from "../discovery/mod.ts";
import { backoffDelay } from "../discovery/retry.ts";
import { formatHostPort } from "../transport/address.ts";
import type { Clock, HostPort, TimerHandle } from "../transport/types.ts";
import { FakeCluster, waitFor, withDeadline } from "../testing/fake_cluster.ts";

/** A clock whose time moves only when the test says so; remembers every delay asked for. */
class ManualClock implements Clock {
  readonly delays: number[] = [];
  #now = 0;
  #timers: Map<number, { at: number; fn: () => void }> = new Map();
  #next = 1;
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  advance(ms: number): void {
    this.#now += ms;
    for (const [id, t] of [...this.#timers]) {
      if (t.at <= this.#now) {
        this.#timers.delete(id);
        t.fn();
      }
    }
  }
}

const key = (a: HostPort): string => formatHostPort(a);

describe("backoffDelay", () => {
  it("grows exponentially, is capped, and jitters within [half, full]", () => {
    const o = { initialMs: 100, maxMs: 1000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 60].map((n) => backoffDelay(o, n, () => 0.999999)), [
      100,
      200,
      400,
      800,
      1000,
      1000,
      1000,
    ]);
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(o, n, () => 0)), [
      50,
      100,
      200,
      400,
      500,
    ]);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(o, 2, Math.random);
      assert.ok(d >= 200 && d <= 400, `jittered delay ${d} within [200, 400]`);
    }
  });
});

describe("static discovery", () => {
  it("retries with capped exponential backoff until a listed member answers", async () => {
    const cluster = new FakeCluster();
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    const clock = new ManualClock();
    const stop = new AbortController();
    const ctx = a.context(stop.signal, clock);
    let failuresLeft = 4;
    const joinTargets: string[][] = [];
    const failingCtx = {
      ...ctx,
      join: (addresses: HostPort[]): Promise<number> => {
        joinTargets.push(addresses.map(key));
        if (failuresLeft-- > 0) return Promise.resolve(0);
        return ctx.join(addresses);
      },
    };
    const d = staticDiscovery({
      members: [key(a.self), key(b.self)], // lists itself too, as shared configs do
      initialBackoffMs: 100,
      maxBackoffMs: 300,
      rejoinIntervalMs: 5000,
      random: () => 0.999999,
    });
    await d.start(failingCtx);
    for (let round = 1; round <= 5; round++) {
      await waitFor(`round ${round} scheduled its next check`, () => clock.delays.length === round);
      clock.advance(clock.delays[round - 1]);
    }
    await waitFor("sixth check scheduled", () => clock.delays.length === 6);
    // four failures: 100, 200, 300 (capped), 300; then success: the rejoin interval
    assert.deepEqual(clock.delays.slice(0, 5), [100, 200, 300, 300, 5000]);
    assert.equal(joinTargets.length, 5);
    assert.ok(
      joinTargets.every((t) => t.length === 1 && t[0] === key(b.self)),
      "joins b, never itself",
    );
    assert.ok(cluster.sameGroup([a, b]));
    // once b is a member, further checks join nothing
    assert.equal(clock.delays[5], 5000);
    assert.equal(joinTargets.length, 5);
    assert.ok(a.logger.has("warn", /no listed member answered; retrying/));
    assert.ok(a.logger.has("info", /joined through 1 listed member/));
    await withDeadline(d.close(), 5000, "close");
    assert.equal(clock.pending, 0, "close cancels the pending timer");
  });

  it("re-joins a listed member that went missing from the cluster (healed partition)", async () => {
    const cluster = new FakeCluster();
    const nodes = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    const members = nodes.map((n) => key(n.self));
    const running = nodes.map((n) => {
      const stop = new AbortController();
      const d = staticDiscovery({
        members,
        initialBackoffMs: 10,
        maxBackoffMs: 50,
        rejoinIntervalMs: 50,
      });
      return { d, stop, start: d.start(n.context(stop.signal)) };
    });
    try {
      await Promise.all(running.map((r) => r.start));
      await waitFor("one cluster", () => cluster.sameGroup(nodes));
      const [a, b, c] = nodes;
      const callsBefore = a.joinCalls.length + b.joinCalls.length;
      cluster.partition(c);
      assert.ok(!cluster.sameGroup(nodes));
      await waitFor("healed", () => cluster.sameGroup(nodes));
      const later = [...a.joinCalls, ...b.joinCalls, ...c.joinCalls].slice(callsBefore).flat().map(
        key,
      );
      assert.ok(later.length > 0, "the heal came from a re-join");
    } finally {
      for (const r of running) r.stop.abort();
      await Promise.all(running.map((r) => withDeadline(r.d.close(), 5000, "close")));
    }
  });

  it("resolves host names on every round", async () => {
    const cluster = new FakeCluster();
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    const answers = [["127.0.0.9"], ["127.0.0.9"], ["127.0.0.1"]]; // b "moves" to its real address
    const asked: string[] = [];
    const d = staticDiscovery({
      members: [`node-b:${b.self.port}`],
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      rejoinIntervalMs: 10_000,
      resolve: (host) => {
        asked.push(host);
        return Promise.resolve(answers[Math.min(asked.length - 1, answers.length - 1)]);
      },
    });
    const stop = new AbortController();
    await d.start(a.context(stop.signal));
    try {
      await waitFor("joined b at its new address", () => cluster.sameGroup([a, b]));
      assert.ok(asked.length >= 3 && asked.every((h) => h === "node-b"));
      const targets = a.joinCalls.flat().map(key);
      assert.ok(targets.includes(`127.0.0.9:${b.self.port}`), "tried the stale address first");
      assert.ok(targets.includes(key(b.self)));
    } finally {
      await withDeadline(d.close(), 5000, "close");
    }
  });

  it("keeps retrying a member whose name does not resolve, and says so", async () => {
    const cluster = new FakeCluster();
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    let calls = 0;
    const d = staticDiscovery({
      members: [`node-b:${b.self.port}`],
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      resolve: () => (++calls <= 2
        ? Promise.reject(new Error("ENOTFOUND node-b"))
        : Promise.resolve(["127.0.0.1"])),
    });
    const stop = new AbortController();
    await d.start(a.context(stop.signal));
    try {
      await waitFor("joined once the name resolved", () => cluster.sameGroup([a, b]));
      assert.ok(a.logger.has("warn", /cannot resolve listed member node-b/));
    } finally {
      stop.abort(); // the abort signal alone stops it; close still resolves
      await withDeadline(d.close(), 5000, "close");
    }
  });

  it("resolves real host names through the system resolver", async () => {
    const cluster = new FakeCluster();
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    const d = staticDiscovery({
      members: [`localhost:${b.self.port}`],
      initialBackoffMs: 5,
      maxBackoffMs: 20,
    });
    const stop = new AbortController();
    await d.start(a.context(stop.signal));
    try {
      // localhost is 127.0.0.1 (and maybe ::1): one of them is b
      await waitFor("joined b through localhost", () => cluster.sameGroup([a, b]));
    } finally {
      await withDeadline(d.close(), 5000, "close");
    }
  });

  it("stops joining after close", async () => {
    const cluster = new FakeCluster();
    const [a, b] = [cluster.add("a"), cluster.add("b")];
    b.alive = false;
    const d = staticDiscovery({ members: [key(b.self)], initialBackoffMs: 5, maxBackoffMs: 10 });
    await d.start(a.context(new AbortController().signal));
    await waitFor("a few attempts", () => a.joinCalls.length >= 3);
    await withDeadline(d.close(), 5000, "close");
    const n = a.joinCalls.length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(a.joinCalls.length, n);
    assert.ok(!cluster.sameGroup([a, b]));
  });

  it("can be consumed as an async iterable of peer batches", async () => {
    const self = { host: "127.0.0.1", port: 41000 };
    const d = staticDiscovery({
      members: ["127.0.0.1:41000", "127.0.0.1:41001", "127.0.0.1:41002"],
    });
    const batches: string[][] = [];
    for await (const peers of discoverPeers(d, { self, nodeName: "probe" })) {
      batches.push(peers.map(key));
      break; // closes the discovery
    }
    assert.deepEqual(batches, [["127.0.0.1:41001", "127.0.0.1:41002"]]);
    await withDeadline(d.close(), 5000, "second close is harmless");
  });

  it("the async iterable ends when its signal aborts", async () => {
    const d = staticDiscovery({ members: ["127.0.0.1:41001"], rejoinIntervalMs: 10 });
    const stop = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (
        const peers of discoverPeers(d, {
          self: { host: "127.0.0.1", port: 41000 },
          nodeName: "p",
          signal: stop.signal,
        })
      ) {
        seen.push(...peers.map(key));
      }
    })();
    await waitFor("first batch", () => seen.length === 1);
    stop.abort();
    await withDeadline(loop, 5000, "iteration end");
    assert.deepEqual(seen, ["127.0.0.1:41001"]);
  });
});
