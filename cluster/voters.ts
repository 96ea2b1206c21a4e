/**
 * The voting membership: who counts for a quorum.
 *
 * Every member known to this node that has not left gracefully votes, whatever its state
 * (alive, suspect, failed): a crashed member still holds its seat, so the survivors of a
 * crash or the minority side of a partition cannot form a majority by themselves. A failed
 * member loses its seat only on purpose: `Cluster.removeMember` (an operator), or after
 * `forget_after` (default: the preset's reconnect timeout, 24 h). Seats are member names:
 * a member restarted under the same name takes its old seat back, whatever its log's origin.
 *
 * The set is computed here from membership events and handed to the log (which counts
 * acknowledgements) as plain names: the log does not know memberlist.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { Clock, TimerHandle } from "../transport/mod.ts";
import { quorumNeeded } from "../log/mod.ts";

/**
 * Whether this node sees a quorum of the voting membership.
 *
 * @example
 * ```ts
 * node.on("quorum", (q: QuorumStatus) => setReady(q.hasQuorum));
 * ```
 */
export interface QuorumStatus {
  /** `reachable >= needed`: quorum appends made here can complete. */
  readonly hasQuorum: boolean;
  /** Voting members, this node included (alive, suspect and failed; not left, not removed). */
  readonly voters: number;
  /** Voting members this node sees alive, itself included. */
  readonly reachable: number;
  /** Holders a quorum needs: a majority of `voters`, at least `min_quorum`. */
  readonly needed: number;
}

/**
 * `removeMember` refused: the name is unknown, this node's own, or of a member that is alive.
 *
 * @example
 * ```ts
 * await node.removeMember("node-b").catch((e) => e instanceof MembershipError);
 * ```
 */
export class MembershipError extends ClusterError<"membership"> {
  /** The member name given. */
  readonly member: string;
  /**
   * Creates the error.
   * @param member the name given
   * @param message what is wrong
   */
  constructor(member: string, message: string) {
    super("membership", message);
    this.member = member;
  }
}

type Seat = "alive" | "suspect" | "dead";

/** Options of {@link VotingMembership}. */
export interface VotingOptions {
  /** This node's name (always a voter, always reachable). */
  readonly self: string;
  /** Floor of holders needed (`min_quorum`); default 1. */
  readonly minimum?: number;
  /** How long a failed member keeps its seat, in ms. */
  readonly forgetAfterMs: number;
  /** Timers. */
  readonly clock: Clock;
  /** Called after every change of the seats (names, this node included), with the status. */
  readonly onChange: (voters: string[], status: QuorumStatus) => void;
  /**
   * The member table's current view, read every `pollMs`: a suspect member that refutes
   * becomes alive without an event.
   */
  readonly poll?: () => Iterable<{ readonly name: string; readonly state: Seat | "left" }>;
  /** How often to read `poll`, in ms; default 1000. */
  readonly pollMs?: number;
}

/**
 * The seats and their states, fed by membership events.
 *
 * @example
 * ```ts
 * import { systemClock } from "../transport/mod.ts";
 * const v = new VotingMembership({
 *   self: "a", forgetAfterMs: 86_400_000, clock: systemClock, onChange: () => {},
 * });
 * v.observe("b", "alive");
 * v.observe("c", "dead"); // still votes: 3 voters, 2 reachable, 2 needed
 * v.status().hasQuorum; // true
 * v.close();
 * ```
 */
export class VotingMembership {
  #self: string;
  #minimum: number;
  #forgetAfter: number;
  #clock: Clock;
  #onChange: VotingOptions["onChange"];
  #seats = new Map<string, { state: Seat; failedAt: number }>();
  // removed or forgotten: only an alive (the member came back) seats them again
  #gone = new Set<string>();
  #timer: TimerHandle = undefined;
  #pollTimer: TimerHandle = undefined;
  #closed = false;

  /** @param options this node, the floor, the forget delay, the clock, the change callback */
  constructor(options: VotingOptions) {
    this.#self = options.self;
    this.#minimum = options.minimum ?? 1;
    this.#forgetAfter = options.forgetAfterMs;
    this.#clock = options.clock;
    this.#onChange = options.onChange;
    const poll = options.poll;
    if (poll) {
      const tick = () => {
        if (this.#closed) return;
        this.sync(poll());
        this.#pollTimer = this.#clock.setTimeout(tick, options.pollMs ?? 1000);
      };
      this.#pollTimer = this.#clock.setTimeout(tick, options.pollMs ?? 1000);
    }
  }

  /** Follows a member's state (`left` gives up its seat; `dead` starts the forget delay). */
  observe(name: string, state: Seat | "left"): void {
    if (this.#apply(name, state)) this.#changed();
  }

  /**
   * Follows the states of every member listed (a member table's view); one change callback.
   * Members missing from the list keep their seats (memberlist reaps the dead it still counts).
   */
  sync(members: Iterable<{ readonly name: string; readonly state: Seat | "left" }>): void {
    let changed = false;
    for (const m of members) changed = this.#apply(m.name, m.state) || changed;
    if (changed) this.#changed();
  }

  #apply(name: string, state: Seat | "left"): boolean {
    if (this.#closed || name === this.#self) return false;
    const seat = this.#seats.get(name);
    if (state === "left") {
      this.#gone.delete(name);
      return this.#seats.delete(name);
    }
    if (state === "alive") this.#gone.delete(name);
    else if (this.#gone.has(name)) return false; // stale news of a member removed on purpose
    if (seat?.state === state) return false;
    const failedAt = state === "dead"
      ? (seat?.state === "dead" ? seat.failedAt : this.#clock.now())
      : 0;
    this.#seats.set(name, { state, failedAt });
    if (state === "dead") this.#arm();
    return true;
  }

  /** The state of a seat, or undefined when `name` holds none. */
  stateOf(name: string): Seat | undefined {
    return name === this.#self ? "alive" : this.#seats.get(name)?.state;
  }

  /**
   * Takes a non-alive member's seat away; throws {@link MembershipError} for this node, an
   * unknown name or an alive member (it would only have to be removed again).
   */
  remove(name: string): void {
    if (name === this.#self) {
      throw new MembershipError(name, `${name} is this node: it cannot remove itself`);
    }
    const seat = this.#seats.get(name);
    if (!seat) throw new MembershipError(name, `no voting member named "${name}"`);
    if (seat.state === "alive") {
      throw new MembershipError(
        name,
        `${name} is alive: stop it (or let it leave) before removing it`,
      );
    }
    this.#gone.add(name);
    this.#drop(name);
  }

  /** Seat holders, this node included, sorted. */
  names(): string[] {
    return [this.#self, ...this.#seats.keys()].sort();
  }

  /** The quorum as this node sees it. */
  status(): QuorumStatus {
    let reachable = 1;
    for (const s of this.#seats.values()) if (s.state === "alive") reachable++;
    const voters = this.#seats.size + 1;
    const needed = quorumNeeded(voters, this.#minimum);
    return { hasQuorum: reachable >= needed, voters, reachable, needed };
  }

  /** Stops the forget timer. */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#pollTimer);
    this.#timer = this.#pollTimer = undefined;
  }

  #drop(name: string): void {
    this.#seats.delete(name);
    this.#changed();
  }

  #changed(): void {
    this.#onChange(this.names(), this.status());
  }

  /** One timer, for the oldest failure: forgets every seat failed for `forgetAfter`. */
  #arm(): void {
    if (this.#closed) return;
    this.#clock.clearTimeout(this.#timer);
    let oldest = Number.POSITIVE_INFINITY;
    for (const s of this.#seats.values()) {
      if (s.state === "dead") oldest = Math.min(oldest, s.failedAt);
    }
    if (oldest === Number.POSITIVE_INFINITY) {
      this.#timer = undefined;
      return;
    }
    const wait = Math.max(0, oldest + this.#forgetAfter - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      const now = this.#clock.now();
      for (const [name, s] of [...this.#seats]) {
        if (s.state === "dead" && now - s.failedAt >= this.#forgetAfter) {
          this.#gone.add(name);
          this.#drop(name);
        }
      }
      this.#arm();
    }, wait);
  }
}

const REMOVE_PREFIX = "response-cluster/remove-member\n";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The user message that tells the other members to remove `name` too. */
export function encodeRemoval(name: string): Uint8Array {
  return encoder.encode(REMOVE_PREFIX + name);
}

/** The member a removal message names, or undefined for any other message. */
export function decodeRemoval(buf: Uint8Array): string | undefined {
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    return undefined;
  }
  if (!text.startsWith(REMOVE_PREFIX)) return undefined;
  const name = text.slice(REMOVE_PREFIX.length);
  return name === "" ? undefined : name;
}
