import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError } from "../memberlist/wire/errors.ts";
import { Keyring } from "../memberlist/wire/keyring.ts";
import { encodeCompound } from "../memberlist/wire/compound.ts";
import { addCrc } from "../memberlist/wire/crc.ts";
import { compressMessage } from "../memberlist/wire/lzw.ts";
import { labelHeader, removeLabelHeader } from "../memberlist/wire/label.ts";
import { encodeMessage, type Message } from "../memberlist/wire/messages.ts";
import { openPacket, type PacketSecurity, sealPacket } from "../memberlist/wire/packet.ts";
import { hex, loadVectors } from "../testing/memberlist_vectors.ts";

const vectors = loadVectors();
const te = new TextEncoder();
const isCodecError = (e: unknown): boolean => e instanceof CodecError;
const plainSec: PacketSecurity = {
  verifyIncoming: true,
  verifyOutgoing: true,
  encryptionVersion: 1,
};

const ping: Message = { type: "ping", body: { seqNo: 7, node: "node-b" } };
const suspect: Message = { type: "suspect", body: { incarnation: 3, node: "x", from: "y" } };
const alive: Message = {
  type: "alive",
  body: {
    incarnation: 9,
    node: "node-a".repeat(10),
    addr: new Uint8Array([10, 0, 0, 1]),
    port: 7946,
    meta: te.encode("role=web ".repeat(20)),
    vsn: new Uint8Array([1, 5, 2, 0, 0, 0]),
  },
};
const user: Message = { type: "user", body: te.encode("hello user") };

describe("sealPacket / openPacket combinations", () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 3);
  const combos: { compress: boolean; crc: boolean; encrypt: boolean; label: string; v: 0 | 1 }[] =
    [];
  for (const compress of [false, true]) {
    for (const crc of [false, true]) {
      for (const encrypt of [false, true]) {
        for (const label of ["", "prod-cluster"]) {
          combos.push({ compress, crc, encrypt, label, v: encrypt && crc ? 0 : 1 });
        }
      }
    }
  }
  for (const c of combos) {
    const name =
      `compress=${c.compress} crc=${c.crc} encrypt=${c.encrypt}(v${c.v}) label="${c.label}"`;
    it(name, async () => {
      const sec: PacketSecurity = {
        keyring: c.encrypt ? await Keyring.create([key]) : undefined,
        label: c.label,
        verifyIncoming: true,
        verifyOutgoing: true,
        encryptionVersion: c.v,
      };
      const msgs = [ping, suspect, alive, alive, user];
      const [payload] = encodeCompound(msgs.map(encodeMessage));
      const bytes = await sealPacket(payload, { ...sec, compress: c.compress, crc: c.crc });
      if (c.label) {
        assert.equal(bytes[0], 244);
        assert.equal(removeLabelHeader(bytes).label, c.label);
      }
      const inner = removeLabelHeader(bytes).rest;
      if (c.encrypt) assert.equal(inner[0], c.v);
      else if (c.crc) assert.equal(inner[0], 12);
      else assert.equal(inner[0], c.compress ? 9 : 7);
      const opened = await openPacket(bytes, sec);
      assert.deepEqual(opened, { messages: msgs, malformed: 0, truncated: 0 });
      // A receiver with another label or no key drops the packet.
      await assert.rejects(openPacket(bytes, { ...sec, label: "other" }), isCodecError);
      if (c.encrypt) {
        const wrongKey = await Keyring.create([new Uint8Array(16)]);
        await assert.rejects(openPacket(bytes, { ...sec, keyring: wrongKey }), isCodecError);
        // Without a key the bytes are read as plaintext: [vsn][nonce…] usually fails to decode,
        // but a nonce that happens to start with 0x80 reads as an empty ping/indirect-ping map,
        // exactly as Go would read it. What must never happen is recovering the sealed messages.
        const blind = await openPacket(bytes, { ...sec, keyring: undefined }).catch((e) => e);
        if (!(blind instanceof CodecError)) assert.notDeepEqual(blind.messages, msgs);
      }
    });
  }

  it("compresses only when that is smaller", async () => {
    const tiny = encodeMessage({ type: "nack", body: { seqNo: 1 } });
    const out = await sealPacket(tiny, { ...plainSec, compress: true, crc: false });
    assert.deepEqual(out, tiny);
    const big = encodeMessage(alive);
    const z = await sealPacket(big, { ...plainSec, compress: true, crc: false });
    assert.equal(z[0], 9);
    assert.ok(z.length < big.length);
  });

  it("opens Go's compress_of_compound vector and a plain Go message", async () => {
    const v = vectors.get("compress_of_compound");
    assert.ok(v);
    const { messages } = await openPacket(v, plainSec);
    assert.deepEqual(messages.map((m) => m.type), ["ping", "suspect"]);
    const ack = vectors.get("ack_nil_payload");
    assert.ok(ack);
    assert.deepEqual((await openPacket(ack, plainSec)).messages, [
      { type: "ack", body: { seqNo: 1, payload: null } },
    ]);
  });

  it("opens a bare encrypted packet (no AAD without a label, as Go)", async () => {
    const ring = await Keyring.create([Uint8Array.from({ length: 16 }, (_, i) => i)]);
    const nack = encodeMessage({ type: "nack", body: { seqNo: 5 } });
    const sealed = await ring.encrypt(nack, new Uint8Array(0), 1);
    const sec = { ...plainSec, keyring: ring };
    assert.deepEqual((await openPacket(sealed, sec)).messages, [
      { type: "nack", body: { seqNo: 5 } },
    ]);
  });

  it("accepts plaintext when verifyIncoming is off, refuses it when on", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(1)]);
    const plain = encodeMessage(ping);
    await assert.rejects(openPacket(plain, { ...plainSec, keyring: ring }), isCodecError);
    const lax = { ...plainSec, keyring: ring, verifyIncoming: false };
    assert.deepEqual((await openPacket(plain, lax)).messages, [ping]);
  });

  it("does not encrypt when verifyOutgoing is off", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(1)]);
    const sec = { ...plainSec, keyring: ring, verifyOutgoing: false };
    const out = await sealPacket(encodeMessage(ping), { ...sec, compress: false, crc: false });
    assert.deepEqual(out, encodeMessage(ping));
  });
});

describe("openPacket with partial and malformed input", () => {
  it("a compound with bad parts yields the good ones and counts the bad", async () => {
    const parts = [
      encodeMessage(ping),
      new Uint8Array([99, 1, 2]),
      encodeMessage(suspect),
      new Uint8Array([0, 0xc1]),
      compressMessage(encodeMessage(alive)),
      new Uint8Array([]),
    ];
    const [packet] = encodeCompound(parts);
    const opened = await openPacket(packet, plainSec);
    assert.deepEqual(opened, { messages: [ping, suspect, alive], malformed: 3, truncated: 0 });
  });
  it("a truncated compound yields the complete parts", async () => {
    const [packet] = encodeCompound([
      encodeMessage(ping),
      encodeMessage(suspect),
      encodeMessage(user),
    ]);
    const cut = packet.subarray(0, packet.length - 3);
    assert.deepEqual(await openPacket(cut, plainSec), {
      messages: [ping, suspect],
      malformed: 0,
      truncated: 1,
    });
  });
  it("nested compounds inside compress inside compound are expanded", async () => {
    const [inner] = encodeCompound([encodeMessage(ping), encodeMessage(suspect)]);
    const [outer] = encodeCompound([compressMessage(inner), encodeMessage(user)]);
    assert.deepEqual((await openPacket(outer, plainSec)).messages, [ping, suspect, user]);
  });
  it("limits envelope nesting", async () => {
    let buf = encodeMessage(ping);
    for (let i = 0; i < 10; i++) buf = compressMessage(buf);
    await assert.rejects(openPacket(buf, plainSec), isCodecError);
    assert.equal((await openPacket(buf, plainSec, { maxDepth: 11 })).messages.length, 1);
  });
  it("limits total decompressed bytes per packet", async () => {
    const big = compressMessage(new Uint8Array([8, ...new Uint8Array(100_000)]));
    await assert.rejects(
      openPacket(big, plainSec, { maxDecompressedBytes: 50_000 }),
      isCodecError,
    );
    const [two] = encodeCompound([big, big]);
    const opened = await openPacket(two, plainSec, { maxDecompressedBytes: 150_000 });
    assert.equal(opened.messages.length, 1);
    assert.equal(opened.malformed, 1);
  });
  it("whole-packet failures throw CodecError", async () => {
    const good = encodeMessage(ping);
    const bad: Uint8Array[] = [
      new Uint8Array([]),
      new Uint8Array([244]),
      new Uint8Array([244, 0, 0]),
      new Uint8Array([244, 9, 1]),
      new Uint8Array([7]),
      new Uint8Array([7, 3, 0]),
      new Uint8Array([9, 0x80]),
      new Uint8Array([12, 0, 0, 0, 0, ...good]),
      (() => {
        const c = addCrc(good);
        c[c.length - 1] ^= 1;
        return c;
      })(),
      good.subarray(0, good.length - 1),
      new Uint8Array([6, 0x80]),
      new Uint8Array([13]),
      new Uint8Array([10, 0, 0, 0, 1, 0]),
      new Uint8Array([200]),
      new Uint8Array([...labelHeader("x"), ...good]),
    ];
    for (const b of bad) await assert.rejects(openPacket(b, plainSec), isCodecError, hex(b));
    // short buffers starting with 12 are not CRC envelopes: they fail as unknown messages
    await assert.rejects(openPacket(new Uint8Array([12, 1]), plainSec), isCodecError);
  });
  it("fuzz: openPacket never throws anything but CodecError and always settles", async () => {
    const ring = await Keyring.create([new Uint8Array(16).fill(4)]);
    const seeds = [
      encodeCompound([encodeMessage(ping), encodeMessage(suspect)])[0],
      compressMessage(encodeMessage(alive)),
      addCrc(encodeMessage(user)),
      ...[...vectors.values()],
    ];
    const mutated = fc.tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }),
      fc.nat(),
    ).map(([seed, flips, cut]) => {
      const b = seed.slice();
      for (const [i, v] of flips) if (b.length > 0) b[i % b.length] = v;
      return b.subarray(0, b.length === 0 ? 0 : (cut % (b.length + 1)));
    });
    const input = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated);
    const secs: PacketSecurity[] = [
      plainSec,
      { ...plainSec, label: "lbl" },
      { ...plainSec, keyring: ring, verifyIncoming: false },
    ];
    await fc.assert(
      fc.asyncProperty(input, fc.constantFrom(...secs), async (bytes, sec) => {
        try {
          const r = await openPacket(bytes, sec);
          assert.ok(Array.isArray(r.messages));
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
