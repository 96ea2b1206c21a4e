/**
 * What a replica takes from a peer: gap-free batches of entries and snapshot chunks, passed
 * through the input guard (own origin, relays, plausibility, far-future timestamps) and the
 * compactor (writes later than the tombstone horizon), then stored and delivered.
 *
 * @module
 */
import type { Compactor } from "./compaction.ts";
import type { Entry } from "./entry.ts";
import type { InputGuard } from "./input_guard.ts";
import type { LogStats } from "./stats.ts";
import type { LogStore } from "./store.ts";

/** The log's parts the apply path uses. */
export interface ApplyHost {
  readonly store: LogStore;
  readonly guard: InputGuard;
  readonly compactor: Compactor;
  readonly stats: LogStats;
  /** The log was closed meanwhile. */
  closed(): boolean;
  /** Applies stored entries: clock, cache, subscribers. */
  deliver(entries: readonly Entry[]): void;
}

/**
 * A peer's gap-free batch of `origin`; false when refused outright (our own origin).
 *
 * @example
 * ```ts
 * const ok = await acceptEntries(host, "b", batch, "b");
 * ```
 */
export async function acceptEntries(
  h: ApplyHost,
  origin: string,
  entries: Entry[],
  from: string,
): Promise<boolean> {
  if (h.closed()) return true;
  // nobody but this node writes its origin (a lost tail stays lost: see docs/SECURITY.md)
  if (h.guard.ownOrigin(from, origin, entries.length)) return false;
  entries = h.guard.relayCut(from, origin, entries);
  // an origin forgotten lately counts as held through the head it had (see compaction.ts)
  const held = h.store.heads().get(origin);
  const before = held ?? h.compactor.forgottenThrough(origin);
  let head = before;
  let i = 0;
  while (i < entries.length && entries[i].seq <= head) i++;
  h.stats.entriesDuplicate += i;
  if (i > 0) await h.guard.checkHeld(from, h.store, entries.slice(0, i));
  const accepted: Entry[] = [];
  for (; i < entries.length; i++) {
    if (entries[i].seq !== head + 1) {
      h.stats.entriesOutOfOrder += entries.length - i;
      break;
    }
    accepted.push(entries[i]);
    head++;
  }
  // entries too far in the future wait (not stored): the next digest offers them again
  accepted.length = h.guard.futureCut(from, origin, accepted);
  if (accepted.length === 0) return true;
  head = before + accepted.length;
  const kept = h.compactor.admit(origin, before, accepted);
  // refused stale writes are not stored: they leave a hole, as compaction would; so does
  // what a forgotten origin had
  if (kept.length === accepted.length && (held !== undefined || before === 0)) {
    await h.store.append(accepted);
  } else await h.store.installSnapshot(origin, head, kept);
  if (held === undefined) h.compactor.revived(origin);
  h.deliver(kept);
  return true;
}

/**
 * A compacted range of `origin` through `through`; false when refused (our origin, an
 * implausible bound, a relay ahead of the owner, or entries that must wait).
 *
 * @example
 * ```ts
 * const ok = await acceptSnapshot(host, "b", 1200, survivors, "b");
 * ```
 */
export async function acceptSnapshot(
  h: ApplyHost,
  origin: string,
  through: number,
  entries: Entry[],
  from: string,
): Promise<boolean> {
  if (h.closed()) return true;
  if (h.guard.ownOrigin(from, origin, 1)) return false;
  const held = h.store.heads().get(origin);
  const head = held ?? h.compactor.forgottenThrough(origin);
  if (through <= head) return true;
  if (!h.guard.plausible(from, origin, through, head)) return false;
  if (h.guard.relayCut(from, origin, [{ seq: through }]).length === 0) return false;
  // the head would jump past any entry that must wait: the whole chunk waits
  if (h.guard.futureCut(from, origin, entries) < entries.length) return false;
  const accepted = h.compactor.admit(origin, head, entries.filter((e) => e.seq > head));
  await h.store.installSnapshot(origin, through, accepted);
  if (held === undefined) h.compactor.revived(origin);
  h.deliver(accepted);
  return true;
}
