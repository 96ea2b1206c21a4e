/**
 * What the member table (state.ts) needs from its owner: time, timings, randomness, and the
 * ways out (broadcasts, events, warnings, direct sends, verification pings). A test gives it a
 * fake; the memberlist gives it the real node.
 *
 * @module
 */
import type { Clock } from "../transport/mod.ts";
import type { Awareness } from "./awareness.ts";
import type { NodeRecord } from "./member.ts";
import type { Message } from "./wire/mod.ts";
import type { MemberlistTuning } from "./config.ts";

/** What the table needs from its owner. */
export interface StateEnv {
  /** Time and timers. */
  readonly clock: Clock;
  /** Our own name. */
  readonly name: string;
  /** Timings. */
  readonly tuning: MemberlistTuning;
  /** Local health (refutations raise it). */
  readonly awareness: Awareness;
  /** Uniform [0, 1). */
  random(): number;
  /** Encodes and queues a named broadcast about `node`. */
  broadcast(node: string, msg: Message, onFinished?: () => void): void;
  /** A state transition to report. */
  emit(event: "join" | "update" | "suspect" | "dead" | "left", rec: NodeRecord): void;
  /** Warning sink. */
  warn(msg: string, data?: object): void;
  /** An alive claims a known name from another address (memberlist's NotifyConflict). */
  onConflict?(existing: NodeRecord, theirs: { host: string; port: number }): void;
  /** Called after every refutation (for counters). */
  onRefute?(): void;
  /** Called when a suspicion timed out with fewer confirmations than wanted. */
  onDegradedTimeout?(): void;
  /**
   * Sends a message straight to a member's address: an accusation to a member announcing a
   * stale alive, or our current alive to a member accusing us (see accusation.ts).
   */
  sendDirect?(addr: Uint8Array, port: number, msg: Message): void;
  /** Pings `node`; an alive reviving a dead or reaped member is believed only if it answers. */
  verify?(addr: Uint8Array, port: number, node: string, done: (ok: boolean) => void): void;
}
