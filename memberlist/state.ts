/**
 * The member table and its state machine: alive / suspect / dead / left handling with
 * incarnation rules, refutation, dead-node reclaim and reaping (docs/PROTOCOL.md §3.4), as
 * hashicorp/memberlist's aliveNode / suspectNode / deadNode do it.
 *
 * The table knows nothing about sockets: it broadcasts and emits events through
 * {@link StateEnv}, so it can be unit-tested with a fake environment.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import {
  aliveChangesNothing,
  EMPTY,
  internAddr,
  internMeta,
  internVsn,
  type NodeRecord,
  NodeStateCode,
  safeIp,
  sameBytes,
  ZERO_VSN,
} from "./member.ts";
import type { Alive, Dead, Message, Suspect } from "./wire/mod.ts";
import { Suspicion, suspicionTimeout } from "./suspicion.ts";
import { Tombstones } from "./tombstone.ts";
import { shuffle } from "./sample.ts";
import { aliveAbout, DirectContact } from "./accusation.ts";
import type { StateEnv } from "./state_env.ts";

export type { StateEnv } from "./state_env.ts";

/**
 * Known nodes (including self) and the rules that change their state.
 *
 * @example
 * ```ts
 * const table = new MemberTable(env);
 * table.aliveNode(aliveMsg, false);
 * table.suspectNode({ incarnation: 1, node: "b", from: "c" });
 * ```
 */
export class MemberTable {
  /** Probe order; new nodes are inserted at a random offset. */
  readonly nodes: NodeRecord[] = [];
  /** Name -> record. */
  readonly byName: Map<string, NodeRecord> = new Map();
  /** Set once `leave()` started: alive messages about us are then ignored. */
  leaving = false;
  /** Reaped members' last incarnations: stale alives about them are refused. */
  readonly tombstones: Tombstones;
  // Members we ping before believing an alive that would bring them back from the dead.
  private readonly verifying = new Set<string>();
  private readonly env: StateEnv;
  private readonly timers = new Map<string, Suspicion>();
  private readonly contact: DirectContact;
  private localIncarnation = 0;
  private changes = 0;

  /** @param env callbacks and configuration */
  constructor(env: StateEnv) {
    this.env = env;
    this.tombstones = new Tombstones(() => env.tuning.reconnectTimeoutMs);
    this.contact = new DirectContact(env);
  }

  /** Number of known nodes, any state, self included (memberlist estNumNodes). */
  get numNodes(): number {
    return this.nodes.length;
  }

  /**
   * Counts changes to what a push/pull carries: a member added, reaped, or its address,
   * metadata, versions, incarnation or state changed. Equal values mean an identical
   * push/pull body, so it can be reused (push_pull.ts).
   */
  get version(): number {
    return this.changes;
  }

  /** Our own record (present after {@link setAlive}). */
  self(): NodeRecord | undefined {
    return this.byName.get(this.env.name);
  }

  /** Our current incarnation counter. */
  get incarnation(): number {
    return this.localIncarnation;
  }

  /** Bumps and returns our incarnation. */
  nextIncarnation(): number {
    return ++this.localIncarnation;
  }

  /**
   * Creates or refreshes our own record (incarnation bumped) and queues an alive broadcast
   * about us.
   */
  setAlive(addr: Uint8Array, port: number, meta: Uint8Array, vsn: Uint8Array): void {
    const a: Alive = {
      incarnation: this.nextIncarnation(),
      node: this.env.name,
      addr,
      port,
      meta: meta.length === 0 ? null : meta,
      vsn,
    };
    this.aliveNode(a, true);
  }

  /** Any node other than us that is not dead or left. */
  anyAlive(): boolean {
    for (const n of this.nodes) {
      if (n.name !== this.env.name && n.state <= NodeStateCode.suspect) return true;
    }
    return false;
  }

  /**
   * True when an alive with these values (address and versions as they lie in `buf`) would
   * change nothing; see {@link aliveChangesNothing}. Push/pull merges drop such states while
   * decoding them: nearly all of them in a quiet cluster.
   */
  holdsAlive(
    name: string,
    incarnation: number,
    port: number,
    buf: Uint8Array,
    addrAt: number,
    addrLen: number,
    vsnAt: number,
    vsnLen: number,
  ): boolean {
    if (name === this.env.name) return false;
    const rec = this.byName.get(name);
    return rec !== undefined &&
      aliveChangesNothing(rec, incarnation, port, buf, addrAt, addrLen, vsnAt, vsnLen);
  }

  /**
   * Handles an alive message. `bootstrap` marks our own alive created locally (no refute).
   * `onFinished` is attached to the resulting broadcast.
   */
  aliveNode(a: Alive, bootstrap: boolean, onFinished?: () => void, verified = false): void {
    const env = this.env;
    const isLocal = a.node === env.name;
    if (isLocal && this.leaving) return; // a late alive must not rejoin us while leaving
    if (a.vsn.length >= 3) {
      const pmin = a.vsn[0];
      const pmax = a.vsn[1];
      if (pmin === 0 || pmax === 0 || pmin > pmax) {
        env.warn("ignoring alive with bad protocol versions", { node: a.node });
        return;
      }
    }
    let rec = this.byName.get(a.node);
    let updatesNode = false;
    const created = rec === undefined;
    if (rec === undefined) {
      const tomb = isLocal ? undefined : this.tombstones.incarnationOf(a.node);
      if (tomb !== undefined) {
        if (a.incarnation <= tomb) {
          // A stale alive about a reaped member must not revive it (memberlist#312).
          const dead: Message = {
            type: "dead",
            body: { incarnation: tomb, node: a.node, from: env.name },
          };
          if (this.contact.accuse(a, dead)) env.broadcast(a.node, dead);
          return;
        }
        if (!verified && env.verify !== undefined) return this.verify(a, onFinished);
        this.tombstones.forget(a.node);
      }
      const where = internAddr(a.addr);
      rec = {
        name: a.node,
        addr: where.addr,
        host: where.host,
        port: a.port,
        meta: internMeta(a.meta),
        incarnation: 0,
        // A new node starts "dead" so that becoming alive reads as a join.
        state: NodeStateCode.dead,
        stateChange: env.clock.now(),
        vsn: a.vsn.length >= 6 ? internVsn(a.vsn) : ZERO_VSN,
      };
      this.byName.set(a.node, rec);
      this.changes++;
      // Random position keeps the expected failure detection time low for everyone.
      const n = this.nodes.length;
      const offset = Math.floor(env.random() * (n + 1));
      this.nodes.push(rec);
      if (offset < n) {
        const tmp = this.nodes[offset];
        this.nodes[offset] = rec;
        this.nodes[n] = tmp;
      }
    } else if (!sameBytes(rec.addr, a.addr) || rec.port !== a.port) {
      const reclaim = env.tuning.deadNodeReclaimMs;
      const canReclaim = reclaim > 0 && env.clock.now() - rec.stateChange > reclaim;
      if (rec.state === NodeStateCode.left || (rec.state === NodeStateCode.dead && canReclaim)) {
        updatesNode = true;
      } else {
        const theirs = { host: safeIp(a.addr), port: a.port };
        if (env.onConflict !== undefined) env.onConflict(rec, theirs);
        else {
          env.warn("conflicting address", {
            node: a.node,
            mine: `${rec.host}:${rec.port}`,
            theirs: `${theirs.host}:${theirs.port}`,
          });
        }
        return;
      }
    }
    if (a.incarnation <= rec.incarnation && !isLocal && !updatesNode) {
      // We hold an accusation it has not refuted: make sure it hears it (memberlist#311).
      if (rec.state === NodeStateCode.suspect) {
        // Only to the member itself: a re-gossiped suspect "from" us would count as an
        // independent confirmation everywhere and shrink every suspicion timer to its minimum,
        // turning one stale push/pull into false deaths under packet loss.
        const body = { incarnation: rec.incarnation, node: a.node, from: env.name };
        this.contact.accuse(a, { type: "suspect", body });
      } else if (rec.state !== NodeStateCode.alive) {
        // A left member stays left: from === node is how "left" travels.
        const from = rec.state === NodeStateCode.left ? a.node : env.name;
        const dead: Message = {
          type: "dead",
          body: { incarnation: rec.incarnation, node: a.node, from },
        };
        if (this.contact.accuse(a, dead)) env.broadcast(a.node, dead);
      }
      return;
    }
    if (a.incarnation < rec.incarnation && isLocal) return;
    if (
      !isLocal && !verified && !created && rec.state === NodeStateCode.dead &&
      env.verify !== undefined
    ) {
      return this.verify(a, onFinished);
    }
    this.clearTimer(a.node);
    const oldState = rec.state;
    const oldMeta = rec.meta;
    if (!bootstrap && isLocal) {
      // Identical to what we advertise: nothing to do. Otherwise someone holds a stale or
      // conflicting view of us (e.g. a previous run of this name): out-bid it.
      const meta = a.meta ?? EMPTY;
      if (
        a.incarnation === rec.incarnation && sameBytes(meta, rec.meta) && sameBytes(a.vsn, rec.vsn)
      ) {
        return;
      }
      this.refute(rec, a.incarnation);
    } else {
      env.broadcast(a.node, { type: "alive", body: a }, onFinished);
      this.changes++;
      if (a.vsn.length >= 6) rec.vsn = internVsn(a.vsn);
      rec.incarnation = a.incarnation;
      rec.meta = internMeta(a.meta);
      if (updatesNode || !sameBytes(rec.addr, a.addr)) {
        const where = internAddr(a.addr);
        rec.addr = where.addr;
        rec.host = where.host;
      }
      rec.port = a.port;
      if (rec.state !== NodeStateCode.alive) {
        rec.state = NodeStateCode.alive;
        rec.stateChange = env.clock.now();
      }
    }
    if (oldState === NodeStateCode.dead || oldState === NodeStateCode.left) {
      if (rec.state === NodeStateCode.alive) env.emit("join", rec);
    } else if (!sameBytes(oldMeta, rec.meta)) {
      env.emit("update", rec);
    }
  }

  /**
   * Handles a suspect message (also: a confirmation of a running suspicion). `via` is the
   * address the message came from, when it came over the network: a member gossiping an
   * accusation about us holds it too, so it hears our answer.
   */
  suspectNode(s: Suspect, via?: HostPort): void {
    const env = this.env;
    const rec = this.byName.get(s.node);
    if (rec === undefined) return;
    if (s.incarnation < rec.incarnation) {
      if (rec.name === env.name) this.tellAccusers(rec, s.from, via);
      return;
    }
    const timer = this.timers.get(s.node);
    if (timer !== undefined) {
      // Independent accusers shorten the timer; re-gossip so confirmations keep flowing.
      if (timer.confirm(s.from)) env.broadcast(s.node, { type: "suspect", body: s });
      return;
    }
    if (rec.state !== NodeStateCode.alive) return;
    if (rec.name === env.name) {
      this.refute(rec, s.incarnation);
      this.tellAccusers(rec, s.from, via);
      return;
    }
    env.broadcast(s.node, { type: "suspect", body: s });
    this.changes++;
    rec.incarnation = s.incarnation;
    rec.state = NodeStateCode.suspect;
    const changeTime = env.clock.now();
    rec.stateChange = changeTime;
    // k confirmations let the timeout reach its minimum two probe intervals short of the
    // nominal multiplier; small clusters cannot provide them (n - 2: minus us and the suspect).
    const n = this.numNodes;
    let k = env.tuning.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(env.tuning.suspicionMult, n, env.tuning.probeIntervalMs);
    const max = env.tuning.suspicionMaxTimeoutMult * min;
    const name = s.node;
    const susp = new Suspicion(env.clock, s.from, k, min, max, (confirmations) => {
      if (this.timers.get(name) === susp) this.timers.delete(name);
      const cur = this.byName.get(name);
      if (
        cur === undefined || cur.state !== NodeStateCode.suspect || cur.stateChange !== changeTime
      ) {
        return;
      }
      if (k > 0 && confirmations < k) env.onDegradedTimeout?.();
      this.deadNode({ incarnation: cur.incarnation, node: name, from: env.name });
    });
    this.timers.set(name, susp);
    env.emit("suspect", rec);
  }

  /**
   * Handles a dead message; `from === node` means the node left gracefully. `via` as for
   * {@link suspectNode}.
   */
  deadNode(d: Dead, onFinished?: () => void, via?: HostPort): void {
    const env = this.env;
    const rec = this.byName.get(d.node);
    if (rec === undefined) return;
    if (d.incarnation < rec.incarnation) {
      if (rec.name === env.name && !this.leaving) this.tellAccusers(rec, d.from, via);
      return;
    }
    this.clearTimer(d.node);
    if (rec.state === NodeStateCode.dead || rec.state === NodeStateCode.left) return;
    if (rec.name === env.name) {
      if (!this.leaving) {
        this.refute(rec, d.incarnation);
        this.tellAccusers(rec, d.from, via);
        return;
      }
      env.broadcast(d.node, { type: "dead", body: d }, onFinished);
    } else {
      env.broadcast(d.node, { type: "dead", body: d });
    }
    this.changes++;
    rec.incarnation = d.incarnation;
    rec.state = d.node === d.from ? NodeStateCode.left : NodeStateCode.dead;
    rec.stateChange = env.clock.now();
    env.emit(rec.state === NodeStateCode.left ? "left" : "dead", rec);
  }

  /** Out-bids an accusation at `accused` incarnation and broadcasts alive about us. */
  refute(me: NodeRecord, accused: number): void {
    let inc = this.nextIncarnation();
    if (accused >= inc) {
      this.localIncarnation = accused + 1;
      inc = this.localIncarnation;
    }
    me.incarnation = inc;
    this.changes++;
    this.env.awareness.applyDelta(1);
    this.env.onRefute?.();
    this.env.broadcast(me.name, aliveAbout(me));
  }

  // Our current alive straight to the accuser and to the member that relayed the accusation
  // (`via`), as accusation.ts explains.
  private tellAccusers(me: NodeRecord, from: string, via?: HostPort): void {
    // Rare (accusations about us), so a scan for the relaying member is fine.
    const relay = via === undefined
      ? undefined
      : this.nodes.find((n) => n.port === via.port && n.host === via.host);
    this.contact.answer(me, [this.byName.get(from), relay]);
  }

  // A higher alive about a member we hold dead may be a genuine refutation or a replay of
  // state it had before it died (memberlist#312: push/pull revives gone nodes). Only the
  // member itself can tell: accept once it answers a ping at that address.
  private verify(a: Alive, onFinished?: () => void): void {
    const verify = this.env.verify;
    if (verify === undefined || this.verifying.has(a.node)) return;
    this.verifying.add(a.node);
    verify(a.addr, a.port, a.node, (ok) => {
      this.verifying.delete(a.node);
      if (ok) this.aliveNode(a, false, onFinished, true);
    });
  }

  /**
   * Reaps dead and left nodes whose state is older than gossipToTheDead (keeping a tombstone)
   * and reshuffles the probe order (called when the probe index wraps).
   */
  resetNodes(): void {
    const now = this.env.clock.now();
    this.tombstones.prune(now);
    this.contact.prune(this.env.tuning.gossipToTheDeadMs);
    const keep: NodeRecord[] = [];
    for (const n of this.nodes) {
      const gone = n.state === NodeStateCode.dead || n.state === NodeStateCode.left;
      if (
        gone && n.name !== this.env.name && now - n.stateChange > this.env.tuning.gossipToTheDeadMs
      ) {
        this.byName.delete(n.name);
        this.clearTimer(n.name);
        this.tombstones.bury(n.name, n.incarnation, now);
        this.changes++;
      } else {
        keep.push(n);
      }
    }
    this.nodes.length = 0;
    this.nodes.push(...keep);
    shuffle(this.nodes, () => this.env.random());
  }

  /** Stops every suspicion timer (shutdown). */
  stopTimers(): void {
    for (const t of this.timers.values()) t.stop();
    this.timers.clear();
  }

  /** Running suspicion about `name`, if any (tests, diagnostics). */
  suspicionOf(name: string): Suspicion | undefined {
    return this.timers.get(name);
  }

  private clearTimer(name: string): void {
    const t = this.timers.get(name);
    if (t !== undefined) {
      t.stop();
      this.timers.delete(name);
    }
  }
}

export { type NodeRecord, NodeStateCode, recordAddress, toMember } from "./member.ts";
