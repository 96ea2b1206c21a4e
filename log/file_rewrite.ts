/**
 * The file store's compaction on disk, in steps: the surviving entries are written into a
 * temporary segment that starts with a Base record, then it is flushed, renamed into place
 * and the older segments are deleted.
 *
 * Numbering keeps recovery right while the rewrite runs: the rewrite takes number B and new
 * appends already go to segment B+1, so replay reads the base (the state as of the start)
 * and then everything written since. The base holds each origin only through its head at the
 * start; entries above it are in B+1. A crash before the rename leaves a `.tmp` file (deleted
 * on open) and the old segments, which are still complete.
 *
 * @module
 */
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import type { Entry } from "./entry.ts";
import { baseRecord, snapshotRecord } from "./segment.ts";
import type { MemoryLogStore } from "./store.ts";

const CHUNK_BYTES = 1 << 20;

/** One origin's part of the base: through its head at the start, with its floor. */
interface OriginPlan {
  readonly origin: string;
  readonly head: number;
  readonly floor: number;
}

/** Writes a base segment from a memory store, a step at a time. */
export class BaseWriter {
  /** The temporary file. */
  readonly tmp: string;
  /** Bytes written so far. */
  bytes = 0;
  #fd: number;
  #mem: MemoryLogStore;
  #plan: OriginPlan[];
  #at = 0;
  #next = 1;
  #chunk: Entry[] = [];
  #chunkBytes = 0;

  /**
   * Creates the temporary file and writes the Base record.
   * @param tmp path of the temporary file
   * @param mem the state to write
   */
  constructor(tmp: string, mem: MemoryLogStore) {
    this.tmp = tmp;
    this.#mem = mem;
    const floors = mem.floors();
    this.#plan = [...mem.heads()].map(([origin, head]) => ({
      origin,
      head,
      floor: floors.get(origin) ?? 0,
    }));
    this.#fd = openSync(tmp, "w");
    this.#put(baseRecord());
  }

  #put(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.#fd, b, off, b.length - off);
    this.bytes += b.length;
  }

  /** Writes about `n` more entries; true when every origin is written. */
  step(n: number): boolean {
    while (n > 0 && this.#at < this.#plan.length) {
      const p = this.#plan[this.#at];
      const page = this.#mem.readNow(p.origin, this.#next, Math.min(n, 1024))
        .filter((e) => e.seq <= p.head);
      n -= Math.max(page.length, 1);
      for (const e of page) {
        this.#chunk.push(e);
        this.#chunkBytes += e.value.length + 64;
        this.#next = e.seq + 1;
        if (this.#chunkBytes >= CHUNK_BYTES) {
          this.#put(snapshotRecord(p.origin, Math.min(p.floor, e.seq), e.seq, this.#chunk));
          this.#chunk = [];
          this.#chunkBytes = 0;
        }
      }
      if (page.length === 0) {
        // the origin is done (its head may be a hole): head and floor as at the start
        this.#put(snapshotRecord(p.origin, p.floor, p.head, this.#chunk));
        this.#chunk = [];
        this.#chunkBytes = 0;
        this.#at++;
        this.#next = 1;
      }
    }
    return this.#at >= this.#plan.length;
  }

  /** Flushes and closes the file (the caller renames it into place). */
  finish(): void {
    try {
      fdatasyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }

  /** Gives up: closes and deletes the temporary file. */
  abort(): void {
    try {
      closeSync(this.#fd);
      unlinkSync(this.tmp);
    } catch {
      // already gone
    }
  }
}
