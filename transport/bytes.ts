/**
 * Joining byte chunks, as every stream reader and frame writer above the transport needs.
 *
 * @module
 */

/**
 * The chunks laid end to end in one new array.
 *
 * @example
 * ```ts
 * concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)]); // Uint8Array [1, 2, 3]
 * ```
 * @param parts the chunks, in order
 * @param total their summed length, when the caller knows it already
 */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (total === undefined) {
    total = 0;
    for (const p of parts) total += p.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
