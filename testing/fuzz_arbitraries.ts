/**
 * fast-check arbitraries for fuzzing the decoders: valid encodings of every wire form
 * (memberlist messages, packets, streams; log frames, payloads, segment records) and
 * structure-aware mutations of them (bit flips, byte sets, truncations, length-field lies,
 * splices, duplications, garbage tails).
 *
 * Shared by tests/fuzz_test.ts (small run counts) and bench/fuzz.ts (a million cases).
 *
 * @module
 */
import { concatBytes } from "../transport/mod.ts";
import fc from "fast-check";
import { encodeCompound } from "../memberlist/wire/compound.ts";
import { addCrc } from "../memberlist/wire/crc.ts";
import { labelHeader } from "../memberlist/wire/label.ts";
import { compressMessage } from "../memberlist/wire/lzw.ts";
import { encodeMessage, type Message } from "../memberlist/wire/messages.ts";
import type { PushNodeState } from "../memberlist/wire/push_state.ts";
import { sealPlain } from "../memberlist/wire/packet.ts";
import { encodePushPull, encodeStreamUserMsg } from "../memberlist/wire/stream.ts";
import type { Entry } from "../log/entry.ts";
import { deflate, encodeFrame, FrameType } from "../log/frames.ts";
import {
  encodeEntries,
  encodeHeads,
  encodeHello,
  encodeSnapshot,
  PROTOCOL_VERSION,
} from "../log/messages.ts";
import { baseRecord, entriesRecord, snapshotRecord } from "../log/segment.ts";

/** One edit applied to a valid encoding. Positions are taken modulo the current length. */
export type Mutation =
  | { op: "flip"; pos: number; bit: number }
  | { op: "set"; pos: number; value: number }
  | { op: "truncate"; pos: number }
  | { op: "lie"; pos: number; width: 1 | 2 | 4; value: number }
  | { op: "insert"; pos: number; bytes: Uint8Array }
  | { op: "delete"; pos: number; count: number }
  | { op: "dup"; pos: number; count: number }
  | { op: "splice"; pos: number; other: Uint8Array; from: number };

// Values a lying length field likes to take: zero, one, off-by-one, the maxima.
const lieValue = fc.oneof(
  fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0xffffffff),
  fc.nat(),
);

/** An arbitrary mutation; `others` supplies splice partners (other valid encodings). */
export function mutation(others: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Mutation> {
  const pos = fc.nat();
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant("flip" as const), pos, bit: fc.nat(7) }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant("set" as const), pos, value: fc.nat(255) }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("truncate" as const), pos }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("lie" as const),
        pos,
        width: fc.constantFrom(1 as const, 2 as const, 4 as const),
        value: lieValue,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("insert" as const),
        pos,
        bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("delete" as const), pos, count: fc.nat(16) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("dup" as const), pos, count: fc.nat(32) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("splice" as const),
        pos,
        other: others,
        from: fc.nat(),
      }),
    },
  );
}

/** Applies one mutation (never in place). */
export function applyMutation(buf: Uint8Array, m: Mutation): Uint8Array {
  const n = buf.length;
  const at = (x: number): number => (n === 0 ? 0 : x % n);
  switch (m.op) {
    case "flip": {
      if (n === 0) return buf;
      const out = buf.slice();
      out[at(m.pos)] ^= 1 << m.bit;
      return out;
    }
    case "set": {
      if (n === 0) return buf;
      const out = buf.slice();
      out[at(m.pos)] = m.value;
      return out;
    }
    case "truncate":
      return buf.slice(0, m.pos % (n + 1));
    case "lie": {
      if (n === 0) return buf;
      const out = buf.slice();
      const p = at(m.pos);
      for (let i = 0; i < m.width && p + i < n; i++) {
        out[p + i] = (m.value >>> (8 * (m.width - 1 - i))) & 0xff; // big endian, as the wire
      }
      return out;
    }
    case "insert": {
      const p = m.pos % (n + 1);
      return concatBytes([buf.subarray(0, p), m.bytes, buf.subarray(p)]);
    }
    case "delete": {
      const p = at(m.pos);
      return concatBytes([buf.subarray(0, p), buf.subarray(Math.min(n, p + m.count))]);
    }
    case "dup": {
      const p = at(m.pos);
      const end = Math.min(n, p + m.count);
      return concatBytes([buf.subarray(0, end), buf.subarray(p, end), buf.subarray(end)]);
    }
    case "splice": {
      const p = m.pos % (n + 1);
      const o = m.other;
      return concatBytes([
        buf.subarray(0, p),
        o.subarray(o.length === 0 ? 0 : m.from % (o.length + 1)),
      ]);
    }
  }
}

/** A valid encoding with 1–4 mutations applied. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(mutation(valid), { minLength: 1, maxLength: 4 }))
    .map(([v, ms]) => ms.reduce(applyMutation, v));
}

/**
 * What a decoder gets fed: mostly mutated valid encodings, some pristine ones (the decoder
 * must accept those) and some plain random bytes.
 */
export function fuzzInput(
  valid: fc.Arbitrary<Uint8Array>,
  maxRandom = 300,
): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: mutated(valid) },
    { weight: 1, arbitrary: valid },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
  );
}

/** A decoder input, marked when it is an untouched valid encoding (which must decode). */
export interface FuzzCase {
  readonly bytes: Uint8Array;
  readonly valid: boolean;
}

/** {@link fuzzInput}, with the untouched valid encodings marked. */
export function fuzzCase(valid: fc.Arbitrary<Uint8Array>, maxRandom = 300): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    { weight: 6, arbitrary: mutated(valid).map((bytes) => ({ bytes, valid: false })) },
    { weight: 1, arbitrary: valid.map((bytes) => ({ bytes, valid: true })) },
    {
      weight: 2,
      arbitrary: fc.uint8Array({ maxLength: maxRandom }).map((bytes) => ({ bytes, valid: false })),
    },
  );
}

// ---------------------------------------------------------------- memberlist

const name = fc.oneof(fc.constantFrom("a", "node-1", "b", ""), fc.string({ maxLength: 24 }));
const u32 = fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.nat({ max: 0xffffffff }));
const u16 = fc.nat({ max: 0xffff });
/** Loopback addresses only: a fuzzed member must never make a node probe the internet. */
const addr = fc.constantFrom(new Uint8Array([127, 0, 0, 1]), new Uint8Array([127, 0, 0, 2]));
const vsn = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((v) => v.map((b) => b % 6));
const meta = fc.option(fc.uint8Array({ maxLength: 32 }), { nil: null });

/** Every plain memberlist message type with arbitrary fields. */
export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ seqNo: u32, node: name }).map((body): Message => ({ type: "ping", body })),
  fc.record({ seqNo: u32, node: name, sourceAddr: addr, sourcePort: u16, sourceNode: name })
    .map((body): Message => ({ type: "ping", body })),
  fc.record({ seqNo: u32, target: addr, port: u16, node: name, nack: fc.boolean() })
    .map((body): Message => ({ type: "indirectPing", body })),
  fc.record({ seqNo: u32, payload: meta }).map((body): Message => ({ type: "ack", body })),
  fc.record({ seqNo: u32 }).map((body): Message => ({ type: "nack", body })),
  fc.record({ incarnation: u32, node: name, from: name })
    .map((body): Message => ({ type: "suspect", body })),
  fc.record({ incarnation: u32, node: name, from: name })
    .map((body): Message => ({ type: "dead", body })),
  fc.record({ incarnation: u32, node: name, addr, port: u16, meta, vsn })
    .map((body): Message => ({ type: "alive", body })),
  fc.record({ error: fc.string({ maxLength: 40 }) }).map((body): Message => ({
    type: "err",
    body,
  })),
  fc.uint8Array({ maxLength: 40 }).map((body): Message => ({ type: "user", body })),
);

/** One encoded plain message. */
export const encodedMessageArb: fc.Arbitrary<Uint8Array> = messageArb.map(encodeMessage);

/** One message, or (mostly) a compound of up to six. */
export const compoundArb: fc.Arbitrary<Uint8Array> = fc
  .array(encodedMessageArb, { minLength: 1, maxLength: 6 })
  .map((parts) => encodeCompound(parts)[0]);

/** Valid datagrams without encryption: compound, compress, CRC and label in Go's order. */
export const plainPacketArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    payload: compoundArb,
    compress: fc.boolean(),
    crc: fc.boolean(),
    label: fc.constantFrom(undefined, "", "lbl"),
  })
  .map((p) =>
    sealPlain(p.payload, {
      compress: p.compress,
      crc: p.crc,
      label: p.label,
      verifyIncoming: true,
      verifyOutgoing: true,
      encryptionVersion: 1,
    })
  );

/** A valid LZW stream (Go's compress/lzw, LSB, 8) of low- or high-entropy data. */
export const lzwPlainArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.array(fc.nat(3), { maxLength: 2000 }).map((xs) => Uint8Array.from(xs)),
);

const nodeStateArb: fc.Arbitrary<PushNodeState> = fc.record({
  name,
  addr,
  port: u16,
  meta,
  incarnation: u32,
  state: fc.nat(3),
  vsn,
});

/** Payloads of stream messages: push/pull, reliable user message, TCP ping, error reply. */
export const streamPayloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({
    join: fc.boolean(),
    nodes: fc.array(nodeStateArb, { maxLength: 5 }),
    user: fc.uint8Array({ maxLength: 40 }),
  }).map((p) => encodePushPull({ join: p.join }, p.nodes, p.user)),
  fc.uint8Array({ maxLength: 60 }).map(encodeStreamUserMsg),
  fc.record({ seqNo: u32, node: name }).map((body) => encodeMessage({ type: "ping", body })),
  fc.string({ maxLength: 30 }).map((error) => encodeMessage({ type: "err", body: { error } })),
);

/** Plaintext stream messages as a dialer writes them: label header, optional compress. */
export const plainStreamArb: fc.Arbitrary<Uint8Array> = fc
  .record({ payload: streamPayloadArb, compress: fc.boolean(), label: fc.constantFrom("", "lbl") })
  .map((s) =>
    concatBytes([labelHeader(s.label), s.compress ? compressMessage(s.payload) : s.payload])
  );

/** A CRC envelope around a message (for the CRC check alone). */
export const crcArb: fc.Arbitrary<Uint8Array> = encodedMessageArb.map(addCrc);

// ---------------------------------------------------------------- log

/** A valid log entry of `origin` with seq `seq`. */
export function entryArb(origin: string, seq: number): fc.Arbitrary<Entry> {
  return fc
    .record({
      wall: fc.nat({ max: 2 ** 45 }),
      logical: fc.nat({ max: 0xffff }),
      key: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
      value: fc.uint8Array({ maxLength: 48 }),
      tombstone: fc.boolean(),
      ttl: fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined }),
    })
    .map((r) => {
      const e: { -readonly [K in keyof Entry]: Entry[K] } = {
        origin,
        seq,
        ts: { wall: r.wall, logical: r.logical },
        value: r.value,
        tombstone: r.key !== undefined && r.tombstone,
      };
      if (r.key !== undefined) {
        e.key = r.key;
        if (r.ttl !== undefined) e.ttl = r.ttl;
      }
      return e;
    });
}

const originArb = fc.constantFrom("a", "node-b", "ç");
const entryRunArb: fc.Arbitrary<{ origin: string; entries: Entry[] }> = fc
  .tuple(originArb, fc.integer({ min: 1, max: 1000 }), fc.nat(4))
  .chain(([origin, first, n]) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => entryArb(origin, first + i)))
      .map((entries) => ({ origin, entries: entries as Entry[] }))
  );

/** Valid payloads of the replication frames, tagged with their frame type. */
export const logPayloadArb: fc.Arbitrary<{ type: number; payload: Uint8Array }> = fc.oneof(
  fc.record({ environment: fc.constantFrom("lan", "wan", ""), name: fc.string({ maxLength: 12 }) })
    .map((h) => ({
      type: FrameType.Hello,
      payload: encodeHello({ version: PROTOCOL_VERSION, ...h }),
    })),
  fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.nat()), { maxLength: 4 })
    .map((hs) => ({ type: FrameType.Digest, payload: encodeHeads(hs) })),
  fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.nat()), { maxLength: 4 })
    .map((hs) => ({ type: FrameType.Ack, payload: encodeHeads(hs) })),
  fc.tuple(entryRunArb, fc.boolean()).map(([r, ack]) => ({
    type: FrameType.Entries,
    payload: encodeEntries(r.origin, r.entries, ack),
  })),
  entryRunArb.map((r) => ({
    type: FrameType.Snapshot,
    payload: encodeSnapshot(
      r.origin,
      (r.entries.at(-1)?.seq ?? 0) + 3,
      r.entries.filter((_, i) => i % 2 === 0),
    ),
  })),
);

/** Encoded frames; entries and snapshots sometimes compressed, as the wan preset sends them. */
export const frameArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(logPayloadArb, fc.boolean())
  .map(([p, z]) => {
    const compress = z && (p.type === FrameType.Entries || p.type === FrameType.Snapshot);
    return encodeFrame(p.type, compress ? deflate(p.payload) : p.payload, compress);
  });

/** A byte stream of 1–4 frames. */
export const frameStreamArb: fc.Arbitrary<Uint8Array> = fc
  .array(frameArb, { minLength: 1, maxLength: 4 })
  .map((fs) => concatBytes(fs));

/** Segment-file bytes: 1–3 records (entries, snapshot, base). */
export const segmentArb: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      entryRunArb.map((r) => entriesRecord(r.entries)),
      entryRunArb.map((r) =>
        snapshotRecord(r.origin, 0, (r.entries.at(-1)?.seq ?? 0) + 1, r.entries)
      ),
      fc.constant(baseRecord()),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((rs) => concatBytes(rs));

/** Splits `buf` into chunks at the given cut points (a stream's arbitrary read sizes). */
export function chunked(buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, buf.length]) {
    if (c > prev) out.push(buf.subarray(prev, c));
    prev = Math.max(prev, c);
  }
  return out;
}
