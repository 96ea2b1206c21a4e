import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HostPort, Stream } from "../transport/types.ts";
import { CodecError } from "../memberlist/wire/errors.ts";
import { Keyring } from "../memberlist/wire/keyring.ts";
import { compressMessage, lzwCompress } from "../memberlist/wire/lzw.ts";
import { encodeMsgpack } from "../memberlist/wire/msgpack.ts";
import { decodeMessageBody, encodeMessage, MessageType } from "../memberlist/wire/messages.ts";
import type { PushNodeState } from "../memberlist/wire/push_state.ts";
import type { PacketSecurity } from "../memberlist/wire/packet.ts";
import {
  compressPushPull,
  encodePushPull,
  encodeStreamUserMsg,
  MAX_STREAM_BYTES,
  readPushPull,
  readStreamMessage,
  readUserMsg,
  StreamReader,
  writeStreamMessage,
} from "../memberlist/wire/stream.ts";
import { loadVectors } from "../testing/memberlist_vectors.ts";

const vectors = loadVectors();
const te = new TextEncoder();
const isCodecError = (e: unknown): boolean => e instanceof CodecError;
const isTruncated = (e: unknown): boolean => e instanceof CodecError && e.truncated;

/** One direction of an in-memory stream: delivers written bytes in chunks of `chunk` bytes. */
class FakeStream implements Stream {
  readonly remote: HostPort = { host: "127.0.0.1", port: 1 };
  peer: FakeStream | null = null;
  chunk: number;
  #queue: Uint8Array[] = [];
  #waiters: ((v: Uint8Array | null) => void)[] = [];
  #closed = false;
  written = 0;

  constructor(chunk: number) {
    this.chunk = chunk;
  }

  deliver(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i += this.chunk) {
      const piece = bytes.slice(i, i + this.chunk);
      const w = this.#waiters.shift();
      if (w) w(piece);
      else this.#queue.push(piece);
    }
  }

  end(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(null);
  }

  read(): Promise<Uint8Array | null> {
    const next = this.#queue.shift();
    if (next) return Promise.resolve(next);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || !this.peer) return Promise.reject(new Error("closed"));
    this.written += bytes.length;
    this.peer.deliver(bytes);
    return Promise.resolve();
  }

  close(): void {
    this.end();
    this.peer?.end();
  }
}

function pair(chunk: number): [FakeStream, FakeStream] {
  const a = new FakeStream(chunk);
  const b = new FakeStream(chunk);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A stream that replays fixed bytes, then ends. */
function replay(bytes: Uint8Array, chunk = 1): FakeStream {
  const s = new FakeStream(chunk);
  s.deliver(bytes);
  s.end();
  return s;
}

const vsn = new Uint8Array([1, 5, 2, 0, 0, 0]);
const nodes: PushNodeState[] = Array.from({ length: 40 }, (_, i) => ({
  name: `node-${i}`,
  addr: new Uint8Array([10, 0, i >> 8, i & 0xff]),
  port: 7946 + i,
  meta: i % 3 === 0 ? null : te.encode(`meta ${i}`),
  incarnation: i * 1000,
  state: i % 4,
  vsn,
}));
const userState = te.encode("delegate state ".repeat(50));
const plainSec: PacketSecurity = {
  verifyIncoming: true,
  verifyOutgoing: true,
  encryptionVersion: 1,
};

describe("push/pull over a chunked stream", () => {
  const key = new Uint8Array(24).fill(0x5a);
  const cases: { name: string; compress: boolean; encrypt: boolean; label: string; v: 0 | 1 }[] = [
    { name: "plain", compress: false, encrypt: false, label: "", v: 1 },
    { name: "compressed", compress: true, encrypt: false, label: "", v: 1 },
    { name: "encrypted v1", compress: false, encrypt: true, label: "", v: 1 },
    { name: "encrypted v0 + compressed", compress: true, encrypt: true, label: "", v: 0 },
    {
      name: "labelled + encrypted + compressed",
      compress: true,
      encrypt: true,
      label: "lab",
      v: 1,
    },
    { name: "labelled plain", compress: false, encrypt: false, label: "lab", v: 1 },
  ];
  for (const c of cases) {
    for (const chunk of [1, 7, 65536]) {
      it(`${c.name}, ${chunk}-byte chunks, request and reply`, async () => {
        const sec: PacketSecurity = {
          keyring: c.encrypt ? await Keyring.create([key]) : undefined,
          label: c.label,
          verifyIncoming: true,
          verifyOutgoing: true,
          encryptionVersion: c.v,
        };
        const [dialer, responder] = pair(chunk);
        try {
          const request = encodePushPull({ join: true }, nodes, userState);
          await writeStreamMessage(dialer, request, { ...sec, compress: c.compress });
          const got = await readStreamMessage(responder, sec, { maxBytes: MAX_STREAM_BYTES });
          assert.equal(got.type, MessageType.pushPull);
          const remote = await readPushPull(got.reader);
          assert.deepEqual(remote.header, {
            nodes: nodes.length,
            userStateLen: userState.length,
            join: true,
          });
          assert.deepEqual(remote.nodes, nodes);
          assert.deepEqual(remote.userState, userState);

          // The reply carries no label header; the label still authenticates encryption.
          const reply = encodePushPull({ join: true }, nodes.slice(0, 2), new Uint8Array(0));
          await writeStreamMessage(responder, reply, {
            ...sec,
            compress: c.compress,
            writeLabel: false,
          });
          const back = await readStreamMessage(dialer, sec, {
            maxBytes: MAX_STREAM_BYTES,
            readLabel: false,
          });
          assert.equal(back.type, MessageType.pushPull);
          const r = await readPushPull(back.reader);
          assert.deepEqual(r.nodes, nodes.slice(0, 2));
          assert.equal(r.userState.length, 0);
        } finally {
          dialer.close();
        }
      });
    }
  }

  it("over a stream too, drops states the table holds and copies what it keeps", async () => {
    // Uncompressed push/pull is read from the stream's own buffer, which later reads compact
    // and refill: kept Meta must be copies, and the unchanged-alive shortcut must apply.
    // 400 states (about 30 KB): more than the reader's first 4 KB buffer, so it compacts.
    const many: PushNodeState[] = Array.from({ length: 400 }, (_, i) => ({
      ...nodes[i % nodes.length],
      name: `member-${i}`,
      meta: i % 3 === 0 ? null : te.encode(`meta of member ${i}`),
    }));
    const body = encodePushPull({ join: false }, many, userState);
    const keptOf = (list: PushNodeState[]) => list.filter((n) => n.state !== 0);
    for (const chunk of [100, 333, 65536]) {
      const asked: string[] = [];
      const got = await readStreamMessage(replay(body, chunk), plainSec, { maxBytes: 1 << 20 });
      const r = await readPushPull(got.reader, {}, (name) => {
        asked.push(name);
        return true;
      });
      assert.deepEqual(r.userState, userState);
      // Every state that is not alive comes through intact, whatever the chunking.
      assert.deepEqual(keptOf(r.nodes), keptOf(many), `chunk ${chunk}`);
      // Alive states buffered whole were dropped; one cut by a chunk end may take the
      // general path and come through, unchanged.
      for (const n of r.nodes.filter((x) => x.state === 0)) {
        assert.deepEqual(n, many.find((x) => x.name === n.name));
      }
      assert.ok(asked.length > 0, `chunk ${chunk}: the shortcut was never tried`);
      if (chunk === 65536) assert.deepEqual(r.nodes, keptOf(many));
    }
  });

  it("decodes Go's push/pull header and node state vectors from a 1-byte-chunk stream", async () => {
    const header = vectors.get("pushpull_header");
    const node = vectors.get("pushnodestate_prefixed_by_type_byte");
    assert.ok(header && node);
    const bytes = new Uint8Array([...header, ...node.subarray(1), 0x61, 0x62, 0x63]);
    const got = await readStreamMessage(replay(bytes), plainSec, { maxBytes: 1000 });
    assert.equal(got.type, 6);
    const r = await readPushPull(got.reader);
    assert.equal(r.nodes[0].name, "node-a");
    assert.equal(new TextDecoder().decode(r.userState), "abc");
  });
});

describe("other stream messages", () => {
  it("reliable user message, compressed and encrypted", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(1)]);
    const sec = { ...plainSec, keyring: ring };
    const [a, b] = pair(3);
    try {
      const payload = te.encode("reliable!").subarray(0);
      await writeStreamMessage(a, encodeStreamUserMsg(payload), { ...sec, compress: true });
      const got = await readStreamMessage(b, sec, { maxBytes: 1 << 20 });
      assert.equal(got.type, MessageType.user);
      assert.deepEqual(await readUserMsg(got.reader), payload);
    } finally {
      a.close();
    }
  });
  it("TCP fallback ping and its ack, and an error reply", async () => {
    const [a, b] = pair(2);
    try {
      const ping = { type: "ping", body: { seqNo: 42, node: "b" } } as const;
      await writeStreamMessage(a, encodeMessage(ping), { ...plainSec, compress: true });
      const got = await readStreamMessage(b, plainSec, { maxBytes: 1 << 20 });
      assert.deepEqual(decodeMessageBody(got.type, await got.reader.readMsgpack()), ping);
      const err = { type: "err", body: { error: "boom" } } as const;
      await writeStreamMessage(b, encodeMessage(err), { ...plainSec, compress: false });
      const back = await readStreamMessage(a, plainSec, { maxBytes: 1 << 20, readLabel: false });
      assert.deepEqual(decodeMessageBody(back.type, await back.reader.readMsgpack()), err);
    } finally {
      a.close();
    }
  });
  it("a label written by the dialer is required and checked by the responder", async () => {
    const msg = encodeMessage({ type: "nack", body: { seqNo: 1 } });
    const labelled = { ...plainSec, label: "blue" };
    for (
      const [writer, reader, ok] of [
        [labelled, labelled, true],
        [labelled, plainSec, false],
        [plainSec, labelled, false],
        [labelled, { ...plainSec, label: "green" }, false],
      ] as const
    ) {
      const [a, b] = pair(5);
      await writeStreamMessage(a, msg, { ...writer, compress: false });
      const p = readStreamMessage(b, reader, { maxBytes: 100 });
      if (ok) assert.equal((await p).type, MessageType.nack);
      else await assert.rejects(p, isCodecError);
      a.close();
    }
  });
  it("encryption mismatches are refused", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(1)]);
    const other = await Keyring.create([new Uint8Array(16).fill(2)]);
    const msg = encodeMessage({ type: "nack", body: { seqNo: 1 } });
    const cases: [PacketSecurity, PacketSecurity, boolean][] = [
      [{ ...plainSec, keyring: ring }, plainSec, false],
      [plainSec, { ...plainSec, keyring: ring }, false],
      [plainSec, { ...plainSec, keyring: ring, verifyIncoming: false }, true],
      [{ ...plainSec, keyring: ring }, { ...plainSec, keyring: other }, false],
      [
        { ...plainSec, keyring: ring, label: "x" },
        { ...plainSec, keyring: ring, label: "y" },
        false,
      ],
    ];
    for (const [w, r, ok] of cases) {
      const [a, b] = pair(64);
      await writeStreamMessage(a, msg, { ...w, compress: false, writeLabel: false });
      const p = readStreamMessage(b, r, { maxBytes: 1000, readLabel: false });
      if (ok) assert.equal((await p).type, MessageType.nack);
      else await assert.rejects(p, isCodecError);
      a.close();
    }
  });
});

describe("stream limits and malformed input", () => {
  it("maxBytes caps the encrypted blob before reading it", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(1)]);
    const sec = { ...plainSec, keyring: ring };
    const big = encodePushPull({ join: false }, [], new Uint8Array(5000));
    const [a, b] = pair(1000);
    await writeStreamMessage(a, big, { ...sec, compress: false });
    await assert.rejects(readStreamMessage(b, sec, { maxBytes: 4000 }), isCodecError);
    a.close();
    // a lying length header is refused without waiting for the bytes
    const lying = replay(new Uint8Array([10, 0xff, 0xff, 0xff, 0xff]));
    await assert.rejects(
      readStreamMessage(lying, sec, { maxBytes: MAX_STREAM_BYTES }),
      isCodecError,
    );
  });
  it("maxBytes caps plain messages and lying msgpack lengths", async () => {
    const big = encodePushPull({ join: false }, nodes, new Uint8Array(5000));
    const got = await readStreamMessage(replay(big, 512), plainSec, { maxBytes: 4000 });
    await assert.rejects(readPushPull(got.reader), isCodecError);
    // str32 claiming 4 GiB: rejected as over the limit, never allocated
    const lie = new Uint8Array([
      6,
      0x81,
      0xa5,
      ...te.encode("Nodes"),
      0xdb,
      0xff,
      0xff,
      0xff,
      0xff,
    ]);
    const s = replay(lie);
    const g2 = await readStreamMessage(s, plainSec, { maxBytes: 1 << 20 });
    await assert.rejects(
      readPushPull(g2.reader),
      (e: unknown) => isCodecError(e) && !isTruncated(e),
    );
  });
  it("push/pull node count and user state limits", async () => {
    const buf = encodePushPull({ join: false }, nodes, userState);
    const g = await readStreamMessage(replay(buf, 100), plainSec, { maxBytes: 1 << 20 });
    await assert.rejects(readPushPull(g.reader, { maxNodes: 10 }), isCodecError);
    const g2 = await readStreamMessage(replay(buf, 100), plainSec, { maxBytes: 1 << 20 });
    await assert.rejects(readPushPull(g2.reader, { maxUserState: 10 }), isCodecError);
    const u = encodeStreamUserMsg(new Uint8Array(100));
    const g3 = await readStreamMessage(replay(u), plainSec, { maxBytes: 1 << 20 });
    await assert.rejects(readUserMsg(g3.reader, 99), isCodecError);
  });
  it("a compressed stream message is capped by maxDecompressedBytes", async () => {
    const bomb = new Uint8Array([
      9,
      ...encodeMsgpack({ Algo: 0, Buf: lzwCompress(new Uint8Array(1_000_000)) }),
    ]);
    const g = readStreamMessage(replay(bomb, 4096), plainSec, {
      maxBytes: 1 << 20,
      maxDecompressedBytes: 100_000,
    });
    await assert.rejects(g, isCodecError);
  });
  it("EOF in the middle of a message is a truncated CodecError, at every cut point", async () => {
    const full = encodePushPull({ join: true }, nodes.slice(0, 3), te.encode("xyz"));
    for (let cut = 0; cut < full.length; cut++) {
      const s = replay(full.subarray(0, cut), 3);
      const attempt = (async () => {
        const g = await readStreamMessage(s, plainSec, { maxBytes: 1 << 20 });
        return await readPushPull(g.reader);
      })();
      await assert.rejects(attempt, isTruncated, `cut at ${cut}`);
    }
    const z = compressMessage(full);
    for (const cut of [0, 1, 5, z.length - 1]) {
      await assert.rejects(
        readStreamMessage(replay(z.subarray(0, cut)), plainSec, { maxBytes: 1 << 20 }),
        isTruncated,
      );
    }
  });
  it("garbage streams fail with CodecError", async () => {
    const garbage: Uint8Array[] = [
      new Uint8Array([244, 0, 6]),
      new Uint8Array([9, 0x81, 0xa4, ...te.encode("Algo"), 0x01]),
      new Uint8Array([9, 0xc1]),
      new Uint8Array([6, 0x92, 1, 2]),
    ];
    for (const g of garbage) {
      const attempt = (async () => {
        const m = await readStreamMessage(replay(g), plainSec, { maxBytes: 100 });
        return await readPushPull(m.reader);
      })();
      await assert.rejects(attempt, isCodecError);
    }
  });
  it("StreamReader: exact reads, bytes readers and limits", async () => {
    const r = new StreamReader(replay(new Uint8Array([1, 2, 3, 4, 5])), 3);
    assert.equal(await r.readByte(), 1);
    assert.deepEqual(await r.readExact(3), new Uint8Array([2, 3, 4]));
    await assert.rejects(r.readExact(4), isCodecError);
    await assert.rejects(r.readExact(2), isTruncated);
    const m = StreamReader.fromBytes(encodeMsgpack({ A: 1 }));
    assert.deepEqual({ ...(await m.readMsgpack()) as object }, { A: 1 });
    await assert.rejects(m.readByte(), isTruncated);
    const total = new StreamReader(replay(new Uint8Array(100), 10), 1000, 50);
    await assert.rejects(total.readExact(60), isCodecError);
  });

  it("StreamReader: items larger than its buffer arrive whole, in small chunks", async () => {
    // 600 KB: past the size reserved up front for an announced item, so it also grows.
    const big = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7) & 0xff);
    const bytes = new Uint8Array([...encodeMsgpack({ Buf: big }), 1, 2, 3]);
    const r = new StreamReader(replay(bytes, 1000), 1 << 20);
    const viewed = await r.readMsgpack(true) as { Buf: Uint8Array };
    assert.deepEqual(viewed.Buf, big);
    assert.deepEqual(await r.readExact(3), new Uint8Array([1, 2, 3]));
    // A lying length beyond the limit is refused before anything is reserved for it.
    const liar = new StreamReader(replay(Uint8Array.of(0xc6, 0x7f, 0, 0, 0)), 1 << 20);
    await assert.rejects(liar.readMsgpack(), isCodecError);
  });

  it("compressPushPull is compressMessage(encodePushPull(...)), body after body", () => {
    const first = compressPushPull({ join: false }, nodes, userState);
    const copy = first.slice();
    const second = compressPushPull({ join: true }, nodes.slice(5), new Uint8Array(0));
    assert.deepEqual(first, copy, "the first body survives the second");
    assert.deepEqual(first, compressMessage(encodePushPull({ join: false }, nodes, userState)));
    assert.deepEqual(
      second,
      compressMessage(encodePushPull({ join: true }, nodes.slice(5), new Uint8Array(0))),
    );
  });
});
