/**
 * The log benchmark's values: 100-byte JSON documents that start with their send time, so
 * receivers measure append-to-visible latency without any coordination.
 *
 * @module
 */
const encoder = new TextEncoder();
const templates = new Map<string, Uint8Array>();
const TEMPLATE =
  '{"t":0000000000000.000,"i":"000000000000","user":"user-000","node":%,"action":"view"}';
// where the fixed-width fields end (their last digit)
const T_END = TEMPLATE.indexOf(".") - 1; // 13 digits of epoch ms
const FRAC_END = T_END + 4; // 3 decimals
const I_END = TEMPLATE.indexOf('","user"') - 1; // 12 digits, a string: no leading-zero numbers
const USER_END = TEMPLATE.indexOf('","node"') - 1; // 3 digits

/** Milliseconds since the Unix epoch, sub-millisecond resolution. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

// values are carved from slabs: an ArrayBuffer per value costs more than the whole append
let slab = new Uint8Array(0);
let slabAt = 0;
function carve(n: number): Uint8Array {
  if (slabAt + n > slab.length) {
    slab = new Uint8Array(64 * 1024);
    slabAt = 0;
  }
  slabAt += n;
  return slab.subarray(slabAt - n, slabAt);
}

function digits(v: Uint8Array, end: number, width: number, n: number): void {
  for (let at = end, left = width; left > 0; at--, left--, n = Math.floor(n / 10)) {
    v[at] = 48 + (n % 10);
  }
}

/**
 * A 100-byte JSON value stamped now:
 * `{"t":1732467012345.678,"i":"000000000042","user":"user-042","node":"a","action":"view"}`.
 * Built by patching a template into a slab: the throughput phases append as fast as they
 * can, and a JSON.stringify and an ArrayBuffer per value would cost more than the append
 * being measured.
 */
export function timedValue(node: string, i: number): Uint8Array {
  let t = templates.get(node);
  if (t === undefined) {
    t = encoder.encode(TEMPLATE.replace("%", JSON.stringify(node)).padEnd(100, " "));
    templates.set(node, t);
  }
  const v = carve(t.length);
  v.set(t);
  const now = epochNow();
  const ms = Math.floor(now);
  digits(v, T_END, 13, ms);
  digits(v, FRAC_END, 3, Math.floor((now - ms) * 1000));
  digits(v, I_END, 12, i);
  digits(v, USER_END, 3, i % 997);
  return v;
}

/**
 * The send time of a {@link timedValue}, read straight from the bytes (NaN for any other
 * value): a JSON.parse per entry would make garbage whose collection would show in the
 * latencies being measured.
 */
export function sentAt(v: Uint8Array): number {
  // {"t":
  if (v[0] !== 123 || v[1] !== 34 || v[2] !== 116 || v[3] !== 34 || v[4] !== 58) return NaN;
  let int = 0;
  let frac = 0;
  let scale = 1;
  let dot = false;
  for (let i = 5; i < v.length; i++) {
    const c = v[i];
    if (c === 46) dot = true;
    else if (c >= 48 && c <= 57) {
      if (dot) frac += (c - 48) / (scale *= 10);
      else int = int * 10 + (c - 48);
    } else break;
  }
  return int + frac;
}
