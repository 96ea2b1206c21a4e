/**
 * The UDP receive path: open the packet (label, decryption, CRC, envelopes), count it, and
 * dispatch every message to the prober or the member table. Nothing thrown by bad input
 * leaves this module: it is counted as malformed or rejected and dropped.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import { type Core, errorText } from "./core.ts";
import type { Message } from "./wire/mod.ts";
import { type OpenedPacket, openPacket } from "./wire/mod.ts";
import { isPlain, openPlain } from "./wire/mod.ts";
import type { Prober } from "./probe.ts";
import { isRejection } from "./push_pull.ts";

/**
 * Handles inbound datagrams of one node.
 *
 * @example
 * ```ts
 * const rx = new Receiver(core, prober);
 * transport.onPacket((bytes, from) => rx.onPacket(bytes, from));
 * ```
 */
export class Receiver {
  private readonly core: Core;
  private readonly prober: Prober;

  /**
   * @param core node context
   * @param prober answers pings and takes acks
   */
  constructor(core: Core, prober: Prober) {
    this.core = core;
    this.prober = prober;
  }

  /** Entry point for the transport; never throws. */
  onPacket(bytes: Uint8Array, from: HostPort): void {
    const c = this.core;
    if (c.isClosed()) return;
    if (isPlain(c.security)) {
      // Unencrypted: handled in the same turn (exact under a virtual clock).
      let opened: OpenedPacket;
      try {
        opened = openPlain(bytes, c.security);
      } catch (e) {
        this.dropped(e, from);
        return;
      }
      this.handleOpened(opened, bytes.length, from);
      return;
    }
    c.track(
      openPacket(bytes, c.security).then(
        (opened) => {
          if (!c.isClosed()) this.handleOpened(opened, bytes.length, from);
        },
        (e) => this.dropped(e, from),
      ),
    );
  }

  private dropped(e: unknown, from: HostPort): void {
    const c = this.core;
    if (isRejection(e)) c.counters.inc("rejected");
    else c.counters.inc("malformed");
    c.logger.debug("dropped packet", { from: `${from.host}:${from.port}`, error: errorText(e) });
  }

  private handleOpened(opened: OpenedPacket, size: number, from: HostPort): void {
    const c = this.core;
    const msgs = opened.messages;
    const clean = opened.malformed === 0 && opened.truncated === 0;
    const kind = msgs.length === 1 && clean ? msgs[0].type : "compound";
    c.counters.packetIn(kind, size);
    for (let i = 0; i < opened.malformed + opened.truncated; i++) c.counters.inc("malformed");
    for (const m of msgs) {
      c.counters.messageIn(m.type);
      try {
        this.dispatch(m, from);
      } catch (e) {
        c.counters.inc("malformed");
        c.logger.warn("failed to handle message", { type: m.type, error: errorText(e) });
      }
    }
  }

  private dispatch(m: Message, from: HostPort): void {
    const c = this.core;
    switch (m.type) {
      case "ping":
        this.prober.handlePing(m.body, from);
        return;
      case "indirectPing":
        this.prober.handleIndirectPing(m.body, from);
        return;
      case "ack":
        this.prober.handleAck(m.body.seqNo, m.body.payload);
        return;
      case "nack":
        this.prober.handleNack(m.body.seqNo);
        return;
      case "suspect":
        c.table.suspectNode(m.body, from);
        return;
      case "alive": {
        const a = m.body;
        if (a.addr.length !== 4 && a.addr.length !== 16) {
          c.counters.inc("malformed");
          return;
        }
        // Protocol 1 peers carry no port: memberlist substitutes its own.
        const port = c.protocolVersion < 2 || a.port === 0 ? c.transport.address.port : a.port;
        c.table.aliveNode(port === a.port ? a : { ...a, port }, false);
        return;
      }
      case "dead":
        c.table.deadNode(m.body, undefined, from);
        return;
      case "user":
        c.delegate.notifyMsg?.(m.body);
        return;
      case "err":
        return;
    }
  }
}
