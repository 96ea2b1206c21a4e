/**
 * Reconnecting to failed members, as Serf does: every member declared dead (not left) is
 * remembered with its address for `reconnectTimeoutMs` (default 24 h), even after the member
 * table reaped it, and every `reconnectIntervalMs` (default 30 s) one of them is picked at
 * random and joined (a push/pull with join = true). The attempt happens with probability
 * `failed / alive`, so a single crashed node costs the whole cluster about one dial per
 * interval, while a cluster split in halves re-dials from every node.
 *
 * Why: SWIM alone never heals a partition that outlived suspicion and gossip-to-the-dead:
 * each side reaps the other and nothing dials across again (hashicorp/memberlist#222). A
 * re-join from a member that still remembers the address merges both views; incarnation
 * refutation then settles any leftover accusations.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import type { Core } from "./core.ts";
import { type NodeRecord, NodeStateCode } from "./state.ts";

interface Failed {
  readonly name: string;
  readonly address: HostPort;
  readonly since: number;
}

/** Joins one address; resolves whatever the outcome. */
export type Rejoin = (to: HostPort) => Promise<void>;

/**
 * Remembers failed members and periodically re-joins one of them.
 *
 * @example
 * ```ts
 * const r = new Reconnector(core, (to) => streams.pushPull(to, true));
 * r.observe("dead", rec); // fed from the member table's events
 * r.start();
 * ```
 */
export class Reconnector {
  private readonly core: Core;
  private readonly rejoin: Rejoin;
  // insertion order = failure order; index access for the random pick
  private readonly failed = new Map<string, Failed>();
  private inflight = false;

  /**
   * @param core node context (timers, random, table, tuning)
   * @param rejoin how to join one address (push/pull with join = true)
   */
  constructor(core: Core, rejoin: Rejoin) {
    this.core = core;
    this.rejoin = rejoin;
  }

  /** Reconnect interval in effect (0 = disabled). */
  get intervalMs(): number {
    return this.core.tuning.reconnectIntervalMs;
  }

  /** How long a failed member is remembered. */
  get timeoutMs(): number {
    return this.core.tuning.reconnectTimeoutMs;
  }

  /** Number of failed members remembered (diagnostics, tests). */
  get size(): number {
    return this.failed.size;
  }

  /** Follows the table's state transitions. */
  observe(event: "join" | "update" | "suspect" | "dead" | "left", rec: NodeRecord): void {
    if (rec.name === this.core.name) return;
    if (event === "dead") {
      this.failed.delete(rec.name); // re-insert: the newest failure goes last
      this.failed.set(rec.name, {
        name: rec.name,
        address: { host: rec.host, port: rec.port },
        since: this.core.clock.now(),
      });
    } else if (event === "join" || event === "left") {
      // back (or gone on purpose): nothing to reconnect
      this.failed.delete(rec.name);
    }
  }

  /** Starts the periodic rounds (no-op when the interval is 0). */
  start(): void {
    const interval = this.intervalMs;
    if (!(interval > 0)) return;
    const tick = (): void => {
      if (this.core.isClosed()) return;
      try {
        this.round();
      } catch (e) {
        this.core.logger.warn("reconnect failed", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
      this.core.timers.after(interval, tick);
    };
    this.core.timers.after(interval, tick);
  }

  /** One round: prune, then maybe re-join one random failed member. */
  round(): void {
    const c = this.core;
    const now = c.clock.now();
    const timeout = this.timeoutMs;
    for (const f of this.failed.values()) {
      if (now - f.since < timeout) break; // insertion order: the rest is younger
      this.failed.delete(f.name);
    }
    const n = this.failed.size;
    if (n === 0 || this.inflight) return;
    // Alive = members that are neither failed nor left (ourselves included), as in Serf.
    let alive = 0;
    for (const rec of c.table.nodes) if (rec.state <= NodeStateCode.suspect) alive++;
    const prob = n / Math.max(1, alive);
    if (c.random() > prob) return;
    let idx = Math.floor(c.random() * n);
    let pick: Failed | undefined;
    for (const f of this.failed.values()) {
      if (idx-- === 0) {
        pick = f;
        break;
      }
    }
    if (pick === undefined) return;
    const rec = c.table.byName.get(pick.name);
    if (rec !== undefined && rec.state <= NodeStateCode.suspect) {
      this.failed.delete(pick.name); // came back without a join event reaching us
      return;
    }
    c.counters.inc("reconnects");
    this.inflight = true;
    const name = pick.name;
    c.track(
      this.rejoin(pick.address).then(
        () => c.logger.debug("reconnected to failed member", { node: name }),
        (e) =>
          c.logger.debug("reconnect attempt failed", {
            node: name,
            error: e instanceof Error ? e.message : String(e),
          }),
      ).finally(() => (this.inflight = false)),
    );
  }
}
