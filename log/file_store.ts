/**
 * A {@link LogStore} on segment files, for restarts without loss.
 *
 * Layout: a directory of `<20-digit number>.seg` files, appended in order; each record has a
 * length and a CRC-32 (see segment.ts). The newest segment is the active one; a segment that
 * reaches `segmentBytes` is closed and a new one started. The whole log is also kept in
 * memory (reads never touch the disk); compaction bounds both.
 *
 * Durability (`fsync`):
 * - `"always"` (default): every append, snapshot and compaction is fdatasync'ed before it
 *   resolves. Loses nothing that was acknowledged, even on power loss; costs a disk flush
 *   per append call.
 * - a number N: flushed at most N ms after a write. A process crash loses nothing (the data
 *   is in the OS page cache); a power loss or kernel crash loses up to the last N ms.
 * - `"never"`: left to the OS. A process crash loses nothing; a power loss or kernel crash
 *   loses whatever the OS had not written back yet (on Linux typically up to ~30 s).
 *
 * Recovery: on open, records are replayed; the first torn or corrupted record (short
 * header, short payload, bad length, CRC mismatch, undecodable or out-of-order content) and
 * everything after it are cut off (the segment is truncated there and later segments are
 * deleted), so every origin's log is a gap-free prefix of what was written to it. Limit: a
 * non-final segment that loses whole records at its end (cut exactly between records, emptied
 * or deleted by something outside the store) cannot be detected by any checksum; the later
 * segments are then kept. Each origin still holds a gap-free prefix (out-of-order content is
 * cut), but the store as a whole is then not a prefix of the write order.
 *
 * Compaction writes the surviving state into a new segment that starts with a Base record
 * (written to a temporary file, flushed, then renamed), then deletes the older segments; a
 * crash in between leaves the old segments, which recovery ignores once a newer Base exists.
 *
 * One directory belongs to one store instance at a time.
 *
 * @module
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { systemClock } from "../transport/mod.ts";
import type { Clock, TimerHandle } from "../transport/mod.ts";
import type { Entry } from "./entry.ts";
import {
  baseRecord,
  entriesRecord,
  readRecord,
  RecordType,
  type SegmentRecord,
  snapshotRecord,
} from "./segment.ts";
import { type CompactionResult, type LogStore, MemoryLogStore, StoreError } from "./store.ts";

/** When appends reach the disk: `"always"`, every N ms, or `"never"` (see the module doc). */
export type FsyncPolicy = "always" | "never" | number;

/** Options of {@link FileLogStore.open}. */
export interface FileLogStoreOptions {
  /** Default "always". */
  readonly fsync?: FsyncPolicy;
  /** A segment is closed once it reaches this size; default 64 MiB. */
  readonly segmentBytes?: number;
  /** Timer of the interval fsync policy; default `systemClock`. */
  readonly clock?: Clock;
}

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

const SEG = /^(\d{20})\.seg$/;
const SNAPSHOT_CHUNK_BYTES = 1 << 20;

function segName(n: number): string {
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

/**
 * Segment-file store with CRC per record, an fsync policy, torn-tail recovery and compaction.
 *
 * @example
 * ```ts
 * const store = await FileLogStore.open("/var/lib/cluster/log", { fsync: 1000 });
 * console.log(store.recovery); // { segments: 1, records: 42, truncatedBytes: 0, ... }
 * const log = await ReplicatedLog.create({ ...options, store });
 * ```
 */
export class FileLogStore implements LogStore {
  /** What recovery did on open. */
  readonly recovery: RecoveryReport;
  #dir: string;
  #mem: MemoryLogStore;
  #fd: number;
  #segNo: number;
  #size: number;
  #fsync: FsyncPolicy;
  #segmentBytes: number;
  #clock: Clock;
  #timer: TimerHandle = undefined;
  #dirty = false;
  #closed = false;

  private constructor(
    dir: string,
    mem: MemoryLogStore,
    segNo: number,
    options: FileLogStoreOptions,
    recovery: RecoveryReport,
  ) {
    this.#dir = dir;
    this.#mem = mem;
    this.#segNo = segNo;
    this.#fd = openSync(join(dir, segName(segNo)), "a");
    this.#size = fstatSync(this.#fd).size;
    this.#fsync = options.fsync ?? "always";
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#clock = options.clock ?? systemClock;
    this.recovery = recovery;
  }

  /** Opens (creating if needed) the store in `dir` and recovers its content. */
  static open(dir: string, options: FileLogStoreOptions = {}): Promise<FileLogStore> {
    try {
      return Promise.resolve(FileLogStore.#openSync(dir, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  static #openSync(dir: string, options: FileLogStoreOptions): FileLogStore {
    const f = options.fsync;
    if (typeof f === "number" && !(f > 0)) throw new RangeError("fsync interval must be > 0 ms");
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir);
    for (const n of names) if (n.endsWith(".tmp")) unlinkSync(join(dir, n));
    let segs = names.map((n) => SEG.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let dropped = 0;
    // a compaction base supersedes everything before it
    for (let i = segs.length - 1; i > 0; i--) {
      if (FileLogStore.#startsWithBase(join(dir, segName(segs[i])))) {
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
    return new FileLogStore(
      dir,
      mem,
      active,
      options,
      reason === undefined ? report : { ...report, reason },
    );
  }

  static #startsWithBase(path: string): boolean {
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

  #open(): void {
    if (this.#closed) throw new StoreError("store is closed");
  }

  #write(record: Uint8Array): void {
    let off = 0;
    while (off < record.length) off += writeSync(this.#fd, record, off, record.length - off);
    this.#size += record.length;
    if (this.#fsync === "always") fdatasyncSync(this.#fd);
    else if (typeof this.#fsync === "number") {
      this.#dirty = true;
      if (this.#timer === undefined) {
        this.#timer = this.#clock.setTimeout(() => this.#flush(), this.#fsync);
      }
    }
    if (this.#size >= this.#segmentBytes) this.#roll();
  }

  #flush(): void {
    this.#timer = undefined;
    if (!this.#dirty || this.#closed) return;
    this.#dirty = false;
    try {
      fdatasyncSync(this.#fd);
    } catch {
      // the next write or close reports a broken disk; a timer has nobody to tell
    }
  }

  #roll(): void {
    if (this.#fsync !== "never") fdatasyncSync(this.#fd);
    this.#dirty = false;
    closeSync(this.#fd);
    this.#segNo++;
    this.#fd = openSync(join(this.#dir, segName(this.#segNo)), "a");
    this.#size = 0;
  }

  append(entries: readonly Entry[]): Promise<void> {
    try {
      this.#open();
      this.#mem.checkAppend(entries);
      if (entries.length === 0) return Promise.resolve();
      this.#write(entriesRecord(entries));
      this.#mem.appendNow(entries);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  installSnapshot(origin: string, through: number, entries: readonly Entry[]): Promise<void> {
    try {
      this.#open();
      this.#mem.checkSnapshot(origin, through, entries);
      this.#write(snapshotRecord(origin, through, through, entries));
      this.#mem.installSnapshotNow(origin, through, entries);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read(origin: string, fromSeq: number, limit: number): Promise<Entry[]> {
    if (this.#closed) return Promise.reject(new StoreError("store is closed"));
    return Promise.resolve(this.#mem.readNow(origin, fromSeq, limit));
  }

  heads(): ReadonlyMap<string, number> {
    return this.#mem.heads();
  }

  floors(): ReadonlyMap<string, number> {
    return this.#mem.floors();
  }

  /** Segment files currently on disk (oldest first). */
  segments(): string[] {
    return readdirSync(this.#dir).filter((n) => SEG.test(n)).sort();
  }

  compact(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): Promise<CompactionResult> {
    try {
      this.#open();
      const result = this.#mem.compactNow(upTo, keep);
      // nothing removed: the files hold no holes, so the old floors stay truthful after restart
      if (result.removed > 0) this.#rewrite();
      return Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Writes the whole in-memory state as a new base segment and deletes the older ones. */
  #rewrite(): void {
    const n = this.#segNo + 1;
    const tmp = join(this.#dir, `${segName(n)}.tmp`);
    const fd = openSync(tmp, "w");
    try {
      const put = (b: Uint8Array): void => {
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      };
      put(baseRecord());
      const floors = this.#mem.floors();
      for (const [origin, head] of this.#mem.heads()) {
        const floor = floors.get(origin) ?? 0;
        const all = this.#mem.entriesOf(origin);
        let chunk: Entry[] = [];
        let bytes = 0;
        for (const e of all) {
          chunk.push(e);
          bytes += e.value.length + 64;
          if (bytes >= SNAPSHOT_CHUNK_BYTES) {
            put(snapshotRecord(origin, Math.min(floor, e.seq), e.seq, chunk));
            chunk = [];
            bytes = 0;
          }
        }
        put(snapshotRecord(origin, floor, head, chunk));
      }
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.#dir, segName(n)));
    this.#syncDir();
    const old = this.#segNo;
    closeSync(this.#fd);
    for (const name of this.segments()) {
      const m = SEG.exec(name);
      if (m !== null && Number(m[1]) <= old) unlinkSync(join(this.#dir, name));
    }
    this.#segNo = n;
    this.#fd = openSync(join(this.#dir, segName(n)), "a");
    this.#size = fstatSync(this.#fd).size;
    this.#dirty = false;
  }

  #syncDir(): void {
    try {
      const fd = openSync(this.#dir, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // some platforms cannot fsync a directory; the rename is still atomic
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      if (this.#fsync !== "never") fdatasyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
    return this.#mem.close();
  }
}
