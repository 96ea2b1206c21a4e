/**
 * Failure detection: the SWIM probe cycle with Lifeguard's changes (docs/PROTOCOL.md §3.1–3.2):
 * direct ping, indirect pings through relays (with nacks), the TCP fallback ping, the
 * buddy ping+suspect compound, awareness deltas, and the ping / indirect-ping / ack / nack
 * handlers that answer other nodes.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import type { Core } from "./core.ts";
import { bytesToIp, encodeMessage, type IndirectPing, type Ping } from "./wire/mod.ts";
import { kRandomNodes } from "./sample.ts";
import type { PacketSender } from "./send.ts";
import { type NodeRecord, NodeStateCode, recordAddress } from "./state.ts";

interface AckHandler {
  onAck(payload: Uint8Array | null): void;
  onNack(): void;
  onTimeout(): void;
  cancel(): void;
}

/** Asks a node over TCP whether it is up (the fallback ping); "acked" when it answered. */
export type TcpPing = (
  to: HostPort,
  ping: Ping,
  deadline: number,
) => Promise<"acked" | "refused" | "failed">;

/**
 * Probes members one by one and answers the probes of others.
 *
 * @example
 * ```ts
 * const prober = new Prober(core, sender, tcpPing);
 * prober.start();
 * ```
 */
export class Prober {
  private readonly core: Core;
  private readonly sender: PacketSender;
  private readonly tcpPing: TcpPing;
  private readonly handlers = new Map<number, AckHandler>();
  private probeIndex = 0;

  /**
   * @param core node context
   * @param sender packet sender
   * @param tcpPing the fallback ping over a stream
   */
  constructor(core: Core, sender: PacketSender, tcpPing: TcpPing) {
    this.core = core;
    this.sender = sender;
    this.tcpPing = tcpPing;
  }

  /** Starts the probe loop after a random stagger. */
  start(): void {
    const c = this.core;
    const stagger = Math.floor(c.random() * c.tuning.probeIntervalMs);
    c.timers.after(stagger, () => this.tick());
  }

  /** Drops every pending ack handler (shutdown). */
  stop(): void {
    const all = [...this.handlers.values()];
    this.handlers.clear();
    for (const h of all) {
      h.cancel();
      h.onTimeout();
    }
  }

  private tick(): void {
    const c = this.core;
    if (c.isClosed()) return;
    const started = c.clock.now();
    this.probe(() => {
      if (c.isClosed()) return;
      // Like a Go ticker that keeps one pending tick: a long probe is followed at once by
      // the next, otherwise the next starts one interval after this one started.
      const wait = started + c.tuning.probeIntervalMs - c.clock.now();
      c.timers.after(Math.max(0, wait), () => this.tick());
    });
  }

  /** One probe round: the next live node in round-robin order; `done` runs when it ends. */
  probe(done: () => void): void {
    const c = this.core;
    const nodes = c.table.nodes;
    let checked = 0;
    for (;;) {
      if (checked >= nodes.length) break;
      if (this.probeIndex >= nodes.length) {
        c.table.resetNodes(); // reap the long dead and reshuffle when wrapping
        this.probeIndex = 0;
        checked++;
        continue;
      }
      const node = nodes[this.probeIndex++];
      if (
        node.name === c.name || node.state === NodeStateCode.dead ||
        node.state === NodeStateCode.left
      ) {
        checked++;
        continue;
      }
      this.probeNode(node, done);
      return;
    }
    done();
  }

  /**
   * Probes one node; on failure the node becomes suspect. Written with callbacks rather
   * than awaits so every step happens at its exact (possibly simulated) time.
   */
  probeNode(node: NodeRecord, done: () => void): void {
    const c = this.core;
    // Snapshot: the record may change while we wait.
    const target = { name: node.name, incarnation: node.incarnation, state: node.state };
    const targetAddr = node.addr;
    const addr = recordAddress(node);
    const pmax = node.vsn[1];
    const interval = c.awareness.scaleTimeout(c.tuning.probeIntervalMs);
    const ping: Ping = {
      seqNo: c.nextSeqNo(),
      node: node.name,
      sourceAddr: c.advertiseAddr,
      sourcePort: c.advertise.port,
      sourceNode: c.name,
    };
    let nacks = 0;
    let expectedNacks = 0;
    let finished = false;
    let direct = true; // until the probe timeout sends the indirect pings
    let fallback: Promise<boolean> | null = null;
    let cancelDirect: () => void = () => {};
    const finish = (delta: number): void => {
      if (finished) return;
      finished = true;
      cancelDirect();
      this.clearHandler(ping.seqNo);
      if (!c.isClosed()) c.awareness.applyDelta(delta);
      done();
    };
    const fail = (): void => {
      if (finished) return;
      if (c.isClosed()) return finish(0);
      // Lifeguard: missing nacks mean *we* may be the problem; no nack relays: plain +1.
      const delta = expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1;
      c.counters.inc("probesFailed");
      c.logger.debug("suspect has failed, no acks received", { node: target.name });
      c.table.suspectNode({ incarnation: target.incarnation, node: target.name, from: c.name });
      finish(delta);
    };
    // The ack deadline is the awareness-scaled interval (ProbeTimeout only gates the relays).
    this.setHandler(ping.seqNo, interval, {
      onAck: () => {
        // A late ack was already counted as a miss when the timeout sent the indirect pings.
        if (!finished && direct) c.delivery.record(true);
        finish(-1);
      },
      onNack: () => nacks++,
      onTimeout: () => {
        if (finished) return;
        if (fallback === null) return fail();
        const f = fallback;
        c.track(f.then((ok) => {
          if (!ok) return fail();
          c.logger.warn(
            "reached node over TCP but UDP probes failed, network may be misconfigured",
            {
              node: target.name,
            },
          );
          finish(-1);
        }));
      },
    });
    const sent = c.clock.now();
    c.counters.inc("probesSent");
    const pingBytes = encodeMessage({ type: "ping", body: ping });
    if (target.state === NodeStateCode.alive) {
      this.sender.sendMsg(addr, pingBytes);
    } else {
      // Lifeguard buddy system: tell a suspect it is suspected so it can refute at once.
      const suspect = encodeMessage({
        type: "suspect",
        body: { incarnation: target.incarnation, node: target.name, from: c.name },
      });
      this.sender.sendParts(addr, [pingBytes, suspect], node);
    }
    cancelDirect = c.timers.after(c.tuning.probeTimeoutMs, () => {
      if (finished || c.isClosed()) return;
      direct = false;
      c.delivery.record(false);
      const relays = kRandomNodes(
        c.table.nodes,
        c.tuning.indirectChecks,
        (n) => n.name === c.name || n.name === target.name || n.state !== NodeStateCode.alive,
        c.random,
      );
      for (const peer of relays) {
        const nack = peer.vsn[1] >= 4; // only protocol 4+ relays know nacks
        if (nack) expectedNacks++;
        const ind: IndirectPing = {
          seqNo: ping.seqNo,
          target: targetAddr,
          port: addr.port,
          node: target.name,
          nack,
          sourceAddr: c.advertiseAddr,
          sourcePort: c.advertise.port,
          sourceNode: c.name,
        };
        this.sender.sendMsg(
          recordAddress(peer),
          encodeMessage({ type: "indirectPing", body: ind }),
        );
      }
      // The TCP fallback catches nodes whose UDP is broken but are otherwise fine.
      if (!c.tuning.disableTcpPings && pmax >= 3) {
        // one settling step, as the boolean ping's catch had: simulations replay unchanged
        fallback = this.tcpPing(addr, ping, sent + interval).then(
          (o) => o === "acked",
          () => false,
        );
        c.track(fallback);
      }
    });
  }

  /**
   * Pings `node` at `to` outside the probe cycle (no awareness or suspicion effects) and
   * reports whether it acked within a probe interval.
   */
  ping(to: HostPort, node: string, done: (ok: boolean) => void): void {
    const c = this.core;
    if (c.isClosed()) return done(false);
    const seqNo = c.nextSeqNo();
    this.setHandler(seqNo, c.tuning.probeIntervalMs, {
      onAck: () => done(true),
      onNack: () => {},
      onTimeout: () => done(false),
    });
    const ping: Ping = {
      seqNo,
      node,
      sourceAddr: c.advertiseAddr,
      sourcePort: c.advertise.port,
      sourceNode: c.name,
    };
    this.sender.sendMsg(to, encodeMessage({ type: "ping", body: ping }));
  }

  /** Answers a ping (UDP). */
  handlePing(p: Ping, from: HostPort): void {
    const c = this.core;
    if (p.node !== "" && p.node !== c.name) {
      c.logger.debug("got ping for another node", { node: p.node });
      return;
    }
    const ack = encodeMessage({ type: "ack", body: { seqNo: p.seqNo, payload: null } });
    this.sender.sendMsg(replyAddress(p, from), ack);
  }

  /** Relays an indirect ping: ping the target, forward its ack, nack on timeout if asked. */
  handleIndirectPing(ind: IndirectPing, from: HostPort): void {
    const c = this.core;
    let host: string;
    try {
      host = bytesToIp(ind.target);
    } catch {
      c.counters.inc("malformed");
      return;
    }
    // Protocol 1 peers carry no port: use our own, as memberlist does.
    const port = c.protocolVersion < 2 || ind.port === 0 ? c.advertise.port : ind.port;
    const replyTo = replyAddress(ind, from);
    const localSeq = c.nextSeqNo();
    this.setHandler(localSeq, c.tuning.probeTimeoutMs, {
      onAck: () => {
        const ack = encodeMessage({ type: "ack", body: { seqNo: ind.seqNo, payload: null } });
        this.sender.sendMsg(replyTo, ack);
      },
      onNack: () => {},
      onTimeout: () => {
        if (!ind.nack || c.isClosed()) return;
        this.sender.sendMsg(replyTo, encodeMessage({ type: "nack", body: { seqNo: ind.seqNo } }));
      },
    });
    const ping: Ping = {
      seqNo: localSeq,
      node: ind.node,
      sourceAddr: c.advertiseAddr,
      sourcePort: c.advertise.port,
      sourceNode: c.name,
    };
    this.sender.sendMsg({ host, port }, encodeMessage({ type: "ping", body: ping }));
  }

  /** Delivers an ack to its handler. */
  handleAck(seqNo: number, payload: Uint8Array | null): void {
    const h = this.handlers.get(seqNo);
    if (h === undefined) return;
    this.handlers.delete(seqNo);
    h.cancel();
    h.onAck(payload);
  }

  /** Delivers a nack to its handler (which stays in place for a late ack). */
  handleNack(seqNo: number): void {
    this.handlers.get(seqNo)?.onNack();
  }

  /** Pending ack handlers (diagnostics). */
  get pending(): number {
    return this.handlers.size;
  }

  private setHandler(
    seq: number,
    timeoutMs: number,
    h: { onAck(p: Uint8Array | null): void; onNack(): void; onTimeout(): void },
  ): void {
    const cancel = this.core.timers.after(timeoutMs, () => {
      if (this.handlers.get(seq) !== entry) return;
      this.handlers.delete(seq);
      h.onTimeout();
    });
    const entry: AckHandler = { ...h, cancel };
    this.handlers.get(seq)?.cancel();
    this.handlers.set(seq, entry);
  }

  private clearHandler(seq: number): void {
    const h = this.handlers.get(seq);
    if (h === undefined) return;
    this.handlers.delete(seq);
    h.cancel();
  }
}

// Where an ack goes: the advertised source when both address and port are given.
function replyAddress(
  p: { sourceAddr?: Uint8Array; sourcePort?: number },
  from: HostPort,
): HostPort {
  if (
    p.sourceAddr !== undefined && p.sourceAddr.length > 0 && p.sourcePort !== undefined &&
    p.sourcePort > 0
  ) {
    try {
      return { host: bytesToIp(p.sourceAddr), port: p.sourcePort };
    } catch {
      return from;
    }
  }
  return from;
}
