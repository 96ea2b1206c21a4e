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

/** LSB-first bit packer. */
class BitWriter {
  out: Uint8Array;
  len = 0;
  bits = 0;
  nBits = 0;

  constructor(capacity: number) {
    this.out = new Uint8Array(capacity);
  }

  write(code: number, width: number): void {
    this.bits |= code << this.nBits;
    this.nBits += width;
    while (this.nBits >= 8) {
      this.push(this.bits & 0xff);
      this.bits >>>= 8;
      this.nBits -= 8;
    }
  }

  push(b: number): void {
    if (this.len === this.out.length) {
      const next = new Uint8Array(this.out.length * 2);
      next.set(this.out);
      this.out = next;
    }
    this.out[this.len++] = b;
  }

  finish(): Uint8Array {
    if (this.nBits > 0) this.push(this.bits & 0xff);
    return this.out.slice(0, this.len);
  }
}

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
  const w = new BitWriter(Math.max(16, (data.length * 3) >> 1));
  w.write(CLEAR, 9);
  if (data.length === 0) {
    w.write(EOF, 9);
    return w.finish();
  }
  // (prefix code << 8 | next byte) -> assigned code
  const table = new Map<number, number>();
  let width = 9;
  let hi = EOF;
  let overflow = 512;
  // Advances the next code; at 4095 emits a clear and resets. Returns false after a reset.
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      w.write(CLEAR, width);
      width = 9;
      hi = EOF;
      overflow = 512;
      table.clear();
      return false;
    }
    return true;
  };
  let code = data[0];
  for (let i = 1; i < data.length; i++) {
    const lit = data[i];
    const key = (code << 8) | lit;
    const hit = table.get(key);
    if (hit !== undefined) {
      code = hit;
      continue;
    }
    w.write(code, width);
    code = lit;
    if (incHi()) table.set(key, hi);
  }
  w.write(code, width);
  incHi();
  w.write(EOF, width);
  return w.finish();
}

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
  const prefix = new Uint16Array(4096);
  const suffix = new Uint8Array(4096);
  const lens = new Uint16Array(4096).fill(1, 0, 256);
  let out = new Uint8Array(Math.max(64, Math.min(maxOutput, data.length * 4)));
  let o = 0;
  let ip = 0;
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let hi = EOF;
  let overflow = 512;
  let last = -1;

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

    if (code < CLEAR) {
      reserve(1);
      out[o] = code;
      if (last !== -1) {
        suffix[hi] = code;
        prefix[hi] = last;
        lens[hi] = lens[last] + 1;
      }
      o += 1;
    } else if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 512;
      last = -1;
      continue;
    } else if (code === EOF) {
      return out.slice(0, o);
    } else if (code < hi || (code === hi && last !== -1)) {
      // code === hi is the KwKwK case: last's expansion followed by its own first byte.
      const src = code === hi ? last : code;
      const n = code === hi ? lens[last] + 1 : lens[code];
      reserve(n);
      let i = o + lens[src] - 1;
      let c = src;
      while (c > EOF) {
        out[i--] = suffix[c];
        c = prefix[c];
      }
      out[i] = c;
      if (code === hi) out[o + n - 1] = c;
      if (last !== -1) {
        suffix[hi] = c;
        prefix[hi] = last;
        lens[hi] = lens[last] + 1;
      }
      o += n;
    } else {
      throw new CodecError(`invalid lzw code ${code}`);
    }
    last = code;
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
  const body = encodeMsgpack({ Algo: LZW_ALGO, Buf: lzwCompress(buf) });
  const out = new Uint8Array(body.length + 1);
  out[0] = MessageType.compress;
  out.set(body, 1);
  return out;
}

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
  return decompressEnvelope(decodeMsgpack(body).value, maxOutput);
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
