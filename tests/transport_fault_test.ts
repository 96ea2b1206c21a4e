// faultyNetwork: delay, jitter, loss and pauses around a Network (simulated and real).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  faultyNetwork,
  nodeNetwork,
  seededRandom,
  SimNetwork,
  type Stream,
  type Transport,
  VirtualClock,
} from "../transport/mod.ts";

async function simPair(faults: Parameters<typeof faultyNetwork>[1] = {}) {
  const clock = new VirtualClock();
  const sim = new SimNetwork({ clock, seed: 1, link: { latencyMs: 1 } });
  const net = faultyNetwork(sim, { clock, random: seededRandom(3), ...faults });
  const a = await net.bind({ host: "10.0.0.1", port: 1, packets: true });
  // the peer is not wrapped: only a's faults apply
  const b = await sim.bind({ host: "10.0.0.2", port: 1, packets: true });
  return { clock, sim, net, a, b };
}

describe("faultyNetwork over the simulator (virtual time)", () => {
  it("delays and jitters outgoing packets, copying their bytes", async () => {
    const { clock, a, b, net } = await simPair({ delayMs: 50, jitterMs: 20 });
    const times: number[] = [];
    const values: number[] = [];
    b.onPacket((bytes) => {
      times.push(clock.now());
      values.push(bytes[0]);
    });
    const buf = new Uint8Array([7]);
    a.sendPacket(b.address, buf);
    buf[0] = 8; // reused by the caller: the delayed packet keeps its bytes
    for (let i = 0; i < 99; i++) a.sendPacket(b.address, new Uint8Array([1]));
    clock.advance(49);
    assert.equal(times.length, 0);
    clock.advance(100);
    assert.equal(times.length, 100);
    assert.ok(values.includes(7) && !values.includes(8));
    for (const t of times) assert.ok(t >= 51 && t < 71, `arrival ${t}`);
    assert.equal(net.stats.packetsDelayed, 100);
  });

  it("drops at the configured rate and can be retuned at runtime", async () => {
    const { clock, a, b, net } = await simPair({ loss: 0.3 });
    let got = 0;
    b.onPacket(() => got++);
    for (let i = 0; i < 5000; i++) a.sendPacket(b.address, new Uint8Array(1));
    clock.advance(10);
    assert.equal(got + net.stats.packetsDropped, 5000);
    assert.ok(
      Math.abs(net.stats.packetsDropped - 1500) < 200,
      `dropped ${net.stats.packetsDropped}`,
    );
    net.set({ loss: 0 });
    got = 0;
    for (let i = 0; i < 100; i++) a.sendPacket(b.address, new Uint8Array(1));
    clock.advance(10);
    assert.equal(got, 100);
    assert.throws(() => net.set({ loss: 2 }), RangeError);
    assert.throws(() => faultyNetwork(nodeNetwork, { delayMs: -1 }), RangeError);
  });

  it("pause holds packets both ways, inbound streams, dials and stream reads", async () => {
    const { clock, a, b, net } = await simPair();
    const log: string[] = [];
    a.onPacket((bytes) => log.push(`a got ${bytes[0]} @${clock.now()}`));
    b.onPacket((bytes) => log.push(`b got ${bytes[0]} @${clock.now()}`));
    net.pause(100);
    a.sendPacket(b.address, new Uint8Array([1])); // leaves at 100
    b.sendPacket(a.address, new Uint8Array([2])); // arrives at 1, held to 100
    clock.advance(150);
    assert.deepEqual(log, ["a got 2 @100", "b got 1 @101"]);
    assert.equal(net.stats.packetsHeld, 1);

    // inbound stream during a pause: the handler runs when the pause ends
    let acceptedAt = -1;
    let server: Stream | null = null;
    a.onStream((s) => {
      acceptedAt = clock.now();
      server = s;
    });
    net.pause(200); // until 350
    let client: Stream | null = null;
    b.dial(a.address, 1000).then((s) => (client = s));
    await clock.advanceAsync(300);
    assert.equal(acceptedAt, 350);
    assert.ok(client !== null && server !== null);
    // a read that completes during a pause resolves when it ends
    assert.equal(clock.now(), 450);
    net.pause(100); // until 550
    let readAt = -1;
    (server as Stream).read().then(() => (readAt = clock.now()));
    await (client as Stream).write(new Uint8Array([5]));
    await clock.advanceAsync(200);
    assert.equal(readAt, 550);
    // a dial started during a pause starts when it ends
    b.onStream((s) => s.close());
    net.pause(50); // until 700
    let dialedAt = -1;
    a.dial(b.address, 1000).then(() => (dialedAt = clock.now()));
    await clock.advanceAsync(100);
    assert.equal(dialedAt, 702); // 700 + round trip of 2 × 1 ms
    await a.close();
  });
});

describe("faultyNetwork over real sockets", () => {
  it("delays real packets, and close cancels what is still delayed", async () => {
    const net = faultyNetwork(nodeNetwork, { delayMs: 40 });
    const open: Transport[] = [];
    try {
      const a = await net.bind({ host: "127.0.0.1", port: 0, packets: true });
      open.push(a);
      const b = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: true });
      open.push(b);
      const arrivals: number[] = [];
      const started = performance.now();
      b.onPacket((bytes) => arrivals.push(bytes[0]));
      a.sendPacket(b.address, new Uint8Array([1]));
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(arrivals, [], "not before the delay");
      const deadline = performance.now() + 5000;
      while (arrivals.length === 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(arrivals, [1]);
      assert.ok(performance.now() - started >= 39);
      // a packet still delayed at close is never sent, and leaves no timer behind
      a.sendPacket(b.address, new Uint8Array([2]));
      await a.close();
      await new Promise((r) => setTimeout(r, 80));
      assert.deepEqual(arrivals, [1]);
    } finally {
      await Promise.all(open.map((t) => t.close()));
    }
  });
});
