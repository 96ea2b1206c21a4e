/**
 * Records of the file store's segment files: `[u32 length][u32 crc32][payload]`, where the
 * payload starts with a record type:
 *
 * - Entries (1): count, then whole entries. One append call is one record, so a torn write
 *   loses the whole call, never half of it.
 * - Snapshot (2): origin, floor, through, count, then whole entries of that origin: stored
 *   entries above the head (holes allowed), then head and floor raised.
 * - Base (3): first record of a segment written by compaction; every older segment is
 *   superseded by it.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";
import { crc32 } from "../transport/mod.ts";
import { type Entry, readEntryFrom, writeEntryTo } from "./entry.ts";

/** Record types. */
export const RecordType: { readonly Entries: 1; readonly Snapshot: 2; readonly Base: 3 } = {
  Entries: 1,
  Snapshot: 2,
  Base: 3,
};

/** Length and CRC in front of each payload. */
export const RECORD_HEADER_BYTES = 8;
/** Largest record accepted when reading back (guards against a corrupted length). */
export const MAX_RECORD_BYTES: number = 256 * 1024 * 1024;

/** A decoded record. */
export type SegmentRecord =
  | { readonly type: 1; readonly entries: Entry[] }
  | {
    readonly type: 2;
    readonly origin: string;
    readonly floor: number;
    readonly through: number;
    readonly entries: Entry[];
  }
  | { readonly type: 3 };

function frame(w: ByteWriter): Uint8Array {
  const payload = w.finish().subarray(RECORD_HEADER_BYTES);
  const all = w.finish();
  const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
  view.setUint32(0, payload.length);
  view.setUint32(4, crc32(payload));
  return all;
}

function start(type: number): ByteWriter {
  const w = new ByteWriter(256);
  w.u32(0);
  w.u32(0);
  w.u8(type);
  return w;
}

/** An Entries record. */
export function entriesRecord(entries: readonly Entry[]): Uint8Array {
  const w = start(RecordType.Entries);
  w.u32(entries.length);
  for (const e of entries) writeEntryTo(w, e);
  return frame(w);
}

/** A Snapshot record. */
export function snapshotRecord(
  origin: string,
  floor: number,
  through: number,
  entries: readonly Entry[],
): Uint8Array {
  const w = start(RecordType.Snapshot);
  w.str(origin);
  w.u64(floor);
  w.u64(through);
  w.u32(entries.length);
  for (const e of entries) writeEntryTo(w, e);
  return frame(w);
}

/** The Base marker record. */
export function baseRecord(): Uint8Array {
  return frame(start(RecordType.Base));
}

/** Result of reading one record at an offset. */
export type ReadResult =
  | { readonly ok: true; readonly record: SegmentRecord; readonly next: number }
  | { readonly ok: false; readonly why: string };

/** Reads the record at `offset` of a segment's bytes; never throws. */
export function readRecord(buf: Uint8Array, offset: number): ReadResult {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { ok: false, why: "torn header" };
  const view = new DataView(buf.buffer, buf.byteOffset + offset, RECORD_HEADER_BYTES);
  const len = view.getUint32(0);
  const sum = view.getUint32(4);
  if (len === 0 || len > MAX_RECORD_BYTES) return { ok: false, why: `bad length ${len}` };
  const begin = offset + RECORD_HEADER_BYTES;
  if (buf.length - begin < len) return { ok: false, why: "torn payload" };
  const payload = buf.subarray(begin, begin + len);
  if (crc32(payload) !== sum) return { ok: false, why: "checksum mismatch" };
  try {
    return { ok: true, record: decodePayload(payload), next: begin + len };
  } catch (err) {
    return { ok: false, why: err instanceof DecodeError ? err.message : String(err) };
  }
}

function decodePayload(payload: Uint8Array): SegmentRecord {
  const r = new ByteReader(payload);
  const type = r.u8();
  let rec: SegmentRecord;
  if (type === RecordType.Entries) {
    const n = r.u32();
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) entries.push(readEntryFrom(r));
    rec = { type, entries };
  } else if (type === RecordType.Snapshot) {
    const origin = r.str();
    const floor = r.u64();
    const through = r.u64();
    const n = r.u32();
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const e = readEntryFrom(r);
      if (e.origin !== origin) throw new DecodeError("snapshot record mixes origins");
      entries.push(e);
    }
    rec = { type, origin, floor, through, entries };
  } else if (type === RecordType.Base) {
    rec = { type };
  } else {
    throw new DecodeError(`unknown record type ${type}`);
  }
  r.end();
  return rec;
}
