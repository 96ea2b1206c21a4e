/**
 * Payloads of the replication frames (see frames.ts for the framing):
 *
 * - Hello: `"RLOG"`, protocol version (u8), environment, node name. Both sides send it first.
 * - Digest / Ack: count, then (origin, head) pairs: "I hold these origins up to these seqs".
 * - Entries: origin, flags (bit 0: please ack), first seq, count, then entry bodies with
 *   consecutive seqs: a batch can never contain a gap.
 * - Snapshot: origin, through, count, then (seq, body) ascending, all ≤ through: a compacted
 *   range of an origin's log; the receiver's head and floor move to `through`.
 *
 * Every decoder throws {@link DecodeError} on malformed input and allocates only in
 * proportion to the bytes actually received.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";
import { type Entry, readEntryBody, writeEntryBody } from "./entry.ts";

/** Version spoken by this implementation; peers with another version are refused. */
export const PROTOCOL_VERSION = 1;
const MAGIC = [0x52, 0x4c, 0x4f, 0x47]; // "RLOG"
const F_ACK = 1;

/** The first frame of each side. */
export interface Hello {
  /** {@link PROTOCOL_VERSION} of the sender. */
  readonly version: number;
  /** "local", "lan", "wan" or any label: both sides must agree. */
  readonly environment: string;
  /** The sender's node name (its origin). */
  readonly name: string;
}

/**
 * Why a peer's Hello is refused, as `[reason, detail]`, or undefined when it is acceptable:
 * another protocol version or environment, our own or an empty name, or a name other than the
 * one the peer proved (keyed) or this side dialed.
 */
export function helloFault(
  hello: Hello,
  local: { readonly name: string; readonly environment: string },
  authenticated: string | undefined,
  expected: string | undefined,
): ["version" | "environment" | "self" | "name", string] | undefined {
  if (hello.version !== PROTOCOL_VERSION) return ["version", `version ${hello.version}`];
  if (hello.environment !== local.environment) return ["environment", hello.environment];
  if (hello.name === local.name || hello.name === "") return ["self", "own name"];
  if (authenticated !== undefined && hello.name !== authenticated) {
    return ["name", `proved ${authenticated}, says ${hello.name}`];
  }
  if (expected !== undefined && hello.name !== expected) {
    return ["name", `dialed ${expected}, reached ${hello.name}`];
  }
  return undefined;
}

/** Encodes a Hello payload. */
export function encodeHello(h: Hello): Uint8Array {
  const w = new ByteWriter(64);
  for (const b of MAGIC) w.u8(b);
  w.u8(h.version);
  w.str(h.environment);
  w.str(h.name);
  return w.finish();
}

/** Decodes a Hello payload. */
export function decodeHello(p: Uint8Array): Hello {
  const r = new ByteReader(p);
  for (const b of MAGIC) if (r.u8() !== b) throw new DecodeError("bad magic");
  const version = r.u8();
  const environment = r.str();
  const name = r.str();
  r.end();
  return { version, environment, name };
}

/** Encodes a Digest or Ack payload: origin → head. */
export function encodeHeads(heads: Iterable<readonly [string, number]>): Uint8Array {
  const w = new ByteWriter(128);
  const at = w.length;
  w.u32(0);
  let n = 0;
  for (const [origin, head] of heads) {
    w.str(origin);
    w.u64(head);
    n++;
  }
  w.patchU32(at, n);
  return w.finish();
}

/** Decodes a Digest or Ack payload. */
export function decodeHeads(p: Uint8Array): Map<string, number> {
  const r = new ByteReader(p);
  const n = r.u32();
  if (n > r.remaining / 10) throw new DecodeError("head count exceeds payload");
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const origin = r.str();
    const head = r.u64();
    if (origin === "") throw new DecodeError("empty origin");
    out.set(origin, head);
  }
  r.end();
  return out;
}

/** A gap-free run of one origin's entries. */
export interface EntriesBatch {
  /** Whose entries. */
  readonly origin: string;
  /** The sender wants an Ack (quorum appends are waiting). */
  readonly ackRequested: boolean;
  /** Consecutive seqs, ascending. */
  readonly entries: Entry[];
}

/**
 * Encodes an Entries payload; `entries` must be consecutive and of `origin`. `sizeHint`:
 * the expected payload size, so the buffer is allocated once.
 */
export function encodeEntries(
  origin: string,
  entries: readonly Entry[],
  ackRequested: boolean,
  sizeHint = 256,
): Uint8Array {
  const w = new ByteWriter(sizeHint + 64);
  w.str(origin);
  w.u8(ackRequested ? F_ACK : 0);
  w.u64(entries.length > 0 ? entries[0].seq : 1);
  w.u32(entries.length);
  for (const e of entries) writeEntryBody(w, e);
  return w.finish();
}

/** Decodes an Entries payload. */
export function decodeEntries(p: Uint8Array): EntriesBatch {
  const r = new ByteReader(p);
  const origin = r.str();
  if (origin === "") throw new DecodeError("empty origin");
  const flags = r.u8();
  if ((flags & ~F_ACK) !== 0) throw new DecodeError("unknown batch flags");
  const first = r.u64();
  const n = r.u32();
  if (first < 1 || first + n > Number.MAX_SAFE_INTEGER) throw new DecodeError("bad first seq");
  const entries: Entry[] = [];
  // values stay views of the frame: one allocation per frame, not per entry
  for (let i = 0; i < n; i++) entries.push(readEntryBody(r, origin, first + i, false));
  r.end();
  return { origin, ackRequested: (flags & F_ACK) !== 0, entries };
}

/** A compacted range of one origin's log. */
export interface SnapshotChunk {
  /** Whose log. */
  readonly origin: string;
  /** The range ends here: the receiver's head and floor move to it. */
  readonly through: number;
  /** Surviving entries of the range, ascending, all ≤ through (holes allowed). */
  readonly entries: Entry[];
}

/** Encodes a Snapshot payload. */
export function encodeSnapshot(
  origin: string,
  through: number,
  entries: readonly Entry[],
): Uint8Array {
  const w = new ByteWriter(256);
  w.str(origin);
  w.u64(through);
  w.u32(entries.length);
  for (const e of entries) {
    w.u64(e.seq);
    writeEntryBody(w, e);
  }
  return w.finish();
}

/** Decodes a Snapshot payload; checks order and bounds. */
export function decodeSnapshot(p: Uint8Array): SnapshotChunk {
  const r = new ByteReader(p);
  const origin = r.str();
  if (origin === "") throw new DecodeError("empty origin");
  const through = r.u64();
  const n = r.u32();
  const entries: Entry[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const seq = r.u64();
    if (seq <= prev || seq > through) throw new DecodeError("snapshot entries out of order");
    entries.push(readEntryBody(r, origin, seq));
    prev = seq;
  }
  r.end();
  return { origin, through, entries };
}
