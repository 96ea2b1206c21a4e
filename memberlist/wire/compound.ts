/**
 * Compound messages: several messages in one UDP packet,
 * `[7][count u8][count × u16 BE lengths][parts…]`.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { MessageType } from "./messages.ts";

/**
 * Most parts per compound we send. The wire allows 255, but v0.2.2 mis-parses 128 or more
 * (it computes `count*2` in uint8), so we stay at 127.
 */
export const MAX_COMPOUND_PARTS: number = 127;

/** Largest part a compound can describe (u16 length). */
export const MAX_COMPOUND_PART_BYTES: number = 0xffff;

function buildCompound(parts: Uint8Array[]): Uint8Array {
  let total = 2 + parts.length * 2;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  out[0] = MessageType.compound;
  out[1] = parts.length;
  let off = 2;
  for (const p of parts) {
    out[off] = p.length >> 8;
    out[off + 1] = p.length & 0xff;
    off += 2;
  }
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Packs messages into compounds of at most {@link MAX_COMPOUND_PARTS} parts. A single message
 * is returned as is (no wrapper); no messages give an empty list.
 *
 * @example
 * ```ts
 * const [packet] = encodeCompound([encodeMessage(ping), encodeMessage(suspect)]);
 * ```
 * @param parts encoded messages (each at most 65,535 bytes)
 * @returns one or more packets
 * @throws CodecError when a part is too long for the u16 length table
 */
export function encodeCompound(parts: Uint8Array[]): Uint8Array[] {
  for (const p of parts) {
    if (p.length > MAX_COMPOUND_PART_BYTES) {
      throw new CodecError(`compound part of ${p.length} bytes exceeds ${MAX_COMPOUND_PART_BYTES}`);
    }
  }
  if (parts.length === 0) return [];
  if (parts.length === 1) return [parts[0]];
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i += MAX_COMPOUND_PARTS) {
    const chunk = parts.slice(i, i + MAX_COMPOUND_PARTS);
    out.push(chunk.length === 1 ? chunk[0] : buildCompound(chunk));
  }
  return out;
}

/**
 * Splits a compound body (the bytes after the leading 7). Parts that the buffer is too short
 * for are not returned but counted in `truncated`; the complete ones before them are.
 * Trailing bytes after the last part are ignored.
 *
 * @example
 * ```ts
 * const { parts, truncated } = decodeCompound(packet.subarray(1));
 * ```
 * @param buf the compound body
 * @returns complete parts (views into `buf`) and the number of missing parts
 * @throws CodecError when the count or the length table itself is cut off
 */
export function decodeCompound(buf: Uint8Array): { parts: Uint8Array[]; truncated: number } {
  if (buf.length < 1) throw new CodecError("missing compound length byte", true, 1);
  const count = buf[0];
  const tableEnd = 1 + count * 2;
  if (buf.length < tableEnd) {
    throw new CodecError("truncated compound length table", true, tableEnd);
  }
  const parts: Uint8Array[] = [];
  let off = tableEnd;
  for (let i = 0; i < count; i++) {
    const len = (buf[1 + i * 2] << 8) | buf[2 + i * 2];
    if (buf.length < off + len) return { parts, truncated: count - i };
    parts.push(buf.subarray(off, off + len));
    off += len;
  }
  return { parts, truncated: 0 };
}
