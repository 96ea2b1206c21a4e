/**
 * The UDP send path: piggyback queued broadcasts, split into compounds of at most 127
 * parts, then seal (compress, CRC, encrypt, label) and hand to the transport.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import { encodeCompound } from "./wire/mod.ts";
import { type Core, encryptOverhead, errorText, labelOverhead } from "./core.ts";
import { TYPE_NAMES } from "./counters.ts";
import { sealPacket } from "./wire/mod.ts";
import { isPlain, sealPlain } from "./wire/mod.ts";
import type { NodeRecord } from "./state.ts";

/** Per-part overhead inside a compound (its u16 length). */
export const COMPOUND_OVERHEAD = 2;
/** Compound header: type byte and count byte. */
export const COMPOUND_HEADER_OVERHEAD = 2;

/**
 * Sends packets for one node.
 *
 * @example
 * ```ts
 * const sender = new PacketSender(core);
 * sender.sendMsg(peer, encodeMessage({ type: "ping", body: ping }));
 * ```
 */
export class PacketSender {
  private readonly core: Core;

  /** @param core the node context */
  constructor(core: Core) {
    this.core = core;
  }

  /** Bytes left for broadcasts in a packet whose own payload is `used` bytes. */
  budget(used: number): number {
    const c = this.core;
    return c.tuning.udpBufferSize - used - COMPOUND_HEADER_OVERHEAD -
      labelOverhead(c.security.label) - encryptOverhead(c.security);
  }

  /**
   * Sends one encoded message with whatever queued broadcasts fit beside it. No node is
   * passed, as in memberlist's sendMsg, so no CRC is added.
   */
  sendMsg(to: HostPort, msg: Uint8Array): void {
    const extra = this.core.queue.getBroadcasts(COMPOUND_OVERHEAD, this.budget(msg.length));
    this.sendParts(to, extra.length === 0 ? [msg] : [msg, ...extra]);
  }

  /**
   * Sends parts as one message or compound(s). `node` (the destination's record) enables
   * the CRC envelope when it speaks protocol 5.
   */
  sendParts(to: HostPort, parts: Uint8Array[], node?: NodeRecord): void {
    const c = this.core;
    if (c.isClosed() || parts.length === 0) return;
    let packets: Uint8Array[];
    try {
      packets = encodeCompound(parts);
    } catch (e) {
      c.logger.warn("cannot build compound", { error: errorText(e) });
      return;
    }
    const crc = node !== undefined && node.vsn[1] >= 5;
    for (const p of packets) {
      const kind = p[0] === 7 ? "compound" : (TYPE_NAMES[p[0]] ?? "unknown");
      if (isPlain(c.security)) this.sendPlain(to, p, crc, kind);
      else c.track(this.seal(to, p, crc, kind));
    }
    for (const part of parts) c.counters.messageOut(TYPE_NAMES[part[0]] ?? "unknown");
  }

  // Same turn, no promise: keeps simulated time exact.
  private sendPlain(to: HostPort, payload: Uint8Array, crc: boolean, kind: string): void {
    const c = this.core;
    try {
      const bytes = sealPlain(payload, { compress: c.compress, crc, ...c.security });
      c.transport.sendPacket(to, bytes);
      c.counters.packetOut(kind, bytes.length);
    } catch (e) {
      c.logger.warn("failed to send packet", { to: `${to.host}:${to.port}`, error: errorText(e) });
    }
  }

  private async seal(to: HostPort, payload: Uint8Array, crc: boolean, kind: string): Promise<void> {
    const c = this.core;
    try {
      const bytes = await sealPacket(payload, { compress: c.compress, crc, ...c.security });
      if (c.isClosed()) return;
      c.transport.sendPacket(to, bytes);
      c.counters.packetOut(kind, bytes.length);
    } catch (e) {
      c.logger.warn("failed to send packet", { to: `${to.host}:${to.port}`, error: errorText(e) });
    }
  }
}
