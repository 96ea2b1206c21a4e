/**
 * Direct contact between accuser and accused, next to gossip, and its rate limit.
 *
 * Why accusations: a member that restarted under the same name starts again at incarnation
 * 1, below the death others hold about it, and only refutes once it hears that accusation.
 * Gossip may never bring it (hashicorp/memberlist#311). So whenever an alive is refused
 * because we hold a death or suspicion at an equal or higher incarnation, we send that
 * accusation straight to the address the alive names: a live restarted node refutes at once
 * with a higher incarnation, a gone one costs one packet. Deaths are re-gossiped as well;
 * suspicions are not, since every other member would count the re-gossiped one as an
 * independent confirmation and shorten its suspicion timer.
 *
 * Why answers: after a refutation, gossip with a retransmit limit may miss the accuser in a
 * small cluster, whose timer then runs out; and an accusation of an incarnation we already
 * out-bid means the accuser missed our refutation (hashicorp/memberlist ignores it, and the
 * accuser holds us dead until a push/pull corrects it). So we also send our current alive
 * straight to the accuser and to the member that relayed the accusation, which holds it too.
 *
 * Either way, at most one packet per member per probe interval: a flood of stale messages
 * costs a bounded number of packets.
 *
 * @module
 */
import type { Clock } from "../transport/mod.ts";
import type { MemberlistTuning } from "./config.ts";
import type { NodeRecord } from "./member.ts";
import type { Alive, Message } from "./wire/mod.ts";

/** What direct contact needs from the member table's environment. */
export interface ContactEnv {
  /** Time. */
  readonly clock: Clock;
  /** probeIntervalMs is the least gap between two packets to one member. */
  readonly tuning: MemberlistTuning;
  /** Sends a message straight to a member's address. */
  sendDirect?(addr: Uint8Array, port: number, msg: Message): void;
}

/**
 * Rate-limited accusations and answers sent straight to one member.
 *
 * @example
 * ```ts
 * const contact = new DirectContact(env);
 * contact.accuse(staleAlive, { type: "dead", body: { incarnation: 7, node: "b", from: "a" } });
 * contact.answer(self, [accuser, relay]);
 * ```
 */
export class DirectContact {
  private readonly env: ContactEnv;
  // name -> time of the last direct packet; insertion order = time order (re-marks move last)
  private readonly contactedAt = new Map<string, number>();

  /** @param env clock, tuning and the send hook */
  constructor(env: ContactEnv) {
    this.env = env;
  }

  /** Members whose last direct contact is remembered. */
  get size(): number {
    return this.contactedAt.size;
  }

  /**
   * True (and recorded) when a direct packet may go to `name` now: at most once per probe
   * interval.
   */
  mayContact(name: string): boolean {
    const now = this.env.clock.now();
    const last = this.contactedAt.get(name);
    if (last !== undefined && now - last < this.env.tuning.probeIntervalMs) return false;
    this.contactedAt.delete(name);
    this.contactedAt.set(name, now);
    return true;
  }

  /**
   * Tells the member a stale alive `a` is about of the accusation `msg` we hold, at the
   * address the alive names. Returns false when rate-limited.
   */
  accuse(a: Alive, msg: Message): boolean {
    if (!this.mayContact(a.node)) return false;
    this.env.sendDirect?.(a.addr, a.port, msg);
    return true;
  }

  /** Sends our current alive (`me`) to each accuser that is known and not rate-limited. */
  answer(me: NodeRecord, accusers: readonly (NodeRecord | undefined)[]): void {
    for (const accuser of accusers) {
      if (accuser === undefined || accuser === me || !this.mayContact(accuser.name)) continue;
      this.env.sendDirect?.(accuser.addr, accuser.port, aliveAbout(me));
    }
  }

  /** Forgets contacts older than `memoryMs`. */
  prune(memoryMs: number): void {
    const now = this.env.clock.now();
    for (const [name, at] of this.contactedAt) {
      if (now - at < memoryMs) break;
      this.contactedAt.delete(name);
    }
  }
}

/**
 * The alive message announcing `me` as it stands.
 *
 * @example
 * ```ts
 * env.broadcast(me.name, aliveAbout(me));
 * ```
 */
export function aliveAbout(me: NodeRecord): Message {
  const body: Alive = {
    incarnation: me.incarnation,
    node: me.name,
    addr: me.addr,
    port: me.port,
    meta: me.meta.length === 0 ? null : me.meta,
    vsn: me.vsn,
  };
  return { type: "alive", body };
}
