/**
 * The one error type of the memberlist wire codec.
 *
 * Every decoder in this folder throws {@link CodecError} and nothing else for bad input, so a
 * receive path can catch it, count the packet as malformed and drop it.
 *
 * @module
 */
import { ClusterError } from "../../errors/mod.ts";

/**
 * Malformed, truncated, oversized or unauthenticated wire data.
 *
 * @example
 * ```ts
 * try {
 *   decodeMessage(bytes);
 * } catch (e) {
 *   if (e instanceof CodecError) dropped++;
 *   else throw e;
 * }
 * ```
 */
export class CodecError extends ClusterError<"truncated" | "malformed"> {
  /** True when the input ended early: more bytes might make it valid. */
  readonly truncated: boolean;
  /**
   * When truncated: the smallest total input length (from the start of the buffer being
   * decoded) that could let decoding progress; 0 when unknown. Lets a stream reader wait for
   * enough bytes instead of retrying after every chunk.
   */
  readonly needed: number;

  /**
   * Creates a codec error.
   * @param message what is wrong
   * @param truncated whether the input ended early
   * @param needed minimal input length that could let decoding progress (0 = unknown)
   */
  constructor(message: string, truncated = false, needed = 0) {
    super(truncated ? "truncated" : "malformed", message);
    this.truncated = truncated;
    this.needed = needed;
  }
}
