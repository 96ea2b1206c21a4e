/**
 * Recovery of a {@link FileLogStore} directory (see file_store.ts for the rules): replays the
 * segments after the newest compaction base, cuts a torn or corrupted tail.
 *
 * @module
 */
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { readRecord, RecordType, type SegmentRecord } from "./segment.ts";
import { MemoryLogStore, StoreError } from "./store.ts";

/** What recovery found when the store was opened. */
export interface RecoveryReport {
  /** Segments replayed. */
  readonly segments: number;
  /** Records replayed. */
  readonly records: number;
  /** Bytes cut off the tail (torn or corrupted), 0 when clean. */
  readonly truncatedBytes: number;
  /** Segments deleted after a corrupted one, or superseded by a compaction base. */
  readonly droppedSegments: number;
  /** Why the tail was cut, when it was. */
  readonly reason?: string;
}

/** Segment file names. */
export const SEG: RegExp = /^(\d{20})\.seg$/;

/** The file name of segment `n`. */
export function segName(n: number): string {
  return `${String(n).padStart(20, "0")}.seg`;
}

function applyRecord(mem: MemoryLogStore, rec: SegmentRecord): void {
  if (rec.type === RecordType.Entries) {
    mem.checkAppend(rec.entries);
    for (const e of rec.entries) mem.put(e);
  } else if (rec.type === RecordType.Snapshot) {
    const head = mem.heads().get(rec.origin) ?? 0;
    let prev = head;
    for (const e of rec.entries) {
      if (e.seq <= prev || e.seq > rec.through) {
        throw new StoreError("snapshot record out of order");
      }
      prev = e.seq;
    }
    for (const e of rec.entries) mem.put(e);
    mem.setMarks(rec.origin, rec.through, rec.floor);
  }
}

function startsWithBase(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = new Uint8Array(9);
    const n = readSync(fd, head, 0, 9, 0);
    const r = readRecord(head.subarray(0, n), 0);
    return r.ok && r.record.type === RecordType.Base;
  } finally {
    closeSync(fd);
  }
}

/** Replays `dir` (created if missing) into a memory store; returns it and the active segment. */
export function recoverDir(
  dir: string,
): { mem: MemoryLogStore; active: number; report: RecoveryReport } {
  mkdirSync(dir, { recursive: true });
  const names = readdirSync(dir);
  for (const n of names) if (n.endsWith(".tmp")) unlinkSync(join(dir, n));
  let segs = names.map((n) => SEG.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let dropped = 0;
  // a compaction base supersedes everything before it
  for (let i = segs.length - 1; i > 0; i--) {
    if (startsWithBase(join(dir, segName(segs[i])))) {
      for (const old of segs.slice(0, i)) unlinkSync(join(dir, segName(old)));
      dropped += i;
      segs = segs.slice(i);
      break;
    }
  }
  const mem = new MemoryLogStore();
  let records = 0;
  let truncated = 0;
  let reason: string | undefined;
  let replayed = 0;
  for (let i = 0; i < segs.length && reason === undefined; i++) {
    const path = join(dir, segName(segs[i]));
    const buf = readFileSync(path);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    replayed++;
    let off = 0;
    while (off < bytes.length) {
      const r = readRecord(bytes, off);
      let why = r.ok ? undefined : r.why;
      if (r.ok) {
        try {
          applyRecord(mem, r.record);
        } catch (err) {
          why = (err as Error).message;
        }
      }
      if (why !== undefined || !r.ok) {
        reason = `${segName(segs[i])} at ${off}: ${why}`;
        truncated = bytes.length - off;
        const fd = openSync(path, "r+");
        try {
          ftruncateSync(fd, off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        for (const later of segs.slice(i + 1)) unlinkSync(join(dir, segName(later)));
        dropped += segs.length - i - 1;
        segs = segs.slice(0, i + 1);
        break;
      }
      records++;
      off = r.next;
    }
  }
  const active = segs.length > 0 ? segs[segs.length - 1] : 1;
  const report: RecoveryReport = {
    segments: replayed,
    records,
    truncatedBytes: truncated,
    droppedSegments: dropped,
  };
  return { mem, active, report: reason === undefined ? report : { ...report, reason } };
}
