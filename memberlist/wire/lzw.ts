/**
 * LZW exactly as Go's `compress/lzw` with LSB bit order and literal width 8 (GIF style),
 * which memberlist uses for its compress envelope: `[9] msgpack{Algo: 0, Buf: lzw(payload)}`.
 *
 * Codes are 9..12 bits wide; 256 is clear, 257 is end of data. The width grows when the next
 * code to assign reaches 2^width. The writer starts with a clear code and, when the next code
 * would be 4095, emits a clear and starts over. Output is identical to Go's, byte for byte.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { asMap, bytesField, intField } from "./fields.ts";
import { MessageType } from "./messages.ts";
import { decodeMsgpack, encodeMsgpack, type MsgpackValue } from "./msgpack.ts";

const CLEAR = 256;
const EOF = 257;
const MAX_CODE = 4095;
const MAX_WIDTH = 12;

/** Default cap on decompressed output (memberlist master's maxDecompressedBytes): 40 MiB. */
export const MAX_DECOMPRESSED_BYTES: number = 40 * 1024 * 1024;

/** The only compression algorithm memberlist knows. */
export const LZW_ALGO: number = 0;

// Scratch state shared by every call (calls never overlap: they are synchronous). The
// compressor's dictionary maps (code, next byte) to the code extending it through a small
// open-addressing hash table, as Go's writer does: 64 KiB stays in the CPU cache, where a
// direct table of every (code, byte) pair (2 MiB) missed it on almost every input byte.
const TABLE_SIZE = 4 << 12;
const TABLE_MASK = TABLE_SIZE - 1;
// entry: key << 12 | code, where key = prefix code << 8 | byte; 0 = empty (codes start at 258)
const dict = new Int32Array(TABLE_SIZE);
// The slots a dictionary cycle filled (at most 3,838): a reset clears just those. Clearing the
// whole table instead cost a 64 KiB memset per call, which for a 50-byte ping was nearly all
// of its compression.
const dictUsed = new Uint16Array(4096);
// For each code, the child followed last, as byte << 12 | child code (−1: none). Input like a
// push/pull body (thousands of states with the same keys) mostly continues a prefix the way it
// did the time before, and this 16 KiB array answers that from the L1 cache before the hash
// table is consulted: 3.0 ms instead of 3.9 ms for a 10,000-member body (bench/investigations/lzw_speed.ts).
// Emptied with the dictionary, a prefix with a child being the top 12 bits of a slot dictUsed
// lists. The loop that does so is written out twice, in the compression loop and after it: a
// function call inside the compression loop made it slower (3.3 against 3.05 ms).
const lastChild = new Int32Array(4096).fill(-1);
let scratch: Uint8Array = new Uint8Array(4096);

/**
 * Compresses like Go's `lzw.NewWriter(w, lzw.LSB, 8)` followed by `Close()`.
 *
 * @example
 * ```ts
 * const z = lzwCompress(new TextEncoder().encode("TOBEORNOTTOBEORTOBEORNOT"));
 * ```
 * @param data the input (may be empty)
 * @returns the compressed stream
 */
export function lzwCompress(data: Uint8Array): Uint8Array {
  const n = compressToScratch(data); // may replace `scratch` with a larger one
  return scratch.slice(0, n);
}

// Compresses into `scratch`; returns the length written.
function compressToScratch(data: Uint8Array): number {
  // 12-bit codes for every input byte, plus clears and the end code, is the worst case.
  const need = 16 + ((data.length * 3) >> 1) + ((data.length >> 10) + 2) * 4;
  if (scratch.length < need) scratch = new Uint8Array(need);
  const out = scratch;
  // Codes go out LSB first through `bits`. The bit writer is written out inline, not as a
  // closure: variables a closure shares live in memory, not registers, and this loop runs
  // once per input byte.
  let len = 0;
  let bits = CLEAR;
  let nBits = 9;
  let width = 9;
  if (data.length > 0) {
    const table = dict;
    const used = dictUsed;
    let nUsed = 0;
    let hi = EOF;
    let overflow = 512;
    let code = data[0];
    const end = data.length;
    const recent = lastChild;
    for (let i = 1; i < end; i++) {
      const lit = data[i];
      const r = recent[code];
      if (r >>> 12 === lit) {
        code = r & MAX_CODE;
        continue;
      }
      const key = (code << 8) | lit;
      let h = ((key >>> 12) ^ key) & TABLE_MASK;
      let t = table[h];
      while (t !== 0 && t >>> 12 !== key) {
        h = (h + 1) & TABLE_MASK;
        t = table[h];
      }
      if (t !== 0) {
        recent[code] = (lit << 12) | (t & MAX_CODE);
        code = t & MAX_CODE;
        continue;
      }
      bits |= code << nBits;
      nBits += width;
      while (nBits >= 8) {
        out[len++] = bits & 0xff;
        bits >>>= 8;
        nBits -= 8;
      }
      code = lit;
      // next code; at 4095 a clear starts a fresh dictionary
      hi++;
      if (hi === overflow) {
        width++;
        overflow <<= 1;
      }
      if (hi === MAX_CODE) {
        bits |= CLEAR << nBits;
        nBits += width;
        width = 9;
        hi = EOF;
        overflow = 512;
        for (let k = 0; k < nUsed; k++) {
          recent[table[used[k]] >>> 20] = -1;
          table[used[k]] = 0;
        }
        nUsed = 0;
      } else {
        table[h] = (key << 12) | hi;
        used[nUsed++] = h;
        recent[key >>> 8] = (lit << 12) | hi;
      }
    }
    // leave the dictionary empty for the next call
    for (let k = 0; k < nUsed; k++) {
      recent[table[used[k]] >>> 20] = -1;
      table[used[k]] = 0;
    }
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out[len++] = bits & 0xff;
      bits >>>= 8;
      nBits -= 8;
    }
    hi++;
    if (hi === overflow) width++;
    if (hi === MAX_CODE) {
      bits |= CLEAR << nBits;
      nBits += width;
      width = 9;
    }
  }
  // the end code (`bits` holds at most 7 + 12 bits before it: no overflow)
  while (nBits >= 8) {
    out[len++] = bits & 0xff;
    bits >>>= 8;
    nBits -= 8;
  }
  bits |= EOF << nBits;
  nBits += width;
  while (nBits > 0) {
    out[len++] = bits & 0xff;
    bits >>>= 8;
    nBits -= 8;
  }
  return len;
}

// Where each code's expansion was first written in the output, and its length: an entry is
// always its predecessor's expansion plus one byte, and that is exactly what the output holds
// from where the predecessor was written. Expanding a code is then one forward copy.
const dStart = new Int32Array(4096);
const dLens = new Uint16Array(4096);
// Output scratch of the decompressor (a push/pull of 10,000 members is about 700 KB).
const MAX_KEPT_SCRATCH = 4 << 20;
let dScratch: Uint8Array = new Uint8Array(4096);

/**
 * Decompresses a Go `compress/lzw` (LSB, 8) stream, with or without the leading clear code.
 *
 * @example
 * ```ts
 * const plain = lzwDecompress(lzwCompress(data), 1 << 20);
 * ```
 * @param data the compressed stream
 * @param maxOutput refuse to produce more than this many bytes (default 40 MiB)
 * @returns the decompressed bytes
 * @throws CodecError on an invalid code, a missing end code, or output above `maxOutput`
 */
export function lzwDecompress(
  data: Uint8Array,
  maxOutput: number = MAX_DECOMPRESSED_BYTES,
): Uint8Array {
  // Entries >= 258 are always written before they are read, so the tables can be reused.
  const starts = dStart;
  const lens = dLens;
  // Decodes into the shared scratch (grown as needed) and copies the result out once.
  let out = dScratch;
  let o = 0;
  let ip = 0;
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let hi = EOF;
  let overflow = 512;
  let last = -1;
  let lastStart = 0;
  let lastLen = 0;

  const reserve = (n: number): void => {
    if (o + n > maxOutput) {
      throw new CodecError(`decompressed data exceeds the limit of ${maxOutput} bytes`);
    }
    if (o + n <= out.length) return;
    let size = out.length * 2;
    while (size < o + n) size *= 2;
    const next = new Uint8Array(Math.min(size, maxOutput));
    next.set(out.subarray(0, o));
    out = next;
    if (next.length <= MAX_KEPT_SCRATCH) dScratch = next;
  };

  for (;;) {
    while (nBits < width) {
      if (ip >= data.length) throw new CodecError("lzw stream ends without an end code", true);
      bits |= data[ip++] << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;

    let n: number;
    if (code < CLEAR) {
      reserve(1);
      out[o] = code;
      n = 1;
    } else if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 512;
      last = -1;
      continue;
    } else if (code === EOF) {
      return out.slice(0, o);
    } else if (code < hi) {
      n = lens[code];
      reserve(n);
      const from = starts[code];
      if (n > 32) out.copyWithin(o, from, from + n);
      else for (let i = 0; i < n; i++) out[o + i] = out[from + i];
    } else if (code === hi && last !== -1) {
      // The KwKwK case: last's expansion followed by its own first byte.
      n = lastLen + 1;
      reserve(n);
      if (lastLen > 32) out.copyWithin(o, lastStart, lastStart + lastLen);
      else for (let i = 0; i < lastLen; i++) out[o + i] = out[lastStart + i];
      out[o + lastLen] = out[lastStart];
    } else {
      throw new CodecError(`invalid lzw code ${code}`);
    }
    if (last !== -1) {
      // last's expansion plus our first byte, which the output holds from lastStart on
      starts[hi] = lastStart;
      lens[hi] = lastLen + 1;
    }
    last = code;
    lastStart = o;
    lastLen = n;
    o += n;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        // Table full: stop adding entries until the writer sends a clear.
        last = -1;
        hi--;
      } else {
        width++;
        overflow <<= 1;
      }
    }
  }
}

/**
 * Wraps a payload in memberlist's compress envelope: `[9] msgpack{Algo: 0, Buf: lzw(buf)}`.
 *
 * @example
 * ```ts
 * const wrapped = compressMessage(encodeMessage(msg));
 * ```
 * @param buf the payload (a whole message or compound)
 * @returns the envelope including the type byte
 */
export function compressMessage(buf: Uint8Array): Uint8Array {
  const n = compressToScratch(buf);
  const z = scratch.subarray(0, n);
  // What encodeMsgpack({ Algo: 0, Buf: z }) writes, without building the map.
  const rawHeader = n < 32 ? 1 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(1 + ENVELOPE_HEAD.length + rawHeader + n);
  out[0] = MessageType.compress;
  out.set(ENVELOPE_HEAD, 1);
  let o = 1 + ENVELOPE_HEAD.length;
  if (n < 32) out[o++] = 0xa0 | n;
  else if (n < 0x10000) {
    out[o++] = 0xda;
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  } else {
    out[o++] = 0xdb;
    out[o++] = n >>> 24;
    out[o++] = (n >> 16) & 0xff;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  out.set(z, o);
  return out;
}

// fixmap(2), "Algo", 0, "Buf" — the raw header of Buf follows
const ENVELOPE_HEAD: Uint8Array = encodeMsgpack({ Algo: LZW_ALGO, Buf: new Uint8Array(0) })
  .subarray(0, -1);

/**
 * Opens a compress envelope.
 *
 * @example
 * ```ts
 * const payload = decompressMessage(packet.subarray(1));
 * ```
 * @param body the bytes after the leading 9
 * @param maxOutput cap on the decompressed size (default 40 MiB)
 * @returns the decompressed payload (never empty)
 * @throws CodecError on malformed input, an unknown algorithm or an empty result
 */
export function decompressMessage(
  body: Uint8Array,
  maxOutput: number = MAX_DECOMPRESSED_BYTES,
): Uint8Array {
  return decompressEnvelope(decodeMsgpack(body, 0, true).value, maxOutput);
}

/**
 * Opens an already decoded compress struct `{Algo, Buf}` (the stream reader's path).
 *
 * @example
 * ```ts
 * const payload = decompressEnvelope(await reader.readMsgpack());
 * ```
 * @param value the decoded msgpack map
 * @param maxOutput cap on the decompressed size (default 40 MiB)
 * @returns the decompressed payload (never empty)
 * @throws CodecError on malformed input, an unknown algorithm or an empty result
 */
export function decompressEnvelope(
  value: MsgpackValue,
  maxOutput: number = MAX_DECOMPRESSED_BYTES,
): Uint8Array {
  const m = asMap(value, "compress");
  const algo = intField(m, "Algo", -0x80000000, 0x7fffffff);
  if (algo !== LZW_ALGO) throw new CodecError(`unknown compression algorithm ${algo}`);
  const plain = lzwDecompress(bytesField(m, "Buf") ?? new Uint8Array(0), maxOutput);
  if (plain.length === 0) throw new CodecError("decompressed message is empty");
  return plain;
}
