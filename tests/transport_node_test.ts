// Real loopback sockets: the node:dgram + node:net transport.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import { nodeNetwork, type NodeTransport, type Stream, TransportError } from "../transport/mod.ts";
import { HIGH_WATER } from "../transport/node_stream.ts";

const open: NodeTransport[] = [];
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

async function bind(host = "127.0.0.1", port = 0, packets = true): Promise<NodeTransport> {
  const t = await nodeNetwork.bind({ host, port, packets });
  open.push(t);
  return t;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function readAll(s: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const c = await s.read();
    if (c === null) break;
    parts.push(c);
    n += c.byteLength;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A listener in a child process whose accept queue is full: connects to it hang. */
async function stuckListener(): Promise<{ port: number; stop(): void }> {
  // the child listens with backlog 1 and blocks its event loop: the kernel then drops further
  // SYNs, so connects hang deterministically without any external network
  const code = "const net=require('node:net');const s=net.createServer();" +
    "s.listen({host:'127.0.0.1',port:0,backlog:1},()=>{process.stdout.write(s.address().port+'\\n');" +
    "setTimeout(()=>{Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,20000);process.exit(0)},50);});";
  const isDeno = "Deno" in globalThis;
  // Bun's net.Server ignores `backlog` (its accept queue never fills), so under Bun this fixture
  // runs on Node; the dialer under test still runs in Bun
  const runtime = "Bun" in globalThis ? "node" : process.execPath;
  const child = spawn(runtime, isDeno ? ["eval", code] : ["-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("error", reject);
  });
  await sleep(200); // let the child block
  return { port, stop: () => child.kill() };
}

async function readN(s: Stream, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const c = await s.read();
    if (c === null) break;
    out.set(c, off);
    off += c.byteLength;
  }
  assert.equal(off, n);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

describe("nodeNetwork bind", () => {
  it("port 0 binds UDP and TCP on the same port", async () => {
    const t = await bind();
    assert.equal(t.address.host, "127.0.0.1");
    assert.ok(t.address.port > 0);
    const got: Array<{ bytes: number[]; port: number }> = [];
    t.onPacket((bytes, from) => got.push({ bytes: [...bytes], port: from.port }));
    let accepted = 0;
    t.onStream((s) => {
      accepted++;
      s.close();
    });
    const raw = createSocket("udp4");
    try {
      await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
      raw.send(new Uint8Array([7, 8, 9]), t.address.port, "127.0.0.1");
      await waitFor(() => got.length === 1, "raw datagram");
      assert.deepEqual(got[0].bytes, [7, 8, 9]);
      assert.equal(got[0].port, raw.address().port);
    } finally {
      raw.close();
    }
    const sock = connect({ host: "127.0.0.1", port: t.address.port });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once("connect", resolve);
        sock.once("error", reject);
      });
      await waitFor(() => accepted === 1, "raw TCP connection");
    } finally {
      sock.destroy();
    }
  });

  it("EADDRINUSE when the TCP port is taken, naming host:port", async () => {
    const t = await bind();
    const err = await rejectsWith(
      nodeNetwork.bind({ host: "127.0.0.1", port: t.address.port, packets: true }),
      "EADDRINUSE",
    );
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${t.address.port}`));
  });

  it("EADDRINUSE when only the UDP port is taken, and TCP is released again", async () => {
    // The kernel picks the UDP port; on a busy machine the TCP port of the same number may be
    // in use by some other socket (an outgoing connection's local port). Take a port whose TCP
    // side is free, so the failure below is the UDP one this test is about.
    for (let attempt = 0;; attempt++) {
      const raw = createSocket("udp4");
      try {
        await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
        const port = raw.address().port;
        if (!(await tcpPortFree(port)) && attempt < 20) continue;
        const err = await rejectsWith(
          nodeNetwork.bind({ host: "127.0.0.1", port, packets: true }),
          "EADDRINUSE",
        );
        assert.match(err.message, /UDP/);
        // the TCP listener of the failed attempt must be gone: a streams-only bind succeeds
        const t = await bind("127.0.0.1", port, false);
        assert.equal(t.address.port, port);
        return;
      } finally {
        raw.close();
      }
    }
  });

  it("EADDRNOTAVAIL for an address this host does not have", async () => {
    await rejectsWith(
      nodeNetwork.bind({ host: "192.0.2.1", port: 0, packets: true }),
      "EADDRNOTAVAIL",
    );
  });

  it("IPv6 ::1 carries packets and streams", async (t) => {
    let a: NodeTransport;
    try {
      a = await bind("::1");
    } catch (err) {
      t.skip(`IPv6 loopback unavailable: ${err}`);
      return;
    }
    const b = await bind("::1");
    assert.equal(a.address.host, "::1");
    const got: string[] = [];
    b.onPacket((bytes, from) => got.push(`${bytes[0]}@${from.host}:${from.port}`));
    a.sendPacket(b.address, new Uint8Array([42]));
    await waitFor(() => got.length === 1, "v6 datagram");
    assert.equal(got[0], `42@::1:${a.address.port}`);
    b.onStream(async (s) => {
      const c = await s.read();
      await s.write(c ?? new Uint8Array(0));
      s.close();
    });
    const s = await a.dial(b.address, 2000);
    await s.write(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await readAll(s))], [1, 2, 3]);
    s.close();
  });

  it("bind on :: accepts IPv4 peers (dual stack) and reports them as plain IPv4", async (t) => {
    let a: NodeTransport;
    try {
      a = await bind("::");
    } catch (err) {
      t.skip(`cannot bind ::: ${err}`);
      return;
    }
    const b = await bind("127.0.0.1");
    const got: string[] = [];
    a.onPacket((_bytes, from) => got.push(`${from.host}:${from.port}`));
    b.onPacket((_bytes, from) => got.push(`${from.host}:${from.port}`));
    b.sendPacket({ host: "127.0.0.1", port: a.address.port }, new Uint8Array([1]));
    await waitFor(() => got.length === 1, "v4 datagram to ::");
    assert.equal(got[0], `127.0.0.1:${b.address.port}`);
    a.sendPacket(b.address, new Uint8Array([2]));
    await waitFor(() => got.length === 2, "v4 datagram from ::");
    assert.equal(got[1], `127.0.0.1:${a.address.port}`);
  });
});

describe("nodeNetwork packets", () => {
  it("exchange packets both ways with the sender's address", async () => {
    const a = await bind();
    const b = await bind();
    const atA: string[] = [];
    const atB: string[] = [];
    a.onPacket((bytes, from) => atA.push(`${new TextDecoder().decode(bytes)} ${from.port}`));
    b.onPacket((bytes, from) => atB.push(`${new TextDecoder().decode(bytes)} ${from.port}`));
    a.sendPacket(b.address, new TextEncoder().encode("ping"));
    b.sendPacket(a.address, new TextEncoder().encode("pong"));
    await waitFor(() => atA.length === 1 && atB.length === 1, "packets");
    assert.deepEqual(atB, [`ping ${a.address.port}`]);
    assert.deepEqual(atA, [`pong ${b.address.port}`]);
    // a 60 KiB datagram (memberlist reads with a 64 KiB buffer) arrives whole
    const big = pattern(60_000, 3);
    a.sendPacket(b.address, big);
    let bigGot: Uint8Array | null = null;
    b.onPacket((bytes) => (bigGot = bytes.slice()));
    await waitFor(() => bigGot !== null, "large datagram");
    assert.deepEqual(bigGot, big);
    assert.equal(a.stats.packetsSent, 2);
    assert.equal(b.stats.packetsReceived, 2);
  });

  it("sendPacket never throws: names, bad ports and a throwing handler are counted", async () => {
    const a = await bind();
    const b = await bind();
    a.sendPacket({ host: "localhost", port: b.address.port }, new Uint8Array([1]));
    a.sendPacket({ host: "127.0.0.1", port: 0 }, new Uint8Array([1]));
    a.sendPacket({ host: "127.0.0.1", port: 70000 }, new Uint8Array([1]));
    a.sendPacket({ host: "::1", port: b.address.port }, new Uint8Array([1])); // v6 from a v4 socket
    assert.equal(a.stats.packetsDropped, 4);
    let calls = 0;
    b.onPacket(() => {
      calls++;
      throw new Error("handler bug");
    });
    a.sendPacket(b.address, new Uint8Array([1]));
    a.sendPacket(b.address, new Uint8Array([2]));
    await waitFor(() => calls === 2, "two packets despite the throwing handler");
    assert.equal(b.stats.handlerErrors, 2);
    const s = await bind("127.0.0.1", 0, false); // streams only: packets are dropped
    s.sendPacket(b.address, new Uint8Array([1]));
    assert.equal(s.stats.packetsDropped, 1);
  });

  it("a datagram right after ones to closed ports still arrives (Bun fails the next send)", async () => {
    const a = await bind();
    const b = await bind();
    const closed = [await bind(), await bind()];
    const closedPorts = closed.map((t) => t.address);
    for (const t of closed) await t.close();
    const got: number[] = [];
    b.onPacket((bytes) => got.push(bytes[0]));
    // a member gossiping to the dead, then to a live one, in one turn: the live one's packet
    // is what Bun used to drop (its send failed with the dead one's ICMP refusal); with two
    // dead ones in a row, the second one's send fails and must be resent too
    for (let i = 0; i < 5; i++) {
      const dead = closedPorts.slice(0, 1 + (i % 2));
      for (const to of dead) a.sendPacket(to, new Uint8Array([100 + i]));
      a.sendPacket(b.address, new Uint8Array([i]));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => got.length === 5, "five packets to the live peer");
    assert.deepEqual(got.sort(), [0, 1, 2, 3, 4]);
    assert.equal(a.stats.packetsSent, 5 + 7);
    assert.equal(a.stats.sendErrors, 0, "the closed ports' refusals are not errors of a send");
  });
});

describe("nodeNetwork streams", () => {
  it("carry several MiB both ways at once, in order", async () => {
    const a = await bind("127.0.0.1", 0, false);
    const b = await bind("127.0.0.1", 0, false);
    const up = pattern(3 << 20, 1);
    const down = pattern(5 << 20, 2);
    b.onStream((s) => {
      (async () => {
        const reading = readN(s, up.length);
        for (let off = 0; off < down.length; off += 100_000) {
          await s.write(down.subarray(off, off + 100_000));
        }
        assert.deepEqual(await reading, up);
        s.close(); // the client then sees EOF right after the last byte
      })();
    });
    const s = await a.dial(b.address, 2000);
    assert.equal(s.remote.port, b.address.port);
    const clientGot = readAll(s);
    for (let off = 0; off < up.length; off += 65_536) await s.write(up.subarray(off, off + 65_536));
    const got = await clientGot;
    assert.equal(got.length, down.length);
    assert.deepEqual(got, down);
    s.close();
  });

  it("a slow reader pauses the socket (bounded queue) and the writer stalls, then all arrives", async () => {
    const a = await bind("127.0.0.1", 0, false);
    const b = await bind("127.0.0.1", 0, false);
    let server: Stream | null = null;
    b.onStream((s) => (server = s));
    const total = 48 << 20; // larger than kernel buffers (a few MiB each way) plus our 1 MiB
    const data = pattern(total, 9);
    const s = await a.dial(b.address, 2000);
    let written = 0;
    const writing = (async () => {
      for (let off = 0; off < total; off += 65_536) {
        await s.write(data.subarray(off, off + 65_536));
        written = off + 65_536;
      }
    })();
    await waitFor(() => server !== null, "accept");
    // wait until the writer makes no progress for a while
    let last = -1;
    while (written !== last) {
      last = written;
      await sleep(300);
    }
    assert.ok(written < total, `writer should stall, wrote ${written}`);
    const queued = (server as unknown as { queuedBytes: number }).queuedBytes;
    // bounded by the high-water mark plus the read that crossed it: 64 KiB reads on Node and
    // Deno, up to 512 KiB on Bun (measured on loopback; nothing arrives after the pause)
    assert.ok(queued > 0 && queued <= HIGH_WATER + (512 << 10), `queued ${queued}`);
    const reader = server as unknown as Stream;
    let off = 0;
    let same = true;
    for (;;) {
      const c = await reader.read();
      if (c === null) break;
      for (let i = 0; i < c.length && same; i += 4093) same = c[i] === data[off + i];
      off += c.length;
      if (off === total) break;
    }
    await writing;
    assert.equal(off, total);
    assert.ok(same, "bytes arrived intact");
    s.close();
    assert.equal(await reader.read(), null);
    reader.close();
  });

  it("close semantics: EOF after data, idempotent close, pending reads null, writes reject", async () => {
    const a = await bind("127.0.0.1", 0, false);
    const b = await bind("127.0.0.1", 0, false);
    const accepted: Stream[] = [];
    b.onStream((s) => accepted.push(s));
    const s = await a.dial(b.address, 2000);
    await s.write(new Uint8Array([1, 2]));
    s.close();
    s.close();
    await waitFor(() => accepted.length === 1, "accept");
    const peer = accepted[0];
    assert.deepEqual([...(await readAll(peer))], [1, 2]);
    await rejectsWith(s.write(new Uint8Array([3])), "ECLOSED");
    assert.equal(await s.read(), null);
    // a pending read resolves null when its own side closes
    const s2 = await a.dial(b.address, 2000);
    const pendingRead = s2.read();
    s2.close();
    assert.equal(await pendingRead, null);
    peer.close();
  });

  it("dial to a closed port rejects ECONNREFUSED", async () => {
    const t = await bind("127.0.0.1", 0, false);
    const port = t.address.port;
    await t.close();
    const a = await bind("127.0.0.1", 0, false);
    await rejectsWith(a.dial({ host: "127.0.0.1", port }, 2000), "ECONNREFUSED");
  });

  it("dial rejects ETIMEDOUT when the listener's accept queue is full", async () => {
    const stuck = await stuckListener();
    const a = await bind("127.0.0.1", 0, false);
    const streams: Stream[] = [];
    try {
      const port = stuck.port;
      let timedOut: TransportError | null = null;
      for (let i = 0; i < 8 && timedOut === null; i++) {
        try {
          streams.push(await a.dial({ host: "127.0.0.1", port }, 300));
        } catch (err) {
          assert.ok(err instanceof TransportError);
          assert.equal(err.code, "ETIMEDOUT", err.message);
          timedOut = err;
        }
      }
      assert.ok(timedOut !== null, "a dial timed out");
      assert.match(timedOut.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    } finally {
      for (const s of streams) s.close();
      stuck.stop();
    }
  });

  it("an inbound connection without a stream handler is closed", async () => {
    const a = await bind("127.0.0.1", 0, false);
    const b = await bind("127.0.0.1", 0, false);
    const s = await a.dial(b.address, 2000);
    assert.equal(await s.read(), null);
    assert.equal(b.stats.streamsRejected, 1);
    s.close();
  });
});

describe("nodeNetwork close", () => {
  it("releases the port, every stream and pending dial", async () => {
    const a = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: true });
    const b = await bind();
    const accepted: Stream[] = [];
    a.onStream((s) => accepted.push(s));
    b.onStream(() => {});
    const inbound = await b.dial(a.address, 2000);
    const outbound = await a.dial(b.address, 2000);
    await waitFor(() => accepted.length === 1, "accept");
    const reads = [accepted[0].read(), outbound.read(), inbound.read()];
    await a.close();
    await a.close(); // idempotent
    assert.deepEqual(await Promise.all(reads), [null, null, null]);
    await rejectsWith(a.dial(b.address, 1000), "ECLOSED");
    a.sendPacket(b.address, new Uint8Array([1]));
    assert.equal(a.stats.packetsDropped, 1);
    // the same port binds again (UDP and TCP), so nothing of the old transport remains
    const again = await bind("127.0.0.1", a.address.port, true);
    assert.equal(again.address.port, a.address.port);
    inbound.close();
  });

  it("a pending dial is rejected by close", async () => {
    const stuck = await stuckListener();
    const a = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: false });
    const streams: Stream[] = [];
    try {
      const port = stuck.port;
      for (let i = 0; i < 4; i++) {
        try {
          streams.push(await a.dial({ host: "127.0.0.1", port }, 200));
        } catch {
          break;
        }
      }
      const hanging = rejectsWith(a.dial({ host: "127.0.0.1", port }, 10_000), "ECLOSED");
      await sleep(50);
      await a.close();
      await hanging;
    } finally {
      for (const s of streams) s.close();
      await a.close();
      stuck.stop();
    }
  });
});
