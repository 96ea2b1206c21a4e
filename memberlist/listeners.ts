/**
 * The listeners of a Memberlist's events: each fires once per state transition, and a
 * listener that throws is reported, never breaks the node.
 *
 * @module
 */
import type { Member, MemberlistEvents } from "./config.ts";
import { errorText } from "./core.ts";
import { type NodeRecord, toMember } from "./state.ts";

type Listener = (m: Member) => void;

/**
 * Listeners by event.
 *
 * @example
 * ```ts
 * const listeners = new MemberListeners((msg, data) => console.warn(msg, data));
 * const off = listeners.on("dead", (m) => console.log(m.name));
 * listeners.emit("dead", record);
 * off();
 * ```
 */
export class MemberListeners {
  #map = new Map<keyof MemberlistEvents, Set<Listener>>();
  #warn: (msg: string, data: object) => void;

  /** @param warn where a throwing listener is reported */
  constructor(warn: (msg: string, data: object) => void) {
    this.#warn = warn;
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof MemberlistEvents>(event: K, fn: (m: MemberlistEvents[K]) => void): () => void {
    let set = this.#map.get(event);
    if (set === undefined) this.#map.set(event, set = new Set());
    set.add(fn);
    return () => {
      this.#map.get(event)?.delete(fn);
    };
  }

  /** Tells every listener of `event` about the member of `rec`. */
  emit(event: keyof MemberlistEvents, rec: NodeRecord): void {
    const set = this.#map.get(event);
    if (set === undefined || set.size === 0) return;
    const m = toMember(rec);
    for (const fn of [...set]) {
      try {
        fn(m);
      } catch (e) {
        this.#warn("event listener threw", { event, error: errorText(e) });
      }
    }
  }

  /** Forgets every listener (shutdown). */
  clear(): void {
    this.#map.clear();
  }
}
