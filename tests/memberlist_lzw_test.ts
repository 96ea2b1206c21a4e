import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { CodecError } from "../memberlist/wire/errors.ts";
import {
  compressMessage,
  decompressMessage,
  lzwCompress,
  lzwDecompress,
} from "../memberlist/wire/lzw.ts";
import { encodeMsgpack } from "../memberlist/wire/msgpack.ts";
import { hex, loadVectors } from "../testing/memberlist_vectors.ts";

const vectors = loadVectors();
const te = new TextEncoder();

/** Deterministic test data: the same LCG as the Go program that produced the hashes. */
function gen(size: number, alphabet: number): Uint8Array {
  let seed = 42;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    out[i] = (seed >>> 16) % alphabet;
  }
  return out;
}

/** Packs codes LSB-first with explicit widths, to hand-craft streams. */
function pack(codes: [code: number, width: number][]): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let n = 0;
  for (const [c, w] of codes) {
    bits |= c << n;
    n += w;
    while (n >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      n -= 8;
    }
  }
  if (n > 0) out.push(bits & 0xff);
  return new Uint8Array(out);
}

describe("LZW against Go's output", () => {
  it("compress_TOBEORNOT: Go's bytes decompress to the text and we produce them exactly", () => {
    const v = vectors.get("compress_TOBEORNOT");
    assert.ok(v);
    const text = "TOBEORNOTTOBEORTOBEORNOT";
    assert.equal(new TextDecoder().decode(decompressMessage(v.subarray(1))), text);
    assert.equal(hex(compressMessage(te.encode(text))), hex(v));
  });
  it("compress_of_compound: decompresses to the compound vector and re-encodes identically", () => {
    const v = vectors.get("compress_of_compound");
    const compound = vectors.get("compound_ping_suspect");
    assert.ok(v && compound);
    assert.equal(hex(decompressMessage(v.subarray(1))), hex(compound));
    assert.equal(hex(compressMessage(compound)), hex(v));
  });
  it("starts with the clear code (first 9-bit code is 0x100)", () => {
    const z = lzwCompress(te.encode("x"));
    assert.equal(z[0] | ((z[1] & 1) << 8), 256);
  });
});

describe("LZW round trips", () => {
  it("empty input compresses to clear+EOF and back", () => {
    const z = lzwCompress(new Uint8Array(0));
    assert.equal(hex(z), hex(pack([[256, 9], [257, 9]])));
    assert.equal(lzwDecompress(z, 10).length, 0);
  });
  it("random data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        assert.deepEqual(lzwDecompress(lzwCompress(data), data.length), data);
      }),
      { numRuns: 300 },
    );
  });
  it("low-entropy data (many dictionary hits, KwKwK codes)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 5000 }),
        (xs) => {
          const data = new Uint8Array(xs);
          assert.deepEqual(lzwDecompress(lzwCompress(data), data.length), data);
        },
      ),
      { numRuns: 200 },
    );
  });
  it("long inputs crossing the 4095-code clear match Go's output (sha-256) and round trip", () => {
    // Go 1.19 compress/lzw (LSB, 8) over the same generator; see gen().
    const goOutputs: [size: number, alphabet: number, length: number, sha256: string][] = [
      [200_000, 256, 273927, "8731cd9e3ecd34c745b0b9938d8d2f2efcdf1013594f641065f9c50a425ef954"],
      [300_000, 16, 187877, "eb97d81e13bce580f1afb957940ea26a9d3864c12e9596839dd19a5651c8f4a2"],
      [2_000_000, 2, 306332, "ef1f7306ed566333fb380630be83c3455f886ae07eee288539e02ae92e1f5088"],
    ];
    for (const [size, alphabet, length, sha] of goOutputs) {
      const data = gen(size, alphabet);
      const z = lzwCompress(data);
      assert.equal(z.length, length);
      assert.equal(createHash("sha256").update(z).digest("hex"), sha);
      assert.deepEqual(lzwDecompress(z, size), data);
    }
  });
  it("each call starts from an empty dictionary: earlier inputs change nothing", () => {
    const text = te.encode("TOBEORNOTTOBEORTOBEORNOT");
    const alone = hex(lzwCompress(text));
    for (
      const other of [gen(50_000, 4), gen(3_000, 256), te.encode("TOBEORNOT"), te.encode("TO")]
    ) {
      lzwCompress(other);
      assert.equal(hex(lzwCompress(text)), alone);
    }
  });
  it("accepts a stream without the leading clear code", () => {
    const z = pack([[0x41, 9], [0x42, 9], [258, 9], [257, 9]]);
    assert.equal(new TextDecoder().decode(lzwDecompress(z, 100)), "ABAB");
  });
  it("accepts extra clear codes mid-stream", () => {
    const z = pack([[256, 9], [0x41, 9], [256, 9], [0x42, 9], [257, 9]]);
    assert.equal(new TextDecoder().decode(lzwDecompress(z, 100)), "AB");
  });
});

describe("LZW malformed input", () => {
  const isCodecError = (e: unknown): boolean => e instanceof CodecError;
  it("stops a compression bomb at the cap", () => {
    const bomb = lzwCompress(new Uint8Array(8_000_000));
    assert.ok(bomb.length < 20_000);
    assert.throws(() => lzwDecompress(bomb, 1_000_000), isCodecError);
    assert.throws(
      () => decompressMessage(encodeMsgpack({ Algo: 0, Buf: bomb }), 1_000_000),
      isCodecError,
    );
    assert.equal(lzwDecompress(bomb, 8_000_000).length, 8_000_000);
  });
  it("rejects codes beyond the table", () => {
    assert.throws(() => lzwDecompress(pack([[256, 9], [300, 9], [257, 9]]), 100), isCodecError);
    assert.throws(() => lzwDecompress(pack([[256, 9], [0x41, 9], [259, 9]]), 100), isCodecError);
    // code == next code right after a clear (no previous code to extend)
    assert.throws(() => lzwDecompress(pack([[256, 9], [257 + 1, 9]]), 100), isCodecError);
  });
  it("rejects a stream without an end code", () => {
    const z = lzwCompress(te.encode("hello hello hello"));
    assert.throws(() => lzwDecompress(z.subarray(0, z.length - 2), 100), isCodecError);
    assert.throws(() => lzwDecompress(new Uint8Array(0), 100), isCodecError);
  });
  it("compress envelope: unknown algo, empty output, garbage", () => {
    const good = lzwCompress(te.encode("x"));
    assert.throws(() => decompressMessage(encodeMsgpack({ Algo: 1, Buf: good })), isCodecError);
    const empty = lzwCompress(new Uint8Array(0));
    assert.throws(() => decompressMessage(encodeMsgpack({ Algo: 0, Buf: empty })), isCodecError);
    assert.throws(() => decompressMessage(new Uint8Array([0x93, 1, 2, 3])), isCodecError);
    assert.throws(() => decompressMessage(new Uint8Array([])), isCodecError);
  });
  it("random garbage never throws anything but CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (data) => {
        try {
          lzwDecompress(data, 10_000);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
