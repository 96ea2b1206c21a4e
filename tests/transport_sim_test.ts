// SimNetwork: virtual-time delivery, faults, streams and determinism.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  SimNetwork,
  type SimNetworkOptions,
  type Stream,
  type Transport,
  TransportError,
  VirtualClock,
} from "../transport/mod.ts";

function setup(opts: Partial<SimNetworkOptions> = {}): { clock: VirtualClock; net: SimNetwork } {
  const clock = new VirtualClock();
  return { clock, net: new SimNetwork({ clock, seed: 1, ...opts }) };
}

async function pair(
  net: SimNetwork,
  a = "10.0.0.1",
  b = "10.0.0.2",
): Promise<[Transport, Transport]> {
  return [
    await net.bind({ host: a, port: 7946, packets: true }),
    await net.bind({ host: b, port: 7946, packets: true }),
  ];
}

function record(t: Transport, clock: VirtualClock, log: string[]): void {
  t.onPacket((bytes, from) =>
    log.push(`${clock.now()} ${from.host}:${from.port} ${[...bytes].join(",")}`)
  );
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TransportError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe("SimNetwork packets", () => {
  it("honour latency and jitter in virtual time, per link overrides too", async () => {
    const { clock, net } = setup({ link: { latencyMs: 5 } });
    const [a, b] = await pair(net);
    const log: string[] = [];
    record(b, clock, log);
    a.sendPacket(b.address, new Uint8Array([1]));
    clock.advance(4.999);
    assert.deepEqual(log, []);
    clock.advance(0.001);
    assert.deepEqual(log, ["5 10.0.0.1:7946 1"]);
    net.setLink("10.0.0.1", "10.0.0.2", { latencyMs: 20, jitterMs: 10 });
    const times: number[] = [];
    b.onPacket(() => times.push(clock.now()));
    const t0 = clock.now();
    for (let i = 0; i < 200; i++) a.sendPacket(b.address, new Uint8Array([i]));
    clock.advance(100);
    assert.equal(times.length, 200);
    for (const t of times) assert.ok(t - t0 >= 20 && t - t0 < 30, `arrival ${t - t0}`);
    assert.ok(new Set(times).size > 150, "jitter spreads arrivals");
    // the reverse direction keeps the default
    const back: number[] = [];
    a.onPacket(() => back.push(clock.now()));
    b.sendPacket(a.address, new Uint8Array([9]));
    clock.advance(10);
    assert.deepEqual(back, [clock.now() - 5]);
    net.setLink("10.0.0.1", "10.0.0.2", null);
    times.length = 0;
    a.sendPacket(b.address, new Uint8Array([1]));
    clock.advance(5);
    assert.equal(times.length, 1);
  });

  it("loses packets at the configured rate (seeded, 10,000 packets)", async () => {
    const { clock, net } = setup({ seed: 99, link: { loss: 0.1 } });
    const [a, b] = await pair(net);
    let got = 0;
    b.onPacket(() => got++);
    for (let i = 0; i < 10_000; i++) a.sendPacket(b.address, new Uint8Array(8));
    clock.advance(10);
    const lost = net.stats.dropped.loss;
    assert.equal(got + lost, 10_000);
    assert.ok(Math.abs(lost - 1000) < 150, `lost ${lost}, expected about 1000`); // 5 sigma
    assert.equal(net.stats.packetsDelivered, got);
    assert.equal(net.stats.bytesDelivered, got * 8);
  });

  it("duplicates, and limits bandwidth", async () => {
    const { clock, net } = setup({ link: { duplicate: 1 } });
    const [a, b] = await pair(net);
    const log: string[] = [];
    record(b, clock, log);
    a.sendPacket(b.address, new Uint8Array([3]));
    clock.advance(5);
    assert.deepEqual(log, ["1 10.0.0.1:7946 3", "1 10.0.0.1:7946 3"]);
    assert.equal(net.stats.packetsDuplicated, 1);
    net.setDefaultLink({ duplicate: 0, bandwidth: 1000, latencyMs: 10 }); // 1000 bytes/s
    log.length = 0;
    const t0 = clock.now();
    const times: number[] = [];
    b.onPacket(() => times.push(clock.now() - t0));
    a.sendPacket(b.address, new Uint8Array(100));
    a.sendPacket(b.address, new Uint8Array(100));
    clock.advance(1000);
    assert.deepEqual(times, [110, 210]); // serialized one after the other, then latency
  });

  it("drops and counts: unknown host, no listener, no handler, bad port, closed sender", async () => {
    const { clock, net } = setup();
    const [a, b] = await pair(net);
    a.sendPacket({ host: "10.9.9.9", port: 1 }, new Uint8Array(1));
    a.sendPacket({ host: "10.0.0.2", port: 1234 }, new Uint8Array(1));
    a.sendPacket({ host: "10.0.0.2", port: 0 }, new Uint8Array(1));
    a.sendPacket(b.address, new Uint8Array(1)); // b has no handler yet
    const streamsOnly = await net.bind({ host: "10.0.0.3", port: 1, packets: false });
    streamsOnly.sendPacket(b.address, new Uint8Array(1));
    a.sendPacket(streamsOnly.address, new Uint8Array(1));
    clock.advance(5);
    const d = net.stats.dropped;
    assert.deepEqual(
      [d.noRoute, d.noListener, d.badAddress, d.noHandler, d.closed],
      [1, 2, 1, 1, 1],
    );
    b.onPacket(() => {
      throw new Error("bug");
    });
    a.sendPacket(b.address, new Uint8Array(1));
    clock.advance(5);
    assert.equal(net.stats.handlerErrors, 1);
    await a.close();
    a.sendPacket(b.address, new Uint8Array(1));
    assert.equal(net.stats.dropped.closed, 2);
  });

  it("bind: port 0 assigns, taken ports and wildcard hosts are refused, close frees", async () => {
    const { net } = setup();
    const a = await net.bind({ host: "10.0.0.1", port: 0, packets: true });
    const b = await net.bind({ host: "10.0.0.1", port: 0, packets: true });
    assert.ok(a.address.port > 0 && b.address.port > 0 && a.address.port !== b.address.port);
    await rejectsWith(
      net.bind({ host: "10.0.0.1", port: a.address.port, packets: false }),
      "EADDRINUSE",
    );
    await rejectsWith(net.bind({ host: "0.0.0.0", port: 1, packets: true }), "EADDRNOTAVAIL");
    await a.close();
    const again = await net.bind({ host: "10.0.0.1", port: a.address.port, packets: true });
    assert.equal(again.address.port, a.address.port);
  });
});

describe("SimNetwork faults", () => {
  it("partition blocks across groups (unlisted hosts form one group), heal restores", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    const c = await net.bind({ host: "10.0.0.3", port: 7946, packets: true });
    const log: string[] = [];
    for (const t of [a, b, c]) record(t, clock, log);
    net.partition([["10.0.0.1"]]);
    a.sendPacket(b.address, new Uint8Array([1])); // blocked
    b.sendPacket(c.address, new Uint8Array([2])); // same (unlisted) group
    c.sendPacket(a.address, new Uint8Array([3])); // blocked
    clock.advance(20);
    assert.deepEqual(log, ["10 10.0.0.2:7946 2"]);
    assert.equal(net.stats.dropped.partition, 2);
    net.heal();
    a.sendPacket(b.address, new Uint8Array([4]));
    // a packet in flight when the partition starts is lost
    b.sendPacket(a.address, new Uint8Array([5]));
    clock.advance(5);
    net.partition([["10.0.0.1", "10.0.0.3"], ["10.0.0.2"]]);
    clock.advance(10);
    assert.deepEqual(log.slice(1), []);
    c.sendPacket(a.address, new Uint8Array([6]));
    clock.advance(10);
    assert.deepEqual(log.slice(1), ["45 10.0.0.3:7946 6"]);
    assert.throws(() => net.partition([["x"], ["x"]]), /two partition groups/);
  });

  it("pause holds deliveries, sends and host timers until it ends", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    const log: string[] = [];
    record(a, clock, log);
    record(b, clock, log);
    const bClock = net.clockFor("10.0.0.2");
    bClock.setTimeout(() => log.push(`timer@${clock.now()}`), 50);
    const cancelled = bClock.setTimeout(() => log.push("cancelled"), 60);
    bClock.clearTimeout(cancelled);
    net.pause("10.0.0.2", 100);
    assert.ok(net.isPaused("10.0.0.2"));
    a.sendPacket(b.address, new Uint8Array([1])); // arrives at 10, held until 100
    clock.advance(20);
    a.sendPacket(b.address, new Uint8Array([2])); // arrives at 30, held
    b.sendPacket(a.address, new Uint8Array([3])); // leaves at 100, arrives 110
    clock.advance(200);
    assert.deepEqual(log, [
      "100 10.0.0.1:7946 1",
      "100 10.0.0.1:7946 2",
      "timer@100",
      "110 10.0.0.2:7946 3",
    ]);
    assert.equal(net.isPaused("10.0.0.2"), false);
  });

  it("kill: packets dropped, dials refused after a round trip, host timers gone, rebind restarts", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    let fired = false;
    net.clockFor("10.0.0.2").setTimeout(() => (fired = true), 5);
    const got: number[] = [];
    b.onPacket((x) => got.push(x[0]));
    a.sendPacket(b.address, new Uint8Array([1]));
    net.kill("10.0.0.2");
    const dial = a.dial(b.address, 1000);
    let settledAt = -1;
    const refused = rejectsWith(dial, "ECONNREFUSED").then(() => (settledAt = clock.now()));
    await clock.advanceAsync(100);
    await refused;
    assert.equal(settledAt, 20);
    assert.equal(got.length, 0);
    assert.equal(fired, false);
    assert.equal(net.stats.dropped.noListener, 1);
    const b2 = await net.bind({ host: "10.0.0.2", port: 7946, packets: true });
    b2.onPacket((x) => got.push(x[0]));
    a.sendPacket(b2.address, new Uint8Array([2]));
    clock.advance(10);
    assert.deepEqual(got, [2]);
  });
});

describe("SimNetwork silence (a host gone quiet) vs kill (a crashed process)", () => {
  it("silence: packets vanish, dials time out instead of being refused, a partition does not undo it", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    const c = await net.bind({ host: "10.0.0.3", port: 7946, packets: true });
    const got: string[] = [];
    b.onPacket((x) => got.push(`b${x[0]}`));
    a.onPacket((x) => got.push(`a${x[0]}`));
    b.onStream((s) => s.close());
    net.silence("10.0.0.2");
    a.sendPacket(b.address, new Uint8Array([1]));
    b.sendPacket(a.address, new Uint8Array([2]));
    const timedOut = rejectsWith(a.dial(b.address, 300), "ETIMEDOUT");
    // a closed port on the silent host is not refused either: nothing comes back
    const closedPort = rejectsWith(a.dial({ host: "10.0.0.2", port: 1 }, 300), "ETIMEDOUT");
    net.partition([["10.0.0.2", "10.0.0.1"], ["10.0.0.3"]]); // still silent inside its group
    await clock.advanceAsync(400);
    await timedOut;
    await closedPort;
    assert.deepEqual(got, []);
    assert.equal(net.stats.streamsRefused, 0);
    net.heal();
    net.silence("10.0.0.2", false);
    a.sendPacket(b.address, new Uint8Array([3]));
    c.sendPacket(a.address, new Uint8Array([4]));
    clock.advance(20);
    assert.deepEqual(got, ["b3", "a4"]);
    // the same host with its process killed instead: refused after a round trip
    net.kill("10.0.0.2");
    await rejectsWith(
      Promise.all([a.dial(b.address, 300), clock.advanceAsync(100)]),
      "ECONNREFUSED",
    );
  });
});

describe("SimNetwork streams", () => {
  async function connect(
    net: SimNetwork,
    clock: VirtualClock,
  ): Promise<{ a: Transport; b: Transport; client: Stream; server: Stream; openedAt: number }> {
    const [a, b] = await pair(net);
    let server: Stream | null = null;
    b.onStream((s) => (server = s));
    let client: Stream | null = null;
    const dialing = a.dial(b.address, 1000).then((s) => (client = s));
    while (client === null) await clock.advanceAsync(1);
    await dialing;
    assert.ok(server !== null);
    return { a, b, client, server, openedAt: clock.now() };
  }

  it("dial takes a round trip; bytes arrive in order after the latency, EOF after close", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10, jitterMs: 8 } });
    const { client, server, openedAt } = await connect(net, clock);
    assert.ok(openedAt >= 20 && openedAt < 37, `opened at ${openedAt}`);
    assert.equal(server.remote.host, "10.0.0.1");
    assert.notEqual(server.remote.port, 7946); // an ephemeral source port, as with TCP
    assert.equal(client.remote.port, 7946);
    const sent: number[] = [];
    for (let i = 0; i < 100; i++) {
      await client.write(new Uint8Array([i]));
      sent.push(i);
      await clock.advanceAsync(0.5); // jitter larger than the spacing: must not reorder
    }
    client.close();
    const got: number[] = [];
    const reading = (async () => {
      for (;;) {
        const c = await server.read();
        if (c === null) return;
        got.push(...c);
      }
    })();
    await clock.advanceAsync(100);
    await reading;
    assert.deepEqual(got, sent);
    await rejectsWith(server.write(new Uint8Array([1])), "ECLOSED");
    assert.equal(await client.read(), null);
    assert.equal(net.stats.streamBytesDelivered, 100);
  });

  it("carries a large payload both ways", async () => {
    const { clock, net } = setup();
    const { client, server } = await connect(net, clock);
    const big = new Uint8Array(4 << 20).map((_, i) => (i * 31) & 255);
    await client.write(big.subarray(0, 1 << 20));
    await client.write(big.subarray(1 << 20));
    await server.write(big);
    big[0] ^= 1; // writes copied their bytes
    await clock.advanceAsync(5);
    const readN = async (s: Stream, n: number): Promise<Uint8Array> => {
      const out = new Uint8Array(n);
      let off = 0;
      while (off < n) {
        const c = await s.read();
        assert.ok(c !== null);
        out.set(c, off);
        off += c.length;
      }
      return out;
    };
    big[0] ^= 1;
    assert.deepEqual(await readN(server, big.length), big);
    assert.deepEqual(await readN(client, big.length), big);
    client.close();
    server.close();
  });

  it("refused, timed out (unknown host, partition), and closed-transport dials", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    const results: string[] = [];
    const track = (name: string, p: Promise<unknown>): Promise<void> =>
      p.then(
        () => void results.push(`${name} ok`),
        (e: TransportError) => void results.push(`${name} ${e.code}@${clock.now()}`),
      );
    const all = [
      track("refused", a.dial({ host: "10.0.0.2", port: 1 }, 500)),
      track("unknown", a.dial({ host: "10.0.0.77", port: 1 }, 500)),
    ];
    await clock.advanceAsync(600);
    net.partition([["10.0.0.1"]]);
    b.onStream((s) => s.close());
    all.push(track("partitioned", a.dial(b.address, 300)));
    await clock.advanceAsync(400);
    net.heal();
    all.push(track("closed", a.dial(b.address, 300)));
    await a.close();
    await Promise.all(all);
    assert.deepEqual(results, [
      "refused ECONNREFUSED@20",
      "unknown ETIMEDOUT@500",
      "partitioned ETIMEDOUT@900",
      "closed ECLOSED@1000",
    ]);
    assert.equal(net.stats.streamsRefused, 1);
    assert.equal(net.stats.streamsTimedOut, 2);
    await rejectsWith(a.dial(b.address, 100), "ECLOSED");
  });

  it("a short partition stalls a stream; a long one breaks it on both sides", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 }, streamTimeoutMs: 1000 });
    const { client, server } = await connect(net, clock);
    net.partition([["10.0.0.1"]]);
    await client.write(new Uint8Array([1]));
    let got: Uint8Array | null | undefined;
    server.read().then((c) => (got = c));
    await clock.advanceAsync(500);
    assert.equal(got, undefined, "stalled while partitioned");
    net.heal();
    await clock.advanceAsync(300); // next retransmission gets through
    assert.deepEqual(got, new Uint8Array([1]));
    net.partition([["10.0.0.1"]]);
    await server.write(new Uint8Array([2]));
    let clientGot: Uint8Array | null | undefined;
    client.read().then((c) => (clientGot = c));
    await clock.advanceAsync(2000);
    assert.equal(clientGot, null);
    assert.equal(await server.read(), null);
    await rejectsWith(server.write(new Uint8Array([3])), "ECONNRESET");
    assert.equal(net.stats.streamsBroken, 1);
  });

  it("killing a peer resets its streams after the latency", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const { client } = await connect(net, clock);
    const t0 = clock.now();
    let at = -1;
    const reading = client.read().then((c) => {
      at = clock.now();
      return c;
    });
    net.kill("10.0.0.2");
    await clock.advanceAsync(50);
    assert.equal(await reading, null);
    assert.equal(at - t0, 10);
    await rejectsWith(client.write(new Uint8Array([1])), "ECONNRESET");
  });

  it("a paused acceptor gets the connection and bytes when the pause ends", async () => {
    const { clock, net } = setup({ link: { latencyMs: 10 } });
    const [a, b] = await pair(net);
    let acceptedAt = -1;
    b.onStream((s) => {
      acceptedAt = clock.now();
      s.read().then((c) => s.write(c ?? new Uint8Array(0)));
    });
    net.pause("10.0.0.2", 200);
    let client: Stream | null = null;
    a.dial(b.address, 1000).then((s) => (client = s));
    await clock.advanceAsync(300);
    assert.equal(acceptedAt, 200);
    assert.ok(client !== null);
    const c = client as Stream;
    await c.write(new Uint8Array([8]));
    const echo = c.read();
    await clock.advanceAsync(30);
    assert.deepEqual(await echo, new Uint8Array([8]));
  });
});

describe("SimNetwork determinism", () => {
  async function scenario(seed: number): Promise<string[]> {
    const clock = new VirtualClock();
    const net = new SimNetwork({
      clock,
      seed,
      link: { latencyMs: 3, jitterMs: 7, loss: 0.2, duplicate: 0.05 },
    });
    const log: string[] = [];
    const nodes: Transport[] = [];
    for (let i = 0; i < 10; i++) {
      const t = await net.bind({ host: `10.0.0.${i}`, port: 0, packets: true });
      t.onPacket((bytes, from) =>
        log.push(`${clock.now().toFixed(6)} ${from.host}>${t.address.host} ${bytes[0]}`)
      );
      t.onStream(async (s) => {
        const c = await s.read();
        log.push(
          `${clock.now().toFixed(6)} stream ${s.remote.host}>${t.address.host} ${c?.length}`,
        );
        s.close();
      });
      nodes.push(t);
    }
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < nodes.length; i++) {
        nodes[i].sendPacket(nodes[(i * 7 + round) % nodes.length].address, new Uint8Array([round]));
      }
      if (round % 10 === 0) {
        const size = round + 1;
        nodes[round % 10].dial(nodes[(round + 3) % 10].address, 100).then((s) =>
          s.write(new Uint8Array(size))
        );
      }
      await clock.advanceAsync(2);
    }
    await clock.advanceAsync(100);
    log.push(JSON.stringify(net.stats));
    return log;
  }

  it("the same seed gives the same delivery log; another seed another", async () => {
    const one = await scenario(42);
    const two = await scenario(42);
    assert.ok(one.length > 300);
    assert.equal(one.filter((l) => l.includes(" stream ")).length, 5);
    assert.deepEqual(one, two);
    assert.notDeepEqual(await scenario(43), one);
  });
});
