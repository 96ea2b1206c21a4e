/**
 * Memory of members after they were reaped, and direct accusations of stale alives.
 *
 * Why tombstones: the table forgets a dead or left member gossipToTheDead after its death.
 * From then on, a stale "alive" about it (still held by a member that missed the death, and
 * replayed by push/pull or by a freshly joined node's re-broadcast) reads as a brand-new
 * member and revives it across the cluster, again and again (hashicorp/memberlist#312). A
 * tombstone keeps the incarnation the member died with, so such alives are refused.
 *
 * Why accusations: a member that restarted under the same name starts again at incarnation
 * 1, below the death others hold about it, and only refutes once it hears that accusation.
 * Gossip may never bring it (hashicorp/memberlist#311). So whenever an alive is refused
 * because we hold a death or suspicion at an equal or higher incarnation, we send that
 * accusation straight to the address the alive names (rate-limited per member): a live
 * restarted node refutes at once with a higher incarnation, a gone one costs one packet.
 * Deaths are re-gossiped as well; suspicions are not, since every other member would count
 * the re-gossiped one as an independent confirmation and shorten its suspicion timer.
 *
 * @module
 */

interface Tomb {
  readonly incarnation: number;
  readonly since: number;
}

/**
 * Reaped members' last incarnations, kept for `keepMs`, plus a per-member accusation rate
 * limit.
 *
 * @example
 * ```ts
 * const t = new Tombstones(() => 24 * 3600_000);
 * t.bury("n7", 12, now);
 * t.refuses("n7", 3, now); // true: a stale alive
 * ```
 */
export class Tombstones {
  private readonly keepMs: () => number;
  // insertion order = burial order (re-burial moves to the end)
  private readonly tombs = new Map<string, Tomb>();
  private readonly accusedAt = new Map<string, number>();

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

  /**
   * True (and recorded) when a direct packet (an accusation, or an answer to a stale one) may
   * go to `name` now: at most once per `minGapMs`, so a flood of stale messages costs a
   * bounded number of packets.
   */
  mayContact(name: string, now: number, minGapMs: number): boolean {
    const last = this.accusedAt.get(name);
    if (last !== undefined && now - last < minGapMs) return false;
    this.accusedAt.delete(name);
    this.accusedAt.set(name, now);
    return true;
  }

  /** Drops tombstones older than keepMs and accusation marks older than `accuseMemoryMs`. */
  prune(now: number, accuseMemoryMs: number): void {
    const keep = this.keepMs();
    for (const [name, t] of this.tombs) {
      if (now - t.since < keep) break;
      this.tombs.delete(name);
    }
    for (const [name, at] of this.accusedAt) {
      if (now - at < accuseMemoryMs) break;
      this.accusedAt.delete(name);
    }
  }
}
