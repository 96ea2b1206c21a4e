/**
 * One fuzz property per decoder. Each target feeds mutated valid encodings and random bytes
 * to a decoder and checks: only the decoder's own error type escapes (CodecError,
 * FrameError, DecodeError), results stay within size bounds, and nothing hangs (async
 * targets run under a timeout). Authenticated forms (encryption) must also refuse every
 * changed input.
 *
 * `run(numRuns)` uses `fc.check`, so callers decide how to report: tests/fuzz_test.ts runs a
 * few thousand cases, bench/fuzz.ts a million.
 *
 * @module
 */
import fc from "fast-check";
import { decodeCompound } from "../memberlist/wire/compound.ts";
import { stripCrc } from "../memberlist/wire/crc.ts";
import { CodecError } from "../memberlist/wire/errors.ts";
import { removeLabelHeader } from "../memberlist/wire/label.ts";
import {
  compressMessage,
  decompressMessage,
  lzwCompress,
  lzwDecompress,
} from "../memberlist/wire/lzw.ts";
import { decodeMessage } from "../memberlist/wire/messages.ts";
import { decodeMsgpack } from "../memberlist/wire/msgpack.ts";
import { openPlain } from "../memberlist/wire/packet.ts";
import type { PacketSecurity } from "../memberlist/wire/packet.ts";
import { DecodeError } from "../log/binary.ts";
import { decodeEntry, encodeEntry, ENTRY_BODY_OVERHEAD } from "../log/entry.ts";
import { FrameDecoder, FrameError, FrameType } from "../log/frames.ts";
import { decodeEntries, decodeHeads, decodeHello, decodeSnapshot } from "../log/messages.ts";
import { readRecord } from "../log/segment.ts";
import {
  chunked,
  compoundArb,
  crcArb,
  encodedMessageArb,
  entryArb,
  frameStreamArb,
  fuzzCase,
  fuzzInput,
  logPayloadArb,
  lzwPlainArb,
  plainPacketArb,
  segmentArb,
} from "./fuzz_arbitraries.ts";
import { encryptedTargets } from "./fuzz_crypto_targets.ts";
import { fileStoreTarget } from "./fuzz_file_store.ts";
import { streamTarget } from "./fuzz_stream_targets.ts";
import {
  check,
  defineTarget,
  errorText,
  type FuzzTarget,
  messageBytes,
  only,
  sameBytes,
} from "./fuzz_property.ts";

export type { FuzzRun, FuzzTarget } from "./fuzz_property.ts";

const LZW_CAP = 64 * 1024;

const memberlistTargets: FuzzTarget[] = [
  defineTarget({
    name: "memberlist/msgpack",
    weight: 6,
    testRuns: 300,
    // User messages (type 8) carry raw bytes, not msgpack.
    arb: () => fuzzCase(encodedMessageArb.filter((b) => b[0] !== 8).map((b) => b.subarray(1))),
    check: ({ bytes, valid }) => {
      const r = only(CodecError, () => decodeMsgpack(bytes));
      if (valid) check(r !== undefined && r.offset === bytes.length, "a valid encoding decodes");
      if (r) check(r.offset > 0 && r.offset <= bytes.length, "offset within the input");
    },
  }),
  defineTarget({
    name: "memberlist/message",
    weight: 8,
    testRuns: 400,
    arb: () => fuzzCase(encodedMessageArb),
    check: ({ bytes, valid }) => {
      const m = only(CodecError, () => decodeMessage(bytes));
      if (valid) check(m !== undefined, "a valid encoding decodes");
      if (m) check(messageBytes(m) <= bytes.length, "decoded fields no larger than the input");
    },
  }),
  defineTarget({
    name: "memberlist/compound",
    weight: 5,
    testRuns: 300,
    arb: () => fuzzCase(compoundArb.filter((p) => p[0] === 7).map((p) => p.subarray(1))),
    check: ({ bytes, valid }) => {
      const r = only(CodecError, () => decodeCompound(bytes));
      if (valid) check(r !== undefined && r.truncated === 0, "a valid compound splits whole");
      if (!r) return;
      let total = 0;
      for (const p of r.parts) total += p.length;
      check(total <= bytes.length, "parts lie within the input");
      check(r.parts.length + r.truncated <= 255, "at most 255 parts");
    },
  }),
  defineTarget({
    name: "memberlist/lzw",
    weight: 8,
    testRuns: 300,
    arb: () =>
      fc.oneof(
        fuzzInput(lzwPlainArb.map(lzwCompress), 600).map((bytes) => ({ bytes, plain: null })),
        lzwPlainArb.map((plain) => ({ bytes: lzwCompress(plain), plain })),
      ),
    check: ({ bytes, plain }: { bytes: Uint8Array; plain: Uint8Array | null }) => {
      const out = only(CodecError, () => lzwDecompress(bytes, LZW_CAP));
      if (out) check(out.length <= LZW_CAP, "output within the cap");
      if (plain !== null) {
        check(
          out !== undefined && sameBytes(out, plain),
          "a valid stream decompresses to its input",
        );
      }
    },
  }),
  defineTarget({
    name: "memberlist/compress-envelope",
    weight: 5,
    testRuns: 200,
    arb: () => fuzzCase(compoundArb.map((p) => compressMessage(p).subarray(1))),
    check: ({ bytes, valid }) => {
      const out = only(CodecError, () => decompressMessage(bytes, LZW_CAP));
      if (valid) check(out !== undefined, "a valid envelope opens");
      if (out) check(out.length > 0 && out.length <= LZW_CAP, "non-empty output within the cap");
    },
  }),
  defineTarget({
    name: "memberlist/crc",
    weight: 3,
    testRuns: 200,
    arb: () => fuzzCase(crcArb),
    check: ({ bytes, valid }) => {
      const out = only(CodecError, () => stripCrc(bytes));
      if (valid) check(out !== undefined, "a valid envelope passes");
      if (out) check(out.length === bytes.length - 5, "payload is the rest of the envelope");
    },
  }),
  defineTarget({
    name: "memberlist/label",
    weight: 2,
    testRuns: 100,
    arb: () => fuzzInput(plainPacketArb),
    check: (bytes) => {
      const r = only(CodecError, () => removeLabelHeader(bytes));
      if (r) check(r.rest.length <= bytes.length, "rest within the input");
    },
  }),
  ...[["", "no label"], ["lbl", "label"]].map(([label, what]) =>
    defineTarget({
      name: `memberlist/packet (${what})`,
      weight: 10,
      testRuns: 400,
      arb: () => fuzzCase(plainPacketArb),
      check: ({ bytes, valid }) => {
        const sec: PacketSecurity = {
          label,
          verifyIncoming: true,
          verifyOutgoing: true,
          encryptionVersion: 1,
        };
        const r = only(CodecError, () => openPlain(bytes, sec));
        if (valid && (bytes[0] === 244) === (label !== "")) {
          check(r !== undefined && r.malformed + r.truncated === 0, "a valid packet opens whole");
        }
        if (!r) return;
        let n = 0;
        for (const m of r.messages) n += messageBytes(m);
        // Envelopes may expand (LZW), but never past the per-packet decompression budget.
        check(n <= 40 * 1024 * 1024, "decoded bytes within the decompression budget");
        check(r.malformed >= 0 && r.truncated >= 0, "counts are non-negative");
      },
    })
  ),
];

const logDecoders: ((p: Uint8Array) => unknown)[] = [
  decodeHello,
  decodeHeads,
  decodeEntries,
  decodeSnapshot,
];
const decoderOfType: Record<number, (p: Uint8Array) => unknown> = {
  [FrameType.Hello]: decodeHello,
  [FrameType.Digest]: decodeHeads,
  [FrameType.Ack]: decodeHeads,
  [FrameType.Entries]: decodeEntries,
  [FrameType.Snapshot]: decodeSnapshot,
};

const FRAME_MAX = 4096;

const logTargets: FuzzTarget[] = [
  defineTarget({
    name: "log/frames",
    weight: 10,
    testRuns: 400,
    arb: () =>
      fc.tuple(
        fuzzCase(frameStreamArb, 400),
        fc.array(fc.nat(), { maxLength: 6 }),
      ),
    check: ([{ bytes, valid }, cuts]) => {
      const d = new FrameDecoder(FRAME_MAX);
      let failed = false;
      for (const chunk of chunked(bytes, cuts)) {
        const frames = only(FrameError, () => d.push(chunk));
        if (valid) check(frames !== undefined, "valid frames decode");
        if (frames === undefined) {
          failed = true;
          break;
        }
        check(d.buffered <= FRAME_MAX + 4 + chunk.length, "buffers at most one frame");
        for (const f of frames) {
          check(f.payload.length <= FRAME_MAX, "payload within the frame limit");
          // What the peer does next with the payload: only DecodeError may come out.
          const p = only(DecodeError, () => decoderOfType[f.type](f.payload));
          if (valid) check(p !== undefined, "a valid payload decodes");
        }
      }
      if (failed) {
        const again = only(FrameError, () => d.push(new Uint8Array([0, 0, 0, 1, 1])));
        check(again === undefined, "a failed decoder stays failed");
      }
    },
  }),
  defineTarget({
    name: "log/payloads",
    weight: 10,
    testRuns: 400,
    arb: () =>
      fc.tuple(
        fuzzInput(logPayloadArb.map((p) => p.payload), 200),
        fc.nat(3),
      ),
    check: ([bytes, i]) => {
      const r = only(DecodeError, () => logDecoders[i](bytes));
      if (r && typeof r === "object" && "entries" in r && Array.isArray(r.entries)) {
        check(
          r.entries.length <= bytes.length / ENTRY_BODY_OVERHEAD,
          "entries allocated only in proportion to the bytes received",
        );
      }
    },
  }),
  defineTarget({
    name: "log/entry",
    weight: 4,
    testRuns: 200,
    arb: () => fuzzCase(entryArb("origin", 7).map(encodeEntry), 100),
    check: ({ bytes, valid }) => {
      const e = only(DecodeError, () => decodeEntry(bytes));
      if (valid) check(e !== undefined, "a valid entry decodes");
      if (e) check(e.value.length <= bytes.length, "value within the input");
    },
  }),
  defineTarget({
    name: "log/segment-records",
    weight: 6,
    testRuns: 300,
    arb: () => fuzzCase(segmentArb, 300),
    check: ({ bytes, valid }) => {
      let off = 0;
      for (let guard = 0; off < bytes.length; guard++) {
        check(guard <= bytes.length, "record reading terminates");
        let r: ReturnType<typeof readRecord>;
        try {
          r = readRecord(bytes, off);
        } catch (e) {
          throw new Error(`readRecord threw ${errorText(e)} (it must never throw)`);
        }
        if (valid) check(r.ok, `a valid record reads (${r.ok ? "" : r.why})`);
        if (!r.ok) break;
        check(r.next > off && r.next <= bytes.length, "records advance within the buffer");
        off = r.next;
      }
    },
  }),
];

/**
 * Every decoder target. `fileStoreDir` is where the FileLogStore target creates its
 * temporary stores.
 */
export function fuzzTargets(fileStoreDir: string): FuzzTarget[] {
  return [
    ...memberlistTargets,
    ...encryptedTargets(),
    streamTarget("plain"),
    streamTarget("encrypted"),
    ...logTargets,
    fileStoreTarget(fileStoreDir),
  ];
}
