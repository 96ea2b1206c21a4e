/**
 * The sending side of one replication connection: frames queued in one tick go out in one
 * write (the pump's at the end of its run or every {@link WRITE_CHUNK}, any other in a
 * microtask, so nothing waits for a timer), and the pump waits while more than
 * {@link SEND_HIGH_WATER} bytes are handed to the socket and not yet written.
 *
 * @module
 */
import { concatBytes, type Stream } from "../transport/mod.ts";

/** A pump run writes its frames in chunks of about this size (one write, not one per frame). */
export const WRITE_CHUNK: number = 64 * 1024;
/** The pump waits while this many bytes are handed to the socket and not yet written. */
export const SEND_HIGH_WATER: number = 4 * 1024 * 1024;

/**
 * Batches frames into writes and tracks what the socket has not written yet.
 *
 * @example
 * ```ts
 * const w = new FrameWriter(stream, () => session.close());
 * w.queue(frame, false); // written in a microtask
 * await w.drained();
 * ```
 */
export class FrameWriter {
  #stream: Stream;
  #failed: () => void;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #flushQueued = false;
  #unwritten = 0;
  #drained: (() => void) | undefined;
  #closed = false;

  /**
   * @param stream the connection
   * @param failed called once when a write fails (the peer is gone)
   */
  constructor(stream: Stream, failed: () => void) {
    this.#stream = stream;
    this.#failed = failed;
  }

  /** Bytes queued and not yet handed to the socket. */
  get pending(): number {
    return this.#outBytes;
  }

  /** Too much handed to the socket and not yet written: the pump should wait. */
  get backedUp(): boolean {
    return this.#unwritten > SEND_HIGH_WATER;
  }

  /** Queues a frame; unless `held` (a pump run flushes itself), it goes out in a microtask. */
  queue(frame: Uint8Array, held: boolean): void {
    if (this.#closed) return;
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (!held && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.flush();
      });
    }
  }

  /** Writes what is queued, in one write. */
  flush(): void {
    if (this.#closed || this.#outBytes === 0) return;
    const n = this.#outBytes;
    const bytes = this.#out.length === 1 ? this.#out[0] : concatBytes(this.#out, n);
    this.#out = [];
    this.#outBytes = 0;
    this.#unwritten += n;
    this.#stream.write(bytes).then(() => {
      this.#unwritten -= n;
      if (this.#unwritten <= SEND_HIGH_WATER) this.#wake();
    }, () => {
      if (!this.#closed) this.#failed();
    });
  }

  /** Resolves once the socket has caught up (or the writer is closed). */
  drained(): Promise<void> {
    if (!this.backedUp || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#drained = resolve));
  }

  /** Drops what is queued and releases a waiting pump. */
  close(): void {
    this.#closed = true;
    this.#out = [];
    this.#outBytes = 0;
    this.#wake();
  }

  #wake(): void {
    const d = this.#drained;
    this.#drained = undefined;
    d?.();
  }
}
