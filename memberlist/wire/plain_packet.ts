/**
 * Synchronous twin of packet.ts for traffic without encryption: the same layering (LZW only
 * when smaller, CRC, label header; and back), minus the WebCrypto step that forces
 * packet.ts to be async.
 *
 * Why: a packet handled in the same turn it arrives keeps virtual-clock simulations exact
 * (no promise continuation drifting past later timers) and saves a promise per packet.
 * Encrypted traffic still goes through packet.ts.
 *
 * @module
 */
import { decodeCompound } from "./compound.ts";
import { addCrc, stripCrc } from "./crc.ts";
import { CodecError } from "./errors.ts";
import { labelHeader, removeLabelHeader } from "./label.ts";
import { compressMessage, decompressMessage, MAX_DECOMPRESSED_BYTES } from "./lzw.ts";
import { decodeMessage, MessageType } from "./messages.ts";
import type { OpenedPacket, PacketSecurity, SealOptions } from "./packet.ts";

/** True when {@link sealPlain} / {@link openPlain} can handle this configuration. */
export function isPlain(sec: PacketSecurity): boolean {
  return sec.keyring === undefined;
}

/**
 * {@link sealPacket} without encryption.
 *
 * @example
 * ```ts
 * const bytes = sealPlain(payload, { compress: true, crc: false, verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1 });
 * ```
 */
export function sealPlain(payload: Uint8Array, opts: SealOptions): Uint8Array {
  let buf = payload;
  if (opts.compress) {
    const c = compressMessage(buf);
    if (c.length < buf.length) buf = c;
  }
  if (opts.crc) buf = addCrc(buf);
  const header = labelHeader(opts.label);
  if (header.length === 0) return buf;
  const out = new Uint8Array(header.length + buf.length);
  out.set(header);
  out.set(buf, header.length);
  return out;
}

const MAX_DEPTH = 4;

function expand(buf: Uint8Array, depth: number, out: OpenedPacket, budget: { left: number }): void {
  if (buf.length === 0) throw new CodecError("empty message");
  const t = buf[0];
  if ((t === MessageType.compound || t === MessageType.compress) && depth >= MAX_DEPTH) {
    throw new CodecError("envelopes nested too deeply");
  }
  if (t === MessageType.compound) {
    const { parts, truncated } = decodeCompound(buf.subarray(1));
    out.truncated += truncated;
    for (const part of parts) {
      try {
        expand(part, depth + 1, out, budget);
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        out.malformed++;
      }
    }
  } else if (t === MessageType.compress) {
    const plain = decompressMessage(buf.subarray(1), budget.left);
    budget.left -= plain.length;
    expand(plain, depth + 1, out, budget);
  } else {
    out.messages.push(decodeMessage(buf));
  }
}

/**
 * {@link openPacket} without decryption.
 *
 * @example
 * ```ts
 * const { messages } = openPlain(bytes, { label: "", verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1 });
 * ```
 * @throws CodecError for a wrong label, a bad CRC or a malformed message
 */
export function openPlain(bytes: Uint8Array, sec: PacketSecurity): OpenedPacket {
  const { label, rest } = removeLabelHeader(bytes);
  if (label !== (sec.label ?? "")) throw new CodecError(`unexpected packet label "${label}"`);
  let buf = rest;
  if (buf.length >= 5 && buf[0] === MessageType.crc) buf = stripCrc(buf);
  const out: OpenedPacket = { messages: [], malformed: 0, truncated: 0 };
  expand(buf, 0, out, { left: MAX_DECOMPRESSED_BYTES });
  return out;
}
