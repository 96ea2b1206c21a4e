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
 * The automatic compaction writes that segment in steps while appends go on into the next
 * segment (see file_rewrite.ts), and only when the segments exceed twice the held data plus
 * `rewriteSlackBytes`, or when entries or origins were removed and the last rewrite is
 * `rewriteEveryMs` old.
 *
 * One directory belongs to one store instance at a time.
 *
 * @module
 */
export type { RecoveryReport } from "./file_recovery.ts";
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { systemClock } from "../transport/mod.ts";
import type { Clock, TimerHandle } from "../transport/mod.ts";
import type { Entry } from "./entry.ts";
import { recoverDir, type RecoveryReport, SEG, segName } from "./file_recovery.ts";
import { BaseWriter } from "./file_rewrite.ts";
import { ENTRY_OVERHEAD, type PlainUsage } from "./retention.ts";
import { entriesRecord, snapshotRecord } from "./segment.ts";
import {
  type CompactionJob,
  type CompactionResult,
  type LogStore,
  type MemoryLogStore,
  StoreError,
  type StoreUsage,
} from "./store.ts";

// bytes of an entry in a segment besides payload and key: origin, seq, timestamp, flags, lengths
const RECORD_ENTRY_BYTES = 40;

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
  /**
   * Automatic compaction rewrites the segments once they exceed twice the live data plus
   * this many bytes; default 8 MiB.
   */
  readonly rewriteSlackBytes?: number;
  /**
   * Below that, a compaction that removed entries rewrites the segments anyway when the last
   * rewrite is this old (ms), so removed data leaves the disk within a bounded time; default
   * one hour.
   */
  readonly rewriteEveryMs?: number;
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
  #diskBytes = 0;
  #rewriteSlack: number;
  #rewriting: BaseWriter | undefined;
  #rewriteBase = 0;
  #rewriteEvery: number;
  #lastRewrite: number;
  #removedSinceRewrite = 0;

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
    this.#rewriteSlack = options.rewriteSlackBytes ?? 8 * 1024 * 1024;
    this.#rewriteEvery = options.rewriteEveryMs ?? 3600_000;
    this.#lastRewrite = this.#clock.now();
    this.recovery = recovery;
    this.#diskBytes = this.#measureDisk();
  }

  #measureDisk(): number {
    let total = 0;
    for (const name of this.segments()) {
      try {
        total += statSync(join(this.#dir, name)).size;
      } catch {
        // deleted meanwhile
      }
    }
    return total;
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
    const { mem, active, report } = recoverDir(dir);
    return new FileLogStore(dir, mem, active, options, report);
  }

  #open(): void {
    if (this.#closed) throw new StoreError("store is closed");
  }

  #write(record: Uint8Array): void {
    let off = 0;
    while (off < record.length) off += writeSync(this.#fd, record, off, record.length - off);
    this.#size += record.length;
    this.#diskBytes += record.length;
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
      if (result.removed > 0) this.#rewriteAll();
      return Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A compaction in steps: the memory part first, then, when the segments exceed twice the
   * live data plus the slack, a rewrite of the segments (see file_rewrite.ts).
   */
  startCompaction(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): CompactionJob {
    this.#open();
    const mem = this.#mem.startCompaction(upTo, keep);
    let phase: "memory" | "disk" | "done" = "memory";
    const job = {
      removed: 0,
      step: (n: number): boolean => {
        if (this.#closed) return true;
        if (phase === "memory") {
          const done = mem.step(n);
          job.removed = mem.removed;
          if (!done) return false;
          this.#removedSinceRewrite += mem.removed;
          const u = this.#mem.usage();
          // what the held entries take on disk: their heap estimate less the objects' overhead
          const live = u.bytes - u.entries * (ENTRY_OVERHEAD - RECORD_ENTRY_BYTES);
          const over = this.#diskBytes > 2 * live + this.#rewriteSlack;
          const due = this.#removedSinceRewrite > 0 &&
            this.#clock.now() - this.#lastRewrite >= this.#rewriteEvery;
          phase = over || due ? "disk" : "done";
          if (phase === "disk") this.#beginRewrite();
          return phase === "done";
        }
        if (phase === "disk") {
          const w = this.#rewriting;
          if (w === undefined) return true;
          if (w.step(n)) {
            this.#endRewrite(w);
            phase = "done";
          }
        }
        return phase === "done";
      },
    };
    return job;
  }

  /** Writes the whole in-memory state as a new base segment at once (manual compaction). */
  #rewriteAll(): void {
    if (this.#rewriting !== undefined) return;
    const w = this.#beginRewrite();
    while (!w.step(1 << 16));
    this.#endRewrite(w);
  }

  /** Moves appends to segment B+1 and starts writing the base B. */
  #beginRewrite(): BaseWriter {
    const base = this.#segNo + 1;
    if (this.#fsync !== "never") fdatasyncSync(this.#fd);
    this.#dirty = false;
    closeSync(this.#fd);
    this.#segNo = base + 1;
    this.#fd = openSync(join(this.#dir, segName(this.#segNo)), "a");
    this.#size = 0;
    const w = new BaseWriter(join(this.#dir, `${segName(base)}.tmp`), this.#mem);
    this.#rewriting = w;
    this.#rewriteBase = base;
    return w;
  }

  #endRewrite(w: BaseWriter): void {
    this.#rewriting = undefined;
    this.#removedSinceRewrite = 0;
    this.#lastRewrite = this.#clock.now();
    w.finish();
    const base = this.#rewriteBase;
    renameSync(w.tmp, join(this.#dir, segName(base)));
    this.#syncDir();
    for (const name of this.segments()) {
      const m = SEG.exec(name);
      if (m !== null && Number(m[1]) < base) unlinkSync(join(this.#dir, name));
    }
    if (this.#size === 0 && this.#segNo === base + 1) {
      // nothing was appended meanwhile: append to the base itself, one segment as before
      closeSync(this.#fd);
      unlinkSync(join(this.#dir, segName(this.#segNo)));
      this.#segNo = base;
      this.#fd = openSync(join(this.#dir, segName(base)), "a");
      this.#size = fstatSync(this.#fd).size;
    }
    this.#diskBytes = this.#measureDisk();
  }

  usage(): StoreUsage {
    return { ...this.#mem.usage(), diskBytes: this.#diskBytes };
  }

  plainUsage(origin: string): PlainUsage {
    return this.#mem.plainUsage(origin);
  }

  /**
   * Forgets an origin in memory; the segments forget it at the next rewrite, which this makes
   * due (`rewriteEveryMs` after the last one) even if nothing else was removed meanwhile.
   */
  dropOrigin(origin: string): void {
    if (!this.#mem.heads().has(origin)) return;
    this.#mem.dropOrigin(origin);
    this.#removedSinceRewrite++;
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
    this.#rewriting?.abort();
    this.#rewriting = undefined;
    try {
      if (this.#fsync !== "never") fdatasyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
    return this.#mem.close();
  }
}
