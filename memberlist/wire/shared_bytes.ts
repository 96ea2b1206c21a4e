/**
 * One shared array per distinct short byte string. Addresses and version vectors repeat in
 * every push/pull state about a member, and in every member table of a process: decoding and
 * keeping them as one array each saves memory, and lets equal values compare by identity
 * before byte by byte.
 *
 * Shared arrays are read-only by contract; nobody may modify one.
 *
 * @module
 */

/** Longest byte string {@link sharedBytes} shares. */
export const MAX_SHARED_LENGTH = 16;

// hash of the bytes -> the array; a colliding value replaces the older one (still correct:
// callers compare bytes when identities differ).
const bytesCache = new Map<number, Uint8Array>();
const MAX_CACHED_BYTES = 1 << 16;

/**
 * `buf[start, start + n)` as a shared read-only array: equal byte strings of up to
 * {@link MAX_SHARED_LENGTH} bytes usually come back as the same array (longer ones, and
 * values arriving once the cache is full, as copies).
 *
 * @example
 * ```ts
 * const a = sharedBytes(Uint8Array.of(10, 0, 0, 1), 0, 4);
 * a === sharedBytes(Uint8Array.of(9, 10, 0, 0, 1), 1, 4); // true
 * ```
 * @param buf the input
 * @param start first byte
 * @param n number of bytes
 * @returns a shared array, or a copy
 */
export function sharedBytes(buf: Uint8Array, start: number, n: number): Uint8Array {
  if (n > MAX_SHARED_LENGTH) return buf.slice(start, start + n);
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + buf[start + i]) | 0;
  const hit = bytesCache.get(h);
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit[i] === buf[start + i]) i++;
    if (i === n) return hit;
  }
  const copy = buf.slice(start, start + n);
  if (hit !== undefined || bytesCache.size < MAX_CACHED_BYTES) bytesCache.set(h, copy);
  return copy;
}
