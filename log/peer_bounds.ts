/**
 * The bounds of one replication connection, kept apart from the protocol in peer.ts:
 *
 * - {@link ReceiveWatch}: when the peer last sent anything (idle deadline), when the
 *   incomplete frame began (frame deadline), how many bytes of it are buffered (the replicator
 *   bounds the total), and when to grant the peer a new reply budget;
 * - {@link ReplyBudget}: flow control of what this side sends. After each digest or ack of
 *   the peer, at most `maxReplyBytes` of history and relayed entries go out until its next
 *   one; own appends made after it asked are not charged (they are pushed to every peer
 *   anyway, and socket back-pressure bounds them);
 * - {@link rewindStale}: anti-entropy on one connection.
 *
 * @module
 */
import type { RejectReason } from "./stats.ts";
import type { LogLimits } from "./tuning.ts";

/** Receive-side bookkeeping of one connection. */
export class ReceiveWatch {
  #lastRead: number;
  #frameStart = 0;
  #buffered = 0;
  #sinceGrant = 0;

  /**
   * Creates an instance.
   * @param now the connection's start (ms)
   */
  constructor(now: number) {
    this.#lastRead = now;
  }

  /** Bytes of the incomplete frame buffered now. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * A chunk was read and decoded: `completed` frames came out, `buffered` bytes of the next
   * one stay. Returns the change of buffered bytes.
   */
  read(now: number, completed: number, buffered: number): number {
    this.#lastRead = now;
    // a frame's deadline runs from its first byte: restart it when frames completed
    if (completed > 0 || this.#buffered === 0) this.#frameStart = now;
    return this.setBuffered(buffered);
  }

  /** Sets the buffered bytes (0 at close); returns the change. */
  setBuffered(n: number): number {
    const delta = n - this.#buffered;
    this.#buffered = n;
    return delta;
  }

  /**
   * Counts bytes read from an open connection; true when the peer should get a new reply
   * budget (a quarter of it read since the last grant, so an honest stream never stalls).
   */
  grantDue(bytes: number, maxReplyBytes: number): boolean {
    this.#sinceGrant += bytes;
    return this.#sinceGrant * 4 >= maxReplyBytes;
  }

  /** A digest or ack (a grant) was sent. */
  granted(): void {
    this.#sinceGrant = 0;
  }

  /**
   * The deadline that passed at `now`, if any: a frame begun `frameTimeoutMs` ago and still
   * incomplete, or (`open` connections) nothing read for `idleTimeoutMs`, never less than 3
   * sync intervals, since honest peers send a digest every sync interval.
   */
  expired(
    now: number,
    limits: LogLimits,
    syncIntervalMs: number,
    open: boolean,
  ): RejectReason | undefined {
    if (this.#buffered > 0 && now - this.#frameStart > limits.frameTimeoutMs) {
      return "frame-timeout";
    }
    const idle = Math.max(limits.idleTimeoutMs, 3 * syncIntervalMs);
    return open && now - this.#lastRead > idle ? "idle" : undefined;
  }
}

/** What the peer still lets this side send (see the module comment). */
export class ReplyBudget {
  #credit = 0;
  #liveFrom = 0;

  /** Own seqs above this were appended after the peer last asked. */
  get liveFrom(): number {
    return this.#liveFrom;
  }

  /** Nothing but live own appends may go out until the peer asks again. */
  get spent(): boolean {
    return this.#credit <= 0;
  }

  /** The peer asked: a full budget; `ownHead` marks where live appends begin. */
  refill(maxReplyBytes: number, ownHead: number): void {
    this.#credit = maxReplyBytes;
    this.#liveFrom = ownHead;
  }

  /** The byte budget of the next charged frame: `max`, or what is left when less. */
  fit(max: number): number {
    return Math.max(1, Math.min(max, this.#credit));
  }

  /** A frame of `bytes` went out; live own appends are free. */
  charge(bytes: number, live: boolean): void {
    if (!live) this.#credit -= bytes;
  }
}

/**
 * Anti-entropy on one connection: entries sent more than `staleMs` ago that the peer's digest
 * (`heads`) still lacks were dropped (e.g. timestamped ahead of its clock, so they wait): the
 * cursor (`remote`) goes back to what the peer holds, so they are offered again.
 */
export function rewindStale(
  sentAt: Map<string, number>,
  remote: Map<string, number>,
  heads: ReadonlyMap<string, number>,
  now: number,
  staleMs: number,
): void {
  for (const [origin, at] of sentAt) {
    const held = heads.get(origin) ?? 0;
    if (now - at > staleMs && held < (remote.get(origin) ?? 0)) {
      remote.set(origin, held);
      sentAt.delete(origin);
    }
  }
}
