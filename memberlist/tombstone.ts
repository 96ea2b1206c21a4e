/**
 * Memory of members after they were reaped.
 *
 * Why tombstones: the table forgets a dead or left member gossipToTheDead after its death.
 * From then on, a stale "alive" about it (still held by a member that missed the death, and
 * replayed by push/pull or by a freshly joined node's re-broadcast) reads as a brand-new
 * member and revives it across the cluster, again and again (hashicorp/memberlist#312). A
 * tombstone keeps the incarnation the member died with, so such alives are refused.
 *
 * Accusations of the stale alives tombstones refuse go straight to the member they name: see
 * accusation.ts.
 *
 * @module
 */

interface Tomb {
  readonly incarnation: number;
  readonly since: number;
}

/**
 * Reaped members' last incarnations, kept for `keepMs`.
 *
 * @example
 * ```ts
 * const t = new Tombstones(() => 24 * 3600_000);
 * t.bury("n7", 12, now);
 * t.refuses("n7", 3); // true: a stale alive
 * ```
 */
export class Tombstones {
  private readonly keepMs: () => number;
  // insertion order = burial order (re-burial moves to the end)
  private readonly tombs = new Map<string, Tomb>();

  /** @param keepMs how long a tombstone lasts (read on every prune) */
  constructor(keepMs: () => number) {
    this.keepMs = keepMs;
  }

  /** Tombstones held. */
  get size(): number {
    return this.tombs.size;
  }

  /** Remembers that `name` was reaped while dead or left at `incarnation`. */
  bury(name: string, incarnation: number, now: number): void {
    this.tombs.delete(name);
    this.tombs.set(name, { incarnation, since: now });
  }

  /** The incarnation `name` was buried with, if a tombstone is held. */
  incarnationOf(name: string): number | undefined {
    return this.tombs.get(name)?.incarnation;
  }

  /**
   * True when an alive about `name` at `incarnation` is stale (not above the tombstone).
   * A newer alive removes the tombstone: the member really came back.
   */
  refuses(name: string, incarnation: number): boolean {
    const t = this.tombs.get(name);
    if (t === undefined) return false;
    if (incarnation <= t.incarnation) return true;
    this.tombs.delete(name);
    return false;
  }

  /** Forgets `name` (it is known again). */
  forget(name: string): void {
    this.tombs.delete(name);
  }

  /** Drops tombstones older than keepMs. */
  prune(now: number): void {
    const keep = this.keepMs();
    for (const [name, t] of this.tombs) {
      if (now - t.since < keep) break;
      this.tombs.delete(name);
    }
  }
}
