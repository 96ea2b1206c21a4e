/**
 * An async-iterable view of a discovery, for programs that want the peer addresses rather
 * than joins (a CLI listing who is out there, a custom membership layer).
 *
 * @module
 */
import { formatHostPort } from "../transport/mod.ts";
import type { Clock, HostPort } from "../transport/mod.ts";
import type { Discovery, DiscoveryLogger } from "./types.ts";
import { systemClock } from "../transport/mod.ts";

/** What {@link discoverPeers} needs besides the discovery. */
export interface DiscoverPeersOptions {
  /** This node's advertised address (never yielded). */
  readonly self: HostPort;
  /** This node's name (announced by some discoveries). */
  readonly nodeName: string;
  /** Ends the iteration and closes the discovery when aborted. */
  readonly signal?: AbortSignal;
  /** Default: real timers. */
  readonly clock?: Clock;
  /** Default: silent. */
  readonly logger?: DiscoveryLogger;
  /**
   * Addresses the discovery should consider present (not worth yielding again).
   * Default: every address yielded so far.
   */
  readonly knownMembers?: () => HostPort[];
}

const silent: DiscoveryLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Starts `discovery` and yields batches of newly found peer addresses as they appear; every
 * address handed to `join` counts as answered. Leaving the loop (or aborting `signal`)
 * closes the discovery. Batches waiting for the consumer are merged, so a slow consumer
 * costs memory proportional to the distinct peers, not to the messages.
 *
 * @example
 * ```ts
 * const discovery = natsDiscovery({ url: "nats://127.0.0.1:4222" });
 * for await (const peers of discoverPeers(discovery, { self, nodeName: "probe" })) {
 *   console.log(peers.map(formatHostPort));
 *   break; // closes the discovery
 * }
 * ```
 */
export async function* discoverPeers(
  discovery: Discovery,
  options: DiscoverPeersOptions,
): AsyncGenerator<HostPort[], void, undefined> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const seen: Map<string, HostPort> = new Map();
  let waiting: Map<string, HostPort> = new Map();
  let wake: (() => void) | undefined;
  stop.signal.addEventListener("abort", () => wake?.(), { once: true });
  const self = formatHostPort(options.self);
  try {
    await discovery.start({
      self: options.self,
      nodeName: options.nodeName,
      signal: stop.signal,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silent,
      knownMembers: options.knownMembers ?? (() => [options.self, ...seen.values()]),
      join: (addresses) => {
        for (const a of addresses) {
          const key = formatHostPort(a);
          if (key === self) continue;
          seen.set(key, a);
          waiting.set(key, a);
        }
        wake?.();
        return Promise.resolve(addresses.length);
      },
    });
    while (!stop.signal.aborted) {
      if (waiting.size === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const batch = [...waiting.values()];
      waiting = new Map();
      yield batch;
    }
  } finally {
    stop.abort();
    options.signal?.removeEventListener("abort", onAbort);
    await discovery.close();
  }
}
