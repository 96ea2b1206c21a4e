/**
 * The fast path for a crashed process on a live host (`tuning.deadOnRefusal`).
 *
 * SWIM waits out a suspicion timeout because silence may be loss. A process that crashed on
 * a host that is still up is not silent: the host's kernel resets its connections and
 * refuses new ones. So on evidence that a member may have crashed (a TCP connection to its
 * gossip port refused, or a hint from outside such as its log connection lost without a
 * goodbye), this node checks the member at once: a direct UDP ping, and TCP pings to its
 * memberlist address at the start, the middle and the end of `refusalWindowMs`. Only when
 * every TCP attempt is actively refused (ECONNREFUSED from the member's own address) and no
 * ack came back is the member declared dead, with the incarnation we know, and that dead
 * message is gossiped instead of a suspicion. Anything else (an ack, an accepted connection,
 * a timeout, an unreachable network) ends the check and leaves the member to the regular
 * probe, indirect probe and Lifeguard suspicion. A member that is in fact alive refutes the
 * death as it refutes any accusation; a member that restarts in place and listens again
 * within the window is not declared dead.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import type { Core } from "./core.ts";
import { NodeStateCode, recordAddress } from "./state.ts";
import type { Ping } from "./wire/mod.ts";

/** How a TCP ping ended: acked, actively refused, or anything else (timeout, reset, garbage). */
export type TcpPingOutcome = "acked" | "refused" | "failed";

/** TCP ping that reports how it ended. */
export type TcpPingCheck = (to: HostPort, ping: Ping, deadline: number) => Promise<TcpPingOutcome>;

/** Direct UDP ping outside the probe cycle (Prober.ping). */
export type UdpPingCheck = (to: HostPort, node: string, done: (ok: boolean) => void) => void;

/** TCP attempts over the window: at its start, middle and end. */
const ATTEMPTS = 3;

/**
 * Checks members on crash evidence; at most one check per member at a time, and after a check
 * that found the member answering (or silent), none for a probe interval.
 *
 * @example
 * ```ts
 * const refusals = new RefusalCheck(core, udpPing, tcpPing);
 * refusals.check("node-b", "log connection lost without goodbye");
 * ```
 */
export class RefusalCheck {
  private readonly core: Core;
  private readonly udpPing: UdpPingCheck;
  private readonly tcpPing: TcpPingCheck;
  private readonly running = new Set<string>();
  private readonly quietUntil = new Map<string, number>();

  /**
   * @param core node context
   * @param udpPing direct ping outside the probe cycle
   * @param tcpPing stream ping reporting refusals
   */
  constructor(core: Core, udpPing: UdpPingCheck, tcpPing: TcpPingCheck) {
    this.core = core;
    this.udpPing = udpPing;
    this.tcpPing = tcpPing;
  }

  /** True when the fast path is on. */
  get enabled(): boolean {
    return this.core.tuning.deadOnRefusal;
  }

  /**
   * A TCP connection to `to` was refused: if that is a live member's memberlist address,
   * check that member.
   */
  refused(to: HostPort): void {
    if (!this.enabled) return;
    for (const n of this.core.table.nodes) {
      if (n.port === to.port && n.host === to.host) {
        this.check(n.name, "connection to its gossip port refused");
        return;
      }
    }
  }

  /**
   * Evidence that `name` may have crashed: checks it now (see the module notes). Returns
   * whether a check started (false: fast path off, unknown, not alive or suspect, ourselves,
   * already being checked, or checked within the last probe interval).
   */
  check(name: string, reason: string): boolean {
    const c = this.core;
    if (!this.enabled || c.isClosed() || name === c.name || this.running.has(name)) return false;
    const rec = c.table.byName.get(name);
    if (rec === undefined || rec.state > NodeStateCode.suspect) return false;
    const now = c.clock.now();
    if (this.quietUntil.size > 64) this.prune(now);
    const quiet = this.quietUntil.get(name);
    if (quiet !== undefined) {
      if (quiet > now) return false;
      this.quietUntil.delete(name);
    }
    this.running.add(name);
    c.counters.inc("crashChecks");
    c.logger.debug("checking a member that may have crashed", { node: name, reason });
    const incarnation = rec.incarnation;
    const addr = recordAddress(rec);
    const window = c.tuning.refusalWindowMs;
    const started = now;
    let over = false;
    let refusals = 0;
    const finish = (dead: boolean): void => {
      if (over) return;
      over = true;
      this.running.delete(name);
      if (!dead) this.quietUntil.set(name, c.clock.now() + c.tuning.probeIntervalMs);
    };
    // An ack means the process is there, whatever TCP said.
    this.udpPing(addr, name, (ok) => {
      if (ok) finish(false);
    });
    const attempt = (): void => {
      if (over) return;
      if (c.isClosed()) return finish(false);
      const ping: Ping = {
        seqNo: c.nextSeqNo(),
        node: name,
        sourceAddr: c.advertiseAddr,
        sourcePort: c.advertise.port,
        sourceNode: c.name,
      };
      const run = this.tcpPing(addr, ping, c.clock.now() + c.tuning.probeTimeoutMs).then(
        (outcome) => {
          if (over) return;
          if (outcome !== "refused") return finish(false); // answered, restarted, or silent
          if (++refusals < ATTEMPTS) {
            const next = started + (window * refusals) / (ATTEMPTS - 1);
            c.timers.after(Math.max(0, next - c.clock.now()), attempt);
            return;
          }
          const cur = c.table.byName.get(name);
          // a refutation or a new state meanwhile: the evidence is about an older incarnation
          if (
            cur === undefined || cur.incarnation !== incarnation ||
            cur.state > NodeStateCode.suspect || c.isClosed()
          ) {
            return finish(false);
          }
          finish(true);
          c.counters.inc("crashDeaths");
          c.logger.debug("declaring dead: its address refuses connections", { node: name, reason });
          c.table.deadNode({ incarnation, node: name, from: c.name });
        },
      );
      c.track(run);
    };
    attempt();
    return true;
  }

  private prune(now: number): void {
    for (const [name, until] of this.quietUntil) if (until <= now) this.quietUntil.delete(name);
  }
}
