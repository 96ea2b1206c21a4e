/**
 * The frame every fuzz target shares: a named fast-check property with a run count, run by
 * `fc.check` so callers decide how to report, and the helpers that state "only this error
 * type may escape" and "this bound holds".
 *
 * @module
 */
import fc from "fast-check";
import type { Message } from "../memberlist/wire/messages.ts";

/** The outcome of one target's run. */
export interface FuzzRun {
  /** Target name. */
  readonly name: string;
  /** Cases tried. */
  readonly cases: number;
  /** Wall time of the run, ms (setup included). */
  readonly ms: number;
  /** True when a case broke the property. */
  readonly failed: boolean;
  /** Seed of the run (replays it with `path`). */
  readonly seed: number;
  /** fast-check's path to the shrunk counterexample. */
  readonly path: string | null;
  /** The shrunk counterexample, printed. */
  readonly counterexample: string | null;
  /** What the failing case threw. */
  readonly error: string | null;
}

/** A decoder under fuzz. */
export interface FuzzTarget {
  /** Short name, e.g. "memberlist/packet". */
  readonly name: string;
  /** Share of a bench run's cases (relative). */
  readonly weight: number;
  /** Cases in the unit test. */
  readonly testRuns: number;
  /** Runs the property `numRuns` times (optionally replaying a seed). */
  run(numRuns: number, seed?: number): Promise<FuzzRun>;
}

/** Builds a target from an arbitrary factory (may prepare pools) and a checker. */
export function defineTarget<T>(spec: {
  name: string;
  weight: number;
  testRuns: number;
  arb: () => fc.Arbitrary<T> | Promise<fc.Arbitrary<T>>;
  check: (value: T) => void | Promise<void>;
  async?: boolean;
}): FuzzTarget {
  return {
    name: spec.name,
    weight: spec.weight,
    testRuns: spec.testRuns,
    async run(numRuns: number, seed?: number): Promise<FuzzRun> {
      const t0 = performance.now();
      const arb = await spec.arb();
      const params = { numRuns, ...(seed === undefined ? {} : { seed }) };
      const details = spec.async
        ? await fc.check(
          fc.asyncProperty(arb, async (v) => {
            await spec.check(v);
          }),
          { ...params, timeout: 10_000 },
        )
        : fc.check(
          fc.property(arb, (v) => {
            spec.check(v);
          }),
          params,
        );
      return {
        name: spec.name,
        cases: details.numRuns,
        ms: performance.now() - t0,
        failed: details.failed,
        seed: details.seed,
        path: details.counterexamplePath,
        counterexample: details.counterexample === null
          ? null
          : fc.stringify(details.counterexample),
        error: details.errorInstance === null ? null : errorText(details.errorInstance),
      };
    },
  };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Runs `fn`; an exception of type `allowed` is the decoder refusing the input (returns
 * undefined), anything else fails the property with a clear message.
 */
export function only<R>(
  allowed: abstract new (...args: never[]) => Error,
  fn: () => R,
): R | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof allowed) return undefined;
    throw new Error(`escaped ${errorText(e)} (only ${allowed.name} is allowed)`);
  }
}

/** Async twin of {@link only}. */
export async function onlyAsync<R>(
  allowed: abstract new (...args: never[]) => Error,
  fn: () => Promise<R>,
): Promise<R | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof allowed) return undefined;
    throw new Error(`escaped ${errorText(e)} (only ${allowed.name} is allowed)`);
  }
}

/** Fails the property unless `cond` holds. */
export function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`property violated: ${what}`);
}

/** Bytes a decoded memberlist message holds (strings and byte fields). */
export function messageBytes(m: Message): number {
  if (m.type === "user") return m.body.length;
  let n = 0;
  for (const v of Object.values(m.body)) {
    if (v instanceof Uint8Array) n += v.length;
    else if (typeof v === "string") n += v.length;
  }
  return n;
}

/** Byte equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `buf` begins with `prefix`. */
export function startsWith(buf: Uint8Array, prefix: Uint8Array): boolean {
  return buf.length >= prefix.length && sameBytes(buf.subarray(0, prefix.length), prefix);
}

/**
 * True when `buf` begins with `sealed`, ignoring the byte at `skip`. memberlist's encryption
 * version byte is not covered by the AES-GCM tag (nor is it in Go): a receiver may read a
 * version 1 payload as version 0 (and strip "padding") or the reverse, so only the rest of
 * an envelope is authenticated.
 */
export function sealedPrefix(buf: Uint8Array, sealed: Uint8Array, skip: number): boolean {
  if (buf.length < sealed.length) return false;
  for (let i = 0; i < sealed.length; i++) if (i !== skip && buf[i] !== sealed[i]) return false;
  return true;
}
