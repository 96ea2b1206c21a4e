// Bounded connections on the replication port (issue 18), attacked with raw node:net sockets:
// caps, deadlines, buffered bytes and the reply budget each refuse and count, the real 2-node
// cluster next to them keeps replicating, and nothing acknowledged is lost.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FrameType } from "../log/frames.ts";
import { encodeHeads } from "../log/messages.ts";
import { addr, waitFor } from "../testing/log_cluster.ts";
import { bed, cleanup, DOWN, MiB, node, Raw, sleep, tight } from "../testing/security_bed.ts";

afterEach(cleanup);

describe("security: bounded connections", { timeout: 90_000 }, () => {
  it("500 connections from one address: the cap refuses the rest; idle ones are cut; peers are served", async () => {
    const t = await bed();
    const { a } = t;
    const port = addr(a.log).port;
    const raws = Array.from({ length: 500 }, () => new Raw(port));
    await waitFor(
      () => a.log.stats().rejectedPeers["address-limit"] >= 500 - tight.maxConnectionsPerAddress!,
      "address cap",
      20_000,
    );
    // the ones let in: silent ones die at the handshake deadline, a handshaken one when idle
    const idle = new Raw(port, "127.0.0.3");
    await idle.ready();
    idle.hello();
    idle.send(FrameType.Digest, encodeHeads([]));
    await waitFor(() => idle.isClosed, "the idle session is cut");
    assert.ok(a.log.stats().rejectedPeers.idle >= 1, "the idle session was cut");
    // a second address adds up to the total cap
    const s = a.log.stats();
    assert.ok(s.rejectedPeers["handshake-timeout"] >= 1);
    await Promise.all(raws.map((r) => r.closed));
    await t.finish();
  });

  it("the total cap holds across addresses", async () => {
    const tuning = { ...tight, maxConnections: 12, maxConnectionsPerAddress: 8 };
    const a = await node("a", tuning);
    const port = addr(a.log).port;
    for (let i = 0; i < 10; i++) new Raw(port, "127.0.0.2");
    for (let i = 0; i < 10; i++) new Raw(port, "127.0.0.4");
    await waitFor(() => a.log.stats().rejectedPeers["connection-limit"] >= 4, "total cap");
    assert.ok(a.log.stats().rejectedPeers["address-limit"] >= 2);
  });

  it("a frame announced at 16 MiB and sent at a byte per 100 ms is cut at the frame deadline", async () => {
    const t = await bed({ ...tight, maxFrameBytes: 16 * MiB });
    const raw = new Raw(addr(t.a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([]));
    const header = new Uint8Array(5);
    new DataView(header.buffer).setUint32(0, 16 * MiB);
    header[4] = FrameType.Entries;
    raw.sock.write(header);
    const drip = setInterval(() => raw.isClosed || raw.sock.write(new Uint8Array([0])), 100);
    try {
      await waitFor(() => raw.isClosed, "the slow frame is cut");
    } finally {
      clearInterval(drip);
    }
    assert.equal(t.a.log.stats().rejectedPeers["frame-timeout"], 1);
    await t.finish();
  });

  it("ten nearly complete 16 MiB frames: buffered bytes stay within the budget", async () => {
    const budget = 24 * MiB;
    const t = await bed({
      ...tight,
      maxFrameBytes: 16 * MiB,
      maxBufferedBytes: budget,
      maxConnectionsPerAddress: 16,
      connectTimeoutMs: 10_000,
      frameTimeoutMs: 20_000,
    });
    const port = addr(t.a.log).port;
    const body = new Uint8Array(16 * MiB - 1);
    new DataView(body.buffer).setUint32(0, 16 * MiB);
    body[4] = FrameType.Hello;
    const raws = Array.from({ length: 10 }, () => new Raw(port));
    for (const r of raws) r.sock.write(body);
    await waitFor(
      () => t.a.log.stats().rejectedPeers["buffer-limit"] >= 8,
      "budget enforced",
      30_000,
    );
    const s = t.a.log.stats();
    assert.ok(
      s.bufferedBytesPeak <= budget + 1 * MiB,
      `peak ${s.bufferedBytesPeak} exceeds the budget ${budget}`,
    );
    for (const r of raws) r.sock.destroy();
    await waitFor(() => t.a.log.stats().bufferedBytes === 0, "buffers released");
    await t.finish();
  });

  it("a tiny digest gets at most one reply budget; an honest late peer still catches up in full", async () => {
    const a = await node("a", tight);
    const value = new Uint8Array(1024).fill(7);
    for (let i = 0; i < 3000; i++) void a.log.append(value);
    await a.log.append(value);
    a.log.setPeers([{ name: "m", address: DOWN }]);
    const raw = new Raw(addr(a.log).port);
    raw.hello();
    raw.send(FrameType.Digest, encodeHeads([])); // 9 bytes on the wire
    await waitFor(() => a.log.stats().repliesPaused >= 1, "reply paused");
    await sleep(500);
    const got = raw.bytes;
    const bound = tight.maxReplyBytes! + 16 * 1024; // hello, digests, one entry
    assert.ok(got <= bound, `a 9-byte digest brought back ${got} bytes (bound ${bound})`);
    assert.ok(got > 100 * 1024, "something was sent");
    // an honest peer asks again as it reads: it gets everything
    const b = await node("b", tight);
    a.log.setPeers([{ name: "b", address: addr(b.log) }, { name: "m", address: DOWN }]);
    b.log.setPeers([{ name: "a", address: addr(a.log) }]);
    await waitFor(() => b.log.heads().get("a") === 3001, "b caught up", 30_000);
  });
});
