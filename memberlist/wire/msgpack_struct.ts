/**
 * Decoding msgpack maps of known fields (Go structs) without building an object per map: the
 * push/pull path decodes 10,000 node states per exchange this way.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import {
  Cursor,
  type MsgpackValue,
  need,
  readKey,
  readMapKey,
  readValue,
} from "./msgpack_decode.ts";
import { MAX_SHARED_LENGTH, sharedBytes } from "./shared_bytes.ts";

/**
 * Decodes one msgpack map into `out` without building an object: `out[i]` becomes the value
 * of the key `keys[i]`, undefined when absent; other keys are read and skipped, and a repeated
 * key's last value wins (Go's rules). For structs decoded by the thousand (push/pull states).
 *
 * @example
 * ```ts
 * const out: (MsgpackValue | undefined)[] = [];
 * const fields = new StructFields(["Name", "Port"], [true, false]);
 * const next = decodeMsgpackStruct(bytes, 0, bytes.length, false, fields, out);
 * ```
 * @param bytes the input
 * @param offset where the map starts
 * @param end where the input ends
 * @param views str/bin payloads as views into `bytes` (see {@link decodeMsgpack})
 * @param fields the field names wanted, in the order of `out`, and which are text
 * @param out receives the values (its length is set to the number of fields)
 * @returns the offset just after the map
 * @throws CodecError when the item is not a map, on malformed input, or (`truncated: true`)
 *   when more bytes are needed
 */
export function decodeMsgpackStruct(
  bytes: Uint8Array,
  offset: number,
  end: number,
  views: boolean,
  fields: StructFields,
  out: (MsgpackValue | undefined)[],
): number {
  const { keys, texts, shared } = fields;
  const c = new Cursor(bytes, offset, end, views);
  need(c, 1);
  const b = c.buf[c.pos++];
  let n: number;
  if (b >= 0x80 && b <= 0x8f) n = b & 0x0f;
  else if (b === 0xde) {
    need(c, 2);
    n = c.u16();
  } else if (b === 0xdf) {
    need(c, 4);
    n = c.u32();
  } else throw new CodecError("expected a msgpack map");
  need(c, n * 2);
  out.length = keys.length;
  out.fill(undefined);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    need(c, 1);
    const kb = c.buf[c.pos];
    let at: number;
    if (kb >= 0xa0 && kb <= 0xbf) {
      // A fixstr key (what Go writes): match its bytes, no string made.
      const len = kb & 0x1f;
      need(c, 1 + len);
      at = fields.match(c.buf, c.pos + 1, len, prev);
      c.pos += 1 + len;
    } else at = keys.indexOf(readMapKey(c, 1));
    prev = at;
    if (at < 0) readValue(c, 1);
    else if (texts[at]) out[at] = readTextOrValue(c);
    else if (views && shared[at]) out[at] = readSharedOrValue(c);
    else out[at] = readValue(c, 1);
  }
  return c.pos;
}

// A str/bin item as text (no bytes object in between); any other item as readValue reads it.
function readTextOrValue(c: Cursor): MsgpackValue {
  need(c, 1);
  const b = c.buf[c.pos];
  let n: number;
  if (b >= 0xa0 && b <= 0xbf) {
    c.pos++;
    n = b & 0x1f;
  } else if (b === 0xd9 || b === 0xc4) {
    need(c, 2);
    c.pos++;
    n = c.buf[c.pos++];
  } else if (b === 0xda || b === 0xc5) {
    need(c, 3);
    c.pos++;
    n = c.u16();
  } else return readValue(c, 1);
  return readKey(c, n);
}

// A short str/bin item as a shared array (see sharedBytes); any other item as readValue reads it.
function readSharedOrValue(c: Cursor): MsgpackValue {
  need(c, 1);
  const b = c.buf[c.pos];
  let n: number;
  let head: number;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
    head = 1;
  } else if (b === 0xc4 || b === 0xd9) {
    need(c, 2);
    n = c.buf[c.pos + 1];
    head = 2;
  } else return readValue(c, 1);
  if (n > MAX_SHARED_LENGTH) return readValue(c, 1);
  need(c, head + n);
  const out = sharedBytes(c.buf, c.pos + head, n);
  c.pos += head + n;
  return out;
}

function sameKey(k: Uint8Array, buf: Uint8Array, start: number, n: number): boolean {
  if (k.length !== n) return false;
  let j = 0;
  while (j < n && k[j] === buf[start + j]) j++;
  return j === n;
}

/**
 * The fields {@link decodeMsgpackStruct} looks for: their names, and which of them are text
 * (str/bin payloads decoded as strings, like map keys). Keys are matched by their bytes.
 *
 * @example
 * ```ts
 * const fields = new StructFields(["Name", "Port"], [true, false]);
 * ```
 */
export class StructFields {
  /** Field names, in the order of the output. */
  readonly keys: readonly string[];
  /** `texts[i]`: field i is text. */
  readonly texts: readonly boolean[];
  /**
   * `shared[i]`: field i is a short byte string that repeats across messages (an address):
   * decoded in views mode, equal values come back as one shared read-only array.
   */
  readonly shared: readonly boolean[];
  readonly #raw: readonly Uint8Array[];
  // #next[prev + 1]: the field that followed field `prev` (−1: the map's start) last time.
  // Senders write a struct's keys in one order, so after the first map each key is found
  // with one comparison.
  readonly #next: Int8Array;

  /**
   * @param keys field names, in the order of the output
   * @param texts which fields are text (default: none)
   * @param shared which fields are short repeating byte strings (default: none)
   */
  constructor(
    keys: readonly string[],
    texts: readonly boolean[] = [],
    shared: readonly boolean[] = [],
  ) {
    this.keys = keys;
    this.texts = keys.map((_, i) => texts[i] === true);
    this.shared = keys.map((_, i) => shared[i] === true);
    this.#raw = keys.map((k) => new TextEncoder().encode(k));
    this.#next = new Int8Array(keys.length + 1).fill(-1);
  }

  /**
   * Index of the field whose name is `buf[start, start + n)`, or −1. `prev` is the field of
   * the key before it in the same map (−1 for the first key, or after an unknown one).
   */
  match(buf: Uint8Array, start: number, n: number, prev = -1): number {
    const raw = this.#raw;
    const guess = this.#next[prev + 1];
    if (guess >= 0 && sameKey(raw[guess], buf, start, n)) return guess;
    for (let i = 0; i < raw.length; i++) {
      if (sameKey(raw[i], buf, start, n)) {
        this.#next[prev + 1] = i;
        return i;
      }
    }
    return -1;
  }
}
