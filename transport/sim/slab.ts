/**
 * Cheap copies of small byte arrays: views into shared 256 KiB slabs instead of one
 * `ArrayBuffer` per copy (an `ArrayBuffer` allocation costs ~10× a view over a slab).
 *
 * @module
 */

const SLAB_SIZE = 256 << 10;
/** Copies larger than this get their own buffer (they would waste slab space). */
const MAX_SLAB_COPY = 16 << 10;

/** Hands out copies as views into large shared buffers. */
export class ByteSlab {
  #slab: ArrayBuffer = new ArrayBuffer(SLAB_SIZE);
  #offset = 0;

  /** A copy of `bytes` that the caller may keep (a slab stays alive while any view does). */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.byteLength;
    if (n > MAX_SLAB_COPY) return bytes.slice();
    if (this.#offset + n > SLAB_SIZE) {
      this.#slab = new ArrayBuffer(SLAB_SIZE);
      this.#offset = 0;
    }
    const view = new Uint8Array(this.#slab, this.#offset, n);
    view.set(bytes);
    this.#offset += n;
    return view;
  }
}
