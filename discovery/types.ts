/**
 * The discovery SPI: what a discovery plugin receives from the node and what it must do.
 *
 * A discovery finds peers through some medium (a static list, NATS, DNS, a cloud API...) and
 * asks the node to join them through {@link DiscoveryContext.join}. It never touches
 * memberlist itself: the root module passes a context whose `join` and `knownMembers` are
 * backed by memberlist, and tests pass a fake one.
 *
 * @module
 */
import type { Clock, HostPort } from "../transport/mod.ts";

/**
 * Where a discovery writes what it is doing. Status changes of the medium (lost, back,
 * unreachable at start) are `warn`/`info`; routine chatter is `debug`.
 */
export interface DiscoveryLogger {
  /** Routine detail (every announcement, every retry). */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Notable but healthy events (connected, joined N peers). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Degraded but still running (medium unreachable, retrying). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed that the discovery cannot fix by itself. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What the node hands to {@link Discovery.start}.
 *
 * Contract for the node side: `join` never throws (a failure is counted as 0 answers) and may
 * be called concurrently; `knownMembers` is cheap and synchronous.
 */
export interface DiscoveryContext {
  /** This node's advertised memberlist address: what peers must dial to reach it. */
  readonly self: HostPort;
  /** This node's memberlist name. */
  readonly nodeName: string;
  /** Aborted when the node shuts down; a discovery treats it like {@link Discovery.close}. */
  readonly signal: AbortSignal;
  /** Every timer of the discovery goes through this clock (virtual in simulations). */
  readonly clock: Clock;
  /** Where to report status changes. */
  readonly logger: DiscoveryLogger;
  /** Alive members currently in the cluster (including this node), by memberlist address. */
  knownMembers(): HostPort[];
  /**
   * Joins the cluster through these memberlist addresses.
   * @returns how many of the addresses answered (0 when none did)
   */
  join(addresses: HostPort[]): Promise<number>;
}

/**
 * A running discovery strategy.
 *
 * Contract for plugin authors:
 * - `start` returns once the discovery runs. It must NOT wait for peers (the first node of a
 *   cluster has none) and must not block when the medium is down: retry in the background and
 *   say so through `ctx.logger`. It rejects only for setup errors no retry can fix.
 * - Peers are handed to `ctx.join` whenever they appear, not only once; the discovery owns
 *   its retry policy (backoff, jitter) and should skip addresses already in
 *   `ctx.knownMembers()` and `ctx.self`.
 * - `close` (or an abort of `ctx.signal`) stops every timer, socket and subscription; it is
 *   idempotent, resolves once background work ended, and no `ctx.join` call follows it.
 *
 * @example A third-party plugin that joins the addresses listed in an environment variable
 * ```ts
 * import { registerDiscovery, ConfigError, type Discovery, type DiscoveryContext } from "./mod.ts";
 * import { parseHostPort } from "../transport/address.ts";
 *
 * registerDiscovery<{ variable: string }>("env", {
 *   parse(options, path) {
 *     const o = options as { variable?: unknown } | null;
 *     if (typeof o?.variable !== "string") {
 *       throw new ConfigError([{ path: `${path}.variable`, message: "expected a string" }]);
 *     }
 *     return { variable: o.variable };
 *   },
 *   create(options): Discovery {
 *     return {
 *       name: "env",
 *       async start(ctx: DiscoveryContext) {
 *         const list = (process.env[options.variable] ?? "").split(",").filter((s) => s !== "");
 *         void ctx.join(list.map((s) => parseHostPort(s)));
 *       },
 *       async close() {},
 *     };
 *   },
 * });
 * // config: autojoin: { env: { variable: "PEERS" } }
 * ```
 */
export interface Discovery {
  /** The plugin name, for logs. */
  readonly name: string;
  /** Starts discovering; see the contract above. */
  start(ctx: DiscoveryContext): Promise<void>;
  /** Stops discovering; idempotent. */
  close(): Promise<void>;
}

/**
 * A discovery plugin as registered under a name: validates its own options (the object under
 * `autojoin.<name>`) and creates {@link Discovery} instances from the validated options.
 *
 * @example
 * ```ts
 * const factory: DiscoveryFactory<{ members: string[] }> = {
 *   parse: (options) => options as { members: string[] },
 *   create: (options) => staticDiscovery(options),
 * };
 * ```
 */
export interface DiscoveryFactory<Options = unknown> {
  /**
   * Validates raw options and applies defaults.
   * @param options the raw value found under `autojoin.<name>`
   * @param path its dotted path, e.g. `cluster.autojoin.nats`, to prefix issue paths with
   * @throws ConfigError listing every problem (other errors are wrapped into one)
   */
  parse(options: unknown, path: string): Options;
  /** Creates a discovery from options returned by {@link DiscoveryFactory.parse}. */
  create(options: Options): Discovery;
}
