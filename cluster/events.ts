/**
 * The event subscription of a running node.
 *
 * @module
 */
import type { ClusterEvents } from "./types.ts";

type Listener<T> = (value: T) => void;

// Emitting is for the node itself: reached through this module function (set in the class's
// static block), it stays out of the public types.
let emitImpl: <K extends keyof ClusterEvents>(
  emitter: ClusterEmitter,
  event: K,
  value: ClusterEvents[K],
) => void;

/**
 * Listeners by event name; a listener that throws is reported, never breaks the node.
 *
 * @example
 * ```ts
 * const off = node.on("member-failed", (m) => console.log(m.name, "failed"));
 * off();
 * ```
 */
export class ClusterEmitter {
  #listeners = new Map<keyof ClusterEvents, Set<Listener<never>>>();
  #onListenerError: (event: string, err: unknown) => void;

  /**
   * Creates the listener table.
   * @param onListenerError told when a listener throws
   */
  constructor(onListenerError: (event: string, err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /**
   * Subscribes to an event; returns the function that unsubscribes.
   *
   * @example
   * ```ts
   * const off = node.on("member-failed", (m) => console.log(m.name, "failed"));
   * node.on("quorum", (q) => console.log(q.hasQuorum ? "ready" : "minority: not ready"));
   * off();
   * ```
   */
  on<K extends keyof ClusterEvents>(
    event: K,
    listener: (value: ClusterEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  static {
    emitImpl = (emitter, event, value) => emitter.#emit(event, value);
  }

  #emit<K extends keyof ClusterEvents>(event: K, value: ClusterEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<ClusterEvents[K]>)(value);
      } catch (err) {
        this.#onListenerError(event, err);
      }
    }
  }
}

/**
 * Tells every listener of `event` on `emitter` (the node's own use; not part of the public API).
 *
 * @example
 * ```ts
 * emitEvent(node, "member-join", member);
 * ```
 */
export function emitEvent<K extends keyof ClusterEvents>(
  emitter: ClusterEmitter,
  event: K,
  value: ClusterEvents[K],
): void {
  emitImpl(emitter, event, value);
}
