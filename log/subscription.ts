/**
 * Fan-out of applied entries to subscribers: callbacks, and async iterators with their own
 * queue. Entries reach every subscriber in the order the log applied them, which keeps each
 * origin's seq order, and each exactly once.
 *
 * @module
 */
import type { Entry } from "./entry.ts";

/**
 * An async iterable of new entries; `close()` (or leaving a `for await` loop) unsubscribes.
 *
 * @example
 * ```ts
 * const sub = log.subscribe();
 * for await (const e of sub) {
 *   console.log(e.origin, e.seq);
 *   if (e.seq === 10) break; // unsubscribes
 * }
 * ```
 */
export interface EntrySubscription extends AsyncIterableIterator<Entry> {
  /** Stops the subscription; a pending `next()` resolves done. */
  close(): void;
}

/** Delivers applied entries to subscribers. */
export class EntryFeed {
  #listeners = new Set<(e: Entry) => void>();
  #closers = new Set<() => void>();

  /** Delivers `e` to every subscriber. */
  publish(e: Entry): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // one subscriber's failure does not stop the others
      }
    }
  }

  /** Adds a callback; returns its remover. */
  listen(listener: (e: Entry) => void): () => void {
    // a wrapper per subscription, so the same function can subscribe twice
    const wrapped = (e: Entry): void => listener(e);
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  /** A queueing async iterator (unbounded: a subscriber that never reads keeps everything). */
  iterate(): EntrySubscription {
    const queue: Entry[] = [];
    let head = 0;
    let waiting: ((r: IteratorResult<Entry>) => void) | undefined;
    let done = false;
    const off = this.listen((e) => {
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        w({ value: e, done: false });
      } else queue.push(e);
    });
    const close = (): void => {
      if (done) return;
      done = true;
      off();
      this.#closers.delete(close);
      queue.length = 0;
      head = 0;
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        w({ value: undefined, done: true });
      }
    };
    this.#closers.add(close);
    const sub: EntrySubscription = {
      next(): Promise<IteratorResult<Entry>> {
        if (head < queue.length) {
          const value = queue[head++];
          if (head === queue.length) {
            queue.length = 0;
            head = 0;
          } else if (head > 4096 && head * 2 > queue.length) {
            queue.splice(0, head);
            head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return(): Promise<IteratorResult<Entry>> {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
      close,
      [Symbol.asyncIterator](): EntrySubscription {
        return sub;
      },
    };
    return sub;
  }

  /** Ends every iterator and drops every callback (log closing). */
  close(): void {
    for (const c of [...this.#closers]) c();
    this.#listeners.clear();
  }
}
