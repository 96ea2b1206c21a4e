/**
 * The cache's winners filed by the time they fall due (a value's expiry, a tombstone's
 * timestamp), so that the sweep takes exactly the due ones instead of walking every winner.
 *
 * Entries are kept in buckets of `bucketMs`; a bucket is taken only once all of it is due
 * (its end is at or before the bound given), so an entry leaves at most `bucketMs` plus one
 * sweep after it fell due, and never before. The bucket numbers wait in a min-heap, each
 * at most once. An entry is filed while it is its key's winner and unfiled when it stops
 * being one, so the queue holds no more than the cache.
 *
 * (A long-lived iterator over the winners' Map, which the sweep used before, was seen taking
 * 8–25 ms for a single `next()` under the soak's churn: 1,000 keys added and removed a second.)
 *
 * @module
 */
import type { Entry } from "./entry.ts";

/**
 * Entries by due time, taken out in slices once due.
 *
 * @example
 * ```ts
 * const q = new ExpiryQueue(1000);
 * q.add(entry, entry.ts.wall + (entry.ttl ?? 0));
 * const out: Entry[] = [];
 * q.take(Date.now(), 256, out); // the entries due by now (whole buckets), at most 256
 * ```
 */
export class ExpiryQueue {
  #bucketMs: number;
  #buckets = new Map<number, Set<Entry>>();
  // bucket numbers with a bucket, ascending at [0]; each at most once
  #heap: number[] = [];
  #size = 0;

  /**
   * Creates an instance.
   * @param bucketMs width of a bucket (ms): how late an entry may leave, and how few buckets
   */
  constructor(bucketMs: number) {
    this.#bucketMs = Math.max(1, bucketMs);
  }

  /** Entries filed. */
  get size(): number {
    return this.#size;
  }

  /** Files `e`, due at `at` (ms). */
  add(e: Entry, at: number): void {
    const b = Math.floor(at / this.#bucketMs);
    let bucket = this.#buckets.get(b);
    if (bucket === undefined) {
      this.#buckets.set(b, bucket = new Set());
      this.#push(b);
    }
    if (!bucket.has(e)) {
      bucket.add(e);
      this.#size++;
    }
  }

  /** Unfiles `e`, filed due at `at` (a no-op when it is not filed). */
  delete(e: Entry, at: number): void {
    const b = Math.floor(at / this.#bucketMs);
    const bucket = this.#buckets.get(b);
    if (bucket === undefined || !bucket.delete(e)) return;
    this.#size--;
    // an empty bucket stays until its turn (its number is in the heap); take() drops it
  }

  /**
   * Moves up to `limit` entries of the buckets that end at or before `bound` into `out`
   * (unfiled), earliest bucket first; returns how many.
   */
  take(bound: number, limit: number, out: Entry[]): number {
    let n = 0;
    while (n < limit && this.#heap.length > 0) {
      const b = this.#heap[0];
      if ((b + 1) * this.#bucketMs > bound) break;
      const bucket = this.#buckets.get(b) as Set<Entry>;
      for (const e of bucket) {
        if (n >= limit) break;
        bucket.delete(e);
        out.push(e);
        n++;
      }
      if (bucket.size > 0) break;
      this.#buckets.delete(b);
      this.#pop();
    }
    this.#size -= n;
    return n;
  }

  #push(b: number): void {
    const h = this.#heap;
    let i = h.length;
    h.push(b);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= b) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = b;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop() as number;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
}
