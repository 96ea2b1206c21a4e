/**
 * Building frames, and sharing the last Entries frame between connections: peers that are
 * in step ask for the same batch in a row (the same origin, first seq and length), and an
 * origin's entries never change, so it is encoded (and deflated) once instead of once per
 * peer.
 *
 * @module
 */
import { type Entry, ENTRY_BODY_OVERHEAD } from "./entry.ts";
import { deflate, encodeFrame, FrameType } from "./frames.ts";
import { encodeEntries } from "./messages.ts";

/**
 * A whole frame for `payload`; deflated when `compress` is set and that makes it smaller.
 *
 * @example
 * ```ts
 * packFrame(FrameType.Digest, new Uint8Array([0, 0, 0, 0]), false).length; // 9
 * ```
 */
export function packFrame(type: number, payload: Uint8Array, compress: boolean): Uint8Array {
  if (compress && payload.length > 32) {
    const d = deflate(payload);
    if (d.length < payload.length) return encodeFrame(type, d, true);
  }
  return encodeFrame(type, payload, false);
}

/**
 * Remembers the last Entries frame built.
 *
 * @example
 * ```ts
 * const cache = new FrameCache();
 * const f1 = cache.entries("a", batch, false, 4096, false);
 * cache.entries("a", batch, false, 4096, false) === f1; // true
 * ```
 */
export class FrameCache {
  #origin = "";
  #first = 0;
  #count = 0;
  #ack = false;
  #compress = false;
  #frame: Uint8Array | undefined;

  /** Hits since creation (frames not encoded again). */
  hits = 0;

  /** The Entries frame of `batch` (consecutive entries of `origin`, not empty). */
  entries(
    origin: string,
    batch: readonly Entry[],
    ack: boolean,
    sizeHint: number,
    compress: boolean,
  ): Uint8Array {
    const first = batch[0].seq;
    if (
      this.#frame !== undefined && this.#origin === origin && this.#first === first &&
      this.#count === batch.length && this.#ack === ack && this.#compress === compress
    ) {
      this.hits++;
      return this.#frame;
    }
    const frame = packFrame(
      FrameType.Entries,
      encodeEntries(origin, batch, ack, sizeHint),
      compress,
    );
    this.#origin = origin;
    this.#first = first;
    this.#count = batch.length;
    this.#ack = ack;
    this.#compress = compress;
    this.#frame = frame;
    return frame;
  }
}

/**
 * The next batch to send from `list` (entries of one origin read from `have + 1`): gap-free
 * (or, below the compaction `floor`, a snapshot range with holes), at most `maxBatchBytes` but
 * always one entry. `full` says the byte limit cut it short.
 */
export function takeBatch(
  list: readonly Entry[],
  have: number,
  floor: number,
  maxBatchBytes: number,
): { batch: Entry[]; bytes: number; full: boolean } {
  const batch: Entry[] = [];
  let bytes = 0;
  for (const e of list) {
    if (have < floor ? e.seq > floor : e.seq !== have + 1 + batch.length) break;
    const size = ENTRY_BODY_OVERHEAD + 8 + e.value.length + (e.key?.length ?? 0);
    if (batch.length > 0 && bytes + size > maxBatchBytes) return { batch, bytes, full: true };
    batch.push(e);
    bytes += size;
  }
  return { batch, bytes, full: false };
}
