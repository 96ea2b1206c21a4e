/**
 * IP addresses as memberlist carries them: raw `net.IP` bytes (4 for IPv4, 16 for IPv6 or
 * IPv4-mapped IPv6).
 *
 * @module
 */
import { CodecError } from "./errors.ts";

function parseV4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return null;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/**
 * Converts an IP literal to the bytes memberlist sends: 4 bytes for IPv4, 16 for IPv6.
 *
 * @example
 * ```ts
 * ipToBytes("127.0.0.1"); // Uint8Array [127, 0, 0, 1]
 * ipToBytes("::1").length; // 16
 * ```
 * @param host an IPv4 or IPv6 literal (brackets and a zone suffix are tolerated)
 * @returns the raw address bytes
 * @throws CodecError when the text is not an IP literal
 */
export function ipToBytes(host: string): Uint8Array {
  let s = host.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const v4 = parseV4(s);
  if (v4 !== null) return new Uint8Array(v4);
  const v6 = s.includes(":") ? parseV6(s) : null;
  if (v6 === null) throw new CodecError(`not an IP address: "${host}"`);
  return v6;
}

/**
 * Formats raw address bytes. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) comes back as IPv4, and
 * IPv6 in the RFC 5952 short form.
 *
 * @example
 * ```ts
 * bytesToIp(new Uint8Array([10, 0, 0, 1])); // "10.0.0.1"
 * ```
 * @param b 4 or 16 bytes
 * @returns the textual address
 * @throws CodecError for any other length
 */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new CodecError(`IP address must be 4 or 16 bytes, got ${b.length}`);
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2] << 8) | b[i * 2 + 1]);
  // Longest run (>= 2) of zero groups becomes "::"; the first one wins ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}
