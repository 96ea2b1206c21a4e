/**
 * Log entries and their binary encoding.
 *
 * An entry is one record of one origin's single-writer log: `origin` is the writing node's
 * name, `seq` counts 1, 2, 3 … per origin, `ts` is a hybrid logical clock timestamp, `key`
 * (optional) makes the entry a cache write, `tombstone` marks a delete of that key and `ttl`
 * lets a keyed value expire `ttl` ms after `ts.wall` on every replica alike.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";

/** A hybrid logical clock timestamp: physical milliseconds plus a logical counter. */
export interface Timestamp {
  /** Milliseconds (the node clock's `now()`, close to Unix epoch ms). */
  readonly wall: number;
  /** Orders events within one millisecond; 0–2^32-1. */
  readonly logical: number;
}

/** One record of an origin's log. */
export interface Entry {
  /** Name of the node that wrote it. */
  readonly origin: string;
  /** 1, 2, 3 … within `origin`. */
  readonly seq: number;
  /** When it was written (hybrid logical clock). */
  readonly ts: Timestamp;
  /** Cache key, when the entry is a cache write or delete. */
  readonly key?: string;
  /** The payload (empty for tombstones). */
  readonly value: Uint8Array;
  /** A delete of `key`. */
  readonly tombstone: boolean;
  /** Lifetime in ms counted from `ts.wall` (keyed entries only). */
  readonly ttl?: number;
}

const F_TOMBSTONE = 1;
const F_KEY = 2;
const F_TTL = 4;
const F_KNOWN = F_TOMBSTONE | F_KEY | F_TTL;

/** Fixed bytes of a body besides key and value: ts (8 + 4), flags, value length. */
export const ENTRY_BODY_OVERHEAD = 17;

/**
 * Orders timestamps; negative when `a` is older.
 *
 * @example
 * ```ts
 * compareTimestamps({ wall: 5, logical: 0 }, { wall: 5, logical: 1 }); // < 0
 * ```
 */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical;
}

/**
 * Last-writer-wins order of two entries: by timestamp, then by origin name (so every replica
 * picks the same winner), then by seq. Negative when `a` loses.
 *
 * @example
 * ```ts
 * const ts = { wall: 1, logical: 0 };
 * const a = { origin: "a", seq: 1, ts, value: new Uint8Array(), tombstone: false };
 * compareLww(a, { ...a, origin: "b" }); // < 0: same time, "b" wins
 * ```
 */
export function compareLww(a: Entry, b: Entry): number {
  const t = compareTimestamps(a.ts, b.ts);
  if (t !== 0) return t;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.seq - b.seq;
}

/** Writes everything but origin and seq (frames carry those once per batch). */
export function writeEntryBody(w: ByteWriter, e: Entry): void {
  let flags = 0;
  if (e.tombstone) flags |= F_TOMBSTONE;
  if (e.key !== undefined) flags |= F_KEY;
  if (e.ttl !== undefined) flags |= F_TTL;
  w.u64(e.ts.wall);
  w.u32(e.ts.logical);
  w.u8(flags);
  if (e.key !== undefined) w.str(e.key);
  if (e.ttl !== undefined) w.u64(e.ttl);
  w.blob(e.value);
}

/**
 * Reads a body written by {@link writeEntryBody}. With `copy` false an unkeyed entry's value
 * is a view of the input (the caller keeps the input for as long as the entry lives); keyed
 * values are always copied, since a key's winner may outlive the rest of its batch by far.
 */
export function readEntryBody(r: ByteReader, origin: string, seq: number, copy = true): Entry {
  const wall = r.u64();
  const logical = r.u32();
  const flags = r.u8();
  if ((flags & ~F_KNOWN) !== 0) throw new DecodeError(`unknown entry flags ${flags}`);
  const key = (flags & F_KEY) !== 0 ? r.str() : undefined;
  const ttl = (flags & F_TTL) !== 0 ? r.u64() : undefined;
  const value = copy || key !== undefined ? r.blob() : r.view(r.u32());
  const tombstone = (flags & F_TOMBSTONE) !== 0;
  if (tombstone && key === undefined) throw new DecodeError("tombstone without key");
  if (ttl !== undefined && key === undefined) throw new DecodeError("ttl without key");
  const e: { -readonly [K in keyof Entry]: Entry[K] } = {
    origin,
    seq,
    ts: { wall, logical },
    value,
    tombstone,
  };
  if (key !== undefined) e.key = key;
  if (ttl !== undefined) e.ttl = ttl;
  return e;
}

/** Checks the invariants every stored or sent entry keeps; throws RangeError. */
export function validateEntry(e: Entry): void {
  if (e.origin === "") throw new RangeError("empty origin");
  if (!Number.isSafeInteger(e.seq) || e.seq < 1) throw new RangeError(`bad seq ${e.seq}`);
  if (!Number.isSafeInteger(e.ts.wall) || e.ts.wall < 0) throw new RangeError("bad ts.wall");
  if (!Number.isInteger(e.ts.logical) || e.ts.logical < 0 || e.ts.logical > 0xffff_ffff) {
    throw new RangeError("bad ts.logical");
  }
  if (e.tombstone && e.key === undefined) throw new RangeError("a tombstone needs a key");
  if (e.ttl !== undefined) {
    if (e.key === undefined) throw new RangeError("ttl needs a key");
    if (!Number.isSafeInteger(e.ttl) || e.ttl < 0) throw new RangeError("bad ttl");
  }
}

/**
 * Encodes a whole entry (origin and seq included), as segment files store it.
 *
 * @example
 * ```ts
 * const e = { origin: "a", seq: 1, ts: { wall: 1, logical: 0 }, value: new Uint8Array([1]), tombstone: false };
 * decodeEntry(encodeEntry(e)).seq; // 1
 * ```
 */
export function encodeEntry(e: Entry): Uint8Array {
  const w = new ByteWriter(64 + e.value.length);
  writeEntryTo(w, e);
  return w.finish();
}

/** Appends a whole entry (origin, seq, body) to a writer. */
export function writeEntryTo(w: ByteWriter, e: Entry): void {
  w.str(e.origin);
  w.u64(e.seq);
  writeEntryBody(w, e);
}

/** Reads a whole entry written by {@link writeEntryTo}. */
export function readEntryFrom(r: ByteReader): Entry {
  const origin = r.str();
  const seq = r.u64();
  if (origin === "" || seq < 1) throw new DecodeError("bad origin or seq");
  return readEntryBody(r, origin, seq);
}

/** Decodes {@link encodeEntry} output; throws {@link DecodeError} on malformed input. */
export function decodeEntry(bytes: Uint8Array): Entry {
  const r = new ByteReader(bytes);
  const e = readEntryFrom(r);
  r.end();
  return e;
}
