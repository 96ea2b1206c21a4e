/**
 * The transmit-limited broadcast queue: every state change is piggybacked on gossip and
 * probe packets a bounded number of times, enough to reach everyone with high probability
 * (memberlist TransmitLimitedQueue, docs/PROTOCOL.md §3.5).
 *
 * @module
 */

/**
 * How many times a broadcast is sent in a cluster of `n` nodes: `mult × ceil(log10(n + 1))`.
 *
 * @example
 * ```ts
 * retransmitLimit(4, 10); // 8
 * ```
 */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/**
 * A message to spread. A named broadcast (memberlist: about one node) replaces any queued
 * broadcast with the same name.
 *
 * @example
 * ```ts
 * const b: Broadcast = { name: "node-a", message: encoded, onFinished: () => console.log("done") };
 * ```
 */
export interface Broadcast {
  /** Key for replacement; null = never replaced. */
  readonly name: string | null;
  /** The encoded message (type byte + body). */
  readonly message: Uint8Array;
  /** Called once when the broadcast was sent the full number of times, or replaced, or dropped. */
  readonly onFinished?: () => void;
}

interface Item {
  readonly b: Broadcast;
  readonly id: number;
  transmits: number;
}

// Order inside a tier: largest message first, then newest (highest id) first.
function before(a: Item, b: Item): boolean {
  const la = a.b.message.length;
  const lb = b.b.message.length;
  return la !== lb ? la > lb : a.id > b.id;
}

/**
 * Broadcasts ordered by fewest transmits, then largest, then newest.
 *
 * @example
 * ```ts
 * const q = new TransmitLimitedQueue(4, () => members.length);
 * q.queue({ name: "a", message: bytes });
 * const parts = q.getBroadcasts(2, 1400);
 * ```
 */
export class TransmitLimitedQueue {
  private readonly mult: number;
  private readonly numNodes: () => number;
  private readonly budgetFactor: () => number;
  // transmits -> items, worst first (so the best is popped from the end, O(1))
  private readonly tiers = new Map<number, Item[]>();
  // the keys of `tiers`, ascending (kept in step, so a fill allocates no key list)
  private readonly levels: number[] = [];
  private readonly byName = new Map<string, Item>();
  private count = 0;
  private nextId = 0;
  /** Called when a broadcast is queued into an empty queue (the gossip loop's wake-up). */
  onNonEmpty: (() => void) | null = null;

  /**
   * @param retransmitMult memberlist RetransmitMult
   * @param numNodes current estimate of the cluster size (read on every fill)
   * @param budgetFactor multiplies the retransmit limit, read on every fill (loss
   *   compensation, see delivery.ts; default 1, memberlist's budget)
   */
  constructor(retransmitMult: number, numNodes: () => number, budgetFactor?: () => number) {
    this.mult = retransmitMult;
    this.numNodes = numNodes;
    this.budgetFactor = budgetFactor ?? (() => 1);
  }

  /** Number of queued broadcasts. */
  get size(): number {
    return this.count;
  }

  /** Queues a broadcast; a queued one with the same name is replaced (and finished). */
  queue(b: Broadcast): void {
    if (b.name !== null) {
      const old = this.byName.get(b.name);
      if (old !== undefined) {
        this.remove(old);
        old.b.onFinished?.();
      }
    }
    if (this.count === 0) this.nextId = 0; // ids only order items that coexist
    const item: Item = { b, id: this.nextId++, transmits: 0 };
    this.insert(item);
    if (this.count === 1) this.onNonEmpty?.();
  }

  /**
   * Takes broadcasts that fit into `limit` bytes when each costs `overhead` extra bytes,
   * counting one transmission for each; those that reached the retransmit limit are
   * removed and finished.
   */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    if (this.count === 0) return [];
    const transmitLimit = Math.ceil(
      retransmitLimit(this.mult, this.numNodes()) * this.budgetFactor(),
    );
    const out: Uint8Array[] = [];
    const reinsert: Item[] = [];
    let used = 0;
    const levels = this.levels;
    for (let li = 0; li < levels.length; li++) {
      const level = levels[li];
      const tier = this.tiers.get(level);
      if (tier === undefined) continue;
      for (;;) {
        const free = limit - used - overhead;
        if (free <= 0) break;
        const idx = firstFitting(tier, free);
        if (idx < 0) break;
        const item = tier[idx];
        if (idx === tier.length - 1) tier.pop();
        else tier.splice(idx, 1);
        this.count--;
        if (item.b.name !== null) this.byName.delete(item.b.name);
        used += overhead + item.b.message.length;
        out.push(item.b.message);
        if (item.transmits + 1 >= transmitLimit) {
          item.b.onFinished?.();
        } else {
          item.transmits++;
          reinsert.push(item); // later: it must not be seen again when walking up the tiers
        }
      }
      if (tier.length === 0) {
        this.dropLevel(level);
        li--;
      }
      if (limit - used - overhead <= 0) break;
    }
    if (reinsert.length < 4) { for (const item of reinsert) this.insert(item); }
    else this.insertMany(reinsert);
    return out;
  }

  /** Drops everything, finishing each broadcast. */
  reset(): void {
    const all: Item[] = [];
    for (const tier of this.tiers.values()) all.push(...tier);
    this.tiers.clear();
    this.levels.length = 0;
    this.byName.clear();
    this.count = 0;
    for (const item of all) item.b.onFinished?.();
  }

  /** Keeps at most `maxRetain` broadcasts, dropping the most transmitted first. */
  prune(maxRetain: number): void {
    if (this.count <= maxRetain) return;
    const levels = [...this.levels].reverse();
    for (const level of levels) {
      const tier = this.tiers.get(level);
      if (tier === undefined) continue;
      while (tier.length > 0 && this.count > maxRetain) {
        const item = tier.shift() as Item; // oldest/smallest of the most transmitted tier
        this.count--;
        if (item.b.name !== null) this.byName.delete(item.b.name);
        item.b.onFinished?.();
      }
      if (tier.length === 0) this.dropLevel(level);
      if (this.count <= maxRetain) return;
    }
  }

  /** The queued messages in transmit order (for tests and diagnostics). */
  snapshot(): { name: string | null; transmits: number; length: number }[] {
    const levels = this.levels;
    const out: { name: string | null; transmits: number; length: number }[] = [];
    for (const level of levels) {
      for (const item of [...(this.tiers.get(level) ?? [])].reverse()) {
        out.push({ name: item.b.name, transmits: item.transmits, length: item.b.message.length });
      }
    }
    return out;
  }

  // Inserts a batch with one merge per tier (a fill re-queues up to ~20 items into tiers of
  // thousands in a large cluster: one pass instead of one splice each).
  private insertMany(items: Item[]): void {
    const groups = new Map<number, Item[]>();
    for (const item of items) {
      const g = groups.get(item.transmits);
      if (g === undefined) groups.set(item.transmits, [item]);
      else g.push(item);
    }
    for (const [level, group] of groups) {
      const tier = this.tiers.get(level);
      if (tier === undefined || tier.length < 64) {
        for (const item of group) this.insert(item);
        continue;
      }
      group.sort((a, b) => (before(a, b) ? 1 : -1)); // worst first, like the tier
      const merged: Item[] = new Array(tier.length + group.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < tier.length && j < group.length) {
        merged[k++] = before(group[j], tier[i]) ? tier[i++] : group[j++];
      }
      while (i < tier.length) merged[k++] = tier[i++];
      while (j < group.length) merged[k++] = group[j++];
      this.tiers.set(level, merged);
      this.count += group.length;
      for (const item of group) if (item.b.name !== null) this.byName.set(item.b.name, item);
    }
  }

  private insert(item: Item): void {
    let tier = this.tiers.get(item.transmits);
    if (tier === undefined) {
      tier = [];
      this.tiers.set(item.transmits, tier);
      const levels = this.levels;
      let i = levels.length;
      while (i > 0 && levels[i - 1] > item.transmits) i--;
      levels.splice(i, 0, item.transmits);
    }
    let lo = 0;
    let hi = tier.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(item, tier[mid])) lo = mid + 1;
      else hi = mid;
    }
    if (lo === tier.length) tier.push(item);
    else tier.splice(lo, 0, item);
    this.count++;
    if (item.b.name !== null) this.byName.set(item.b.name, item);
  }

  private remove(item: Item): void {
    const tier = this.tiers.get(item.transmits);
    if (tier === undefined) return;
    let lo = 0;
    let hi = tier.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(item, tier[mid])) lo = mid + 1;
      else hi = mid;
    }
    if (tier[lo] !== item) return;
    tier.splice(lo, 1);
    this.count--;
    if (item.b.name !== null) this.byName.delete(item.b.name);
    if (tier.length === 0) this.dropLevel(item.transmits);
  }

  private dropLevel(level: number): void {
    this.tiers.delete(level);
    const i = this.levels.indexOf(level);
    if (i >= 0) this.levels.splice(i, 1);
  }
}

// Index of the best (largest, then newest) item whose message fits in `free` bytes, or -1.
// Tiers are sorted worst first: ascending length, then ascending id.
function firstFitting(tier: Item[], free: number): number {
  const n = tier.length;
  if (n > 0 && tier[n - 1].b.message.length <= free) return n - 1; // the usual case
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tier[mid].b.message.length <= free) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
