/**
 * Static discovery: the `members` list of the config.
 *
 * At start it joins the listed members, retrying with capped exponential backoff and jitter
 * until one answers. Afterwards it keeps checking, every `rejoinIntervalMs`, that every
 * listed member is in the cluster and re-joins those that are missing, so the two sides of a
 * healed partition merge again without help. Host names are resolved on every round (a
 * restarted peer may come back with a new address).
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import * as v from "valibot";
import { formatHostPort, parseHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";
import { parseWithSchema } from "./config_issues.ts";
import { backoffDelay, sleep } from "./retry.ts";
import type { Discovery, DiscoveryContext, DiscoveryFactory } from "./types.ts";

/** Options of {@link staticDiscovery}. Only `members` comes from the config file. */
export interface StaticDiscoveryOptions {
  /** Peers' memberlist listeners (`host:port` strings or parsed addresses); may include this node (it is skipped). */
  readonly members: readonly (string | HostPort)[];
  /** First retry delay when no listed member answers, in ms. Default 500. */
  readonly initialBackoffMs?: number;
  /** Cap of the retry delay, in ms. Default 30000. */
  readonly maxBackoffMs?: number;
  /** How often to look for listed members missing from the cluster, in ms. Default 15000. */
  readonly rejoinIntervalMs?: number;
  /** Host name resolver (all addresses of a name). Default: the system resolver. */
  readonly resolve?: (host: string) => Promise<string[]>;
  /** Random source for the jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

async function systemResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

interface Listed {
  readonly member: string;
  readonly addresses: HostPort[];
}

/** The `members` discovery; see the module doc. Create it with {@link staticDiscovery}. */
export class StaticDiscovery implements Discovery {
  /** Always `"static"`. */
  readonly name: string = "static";
  readonly #members: HostPort[];
  readonly #options: StaticDiscoveryOptions;
  readonly #stop: AbortController = new AbortController();
  #loop: Promise<void> | undefined;

  /**
   * Creates a stopped discovery.
   * @param options the members and timing; members must be valid `host:port` strings
   */
  constructor(options: StaticDiscoveryOptions) {
    this.#options = options;
    this.#members = options.members.map((m) => (typeof m === "string" ? parseHostPort(m) : m));
  }

  /** Starts the join loop in the background; resolves at once. */
  start(ctx: DiscoveryContext): Promise<void> {
    if (this.#loop !== undefined) {
      return Promise.reject(new Error("static discovery already started"));
    }
    if (ctx.signal.aborted) this.#stop.abort();
    const onAbort = (): void => this.#stop.abort();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    this.#loop = this.#run(ctx)
      .catch((err) => {
        ctx.logger.error("static discovery stopped on an unexpected error", { error: String(err) });
      })
      .finally(() => ctx.signal.removeEventListener("abort", onAbort));
    return Promise.resolve();
  }

  /** Stops the loop; resolves once it ended. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #resolveAll(ctx: DiscoveryContext): Promise<Listed[]> {
    const resolve = this.#options.resolve ?? systemResolve;
    return await Promise.all(this.#members.map(async (m): Promise<Listed> => {
      const member = formatHostPort(m);
      if (isIP(m.host) !== 0) return { member, addresses: [m] };
      try {
        const ips = await resolve(m.host);
        return { member, addresses: ips.map((host) => ({ host, port: m.port })) };
      } catch (err) {
        ctx.logger.warn(`cannot resolve listed member ${member}`, { error: String(err) });
        return { member, addresses: [] };
      }
    }));
  }

  async #run(ctx: DiscoveryContext): Promise<void> {
    const signal = this.#stop.signal;
    const backoff = {
      initialMs: this.#options.initialBackoffMs ?? 500,
      maxMs: this.#options.maxBackoffMs ?? 30_000,
    };
    const rejoinMs = this.#options.rejoinIntervalMs ?? 15_000;
    const self = formatHostPort(ctx.self);
    let failures = 0;
    while (!signal.aborted) {
      const listed = await this.#resolveAll(ctx);
      if (signal.aborted) return;
      const present = new Set(ctx.knownMembers().map(formatHostPort));
      present.add(self);
      const missing = listed.filter((l) =>
        !l.addresses.some((a) => present.has(formatHostPort(a)))
      );
      let delay = rejoinMs;
      if (missing.length > 0) {
        const targets = missing.flatMap((l) => l.addresses);
        const answered = targets.length === 0 ? 0 : await safeJoin(ctx, targets);
        if (signal.aborted) return;
        const names = missing.map((l) => l.member).join(", ");
        if (answered > 0) {
          ctx.logger.info(`joined through ${answered} listed member address(es)`, { tried: names });
          failures = 0;
        } else {
          delay = backoffDelay(backoff, failures, this.#options.random);
          const log = failures === 0 ? ctx.logger.warn : ctx.logger.debug;
          log.call(ctx.logger, `no listed member answered; retrying in ${delay} ms`, {
            tried: names,
            attempt: failures + 1,
          });
          failures++;
        }
      } else {
        failures = 0;
      }
      if (!(await sleep(ctx.clock, delay, signal))) return;
    }
  }
}

async function safeJoin(ctx: DiscoveryContext, targets: HostPort[]): Promise<number> {
  try {
    return await ctx.join(targets);
  } catch (err) {
    ctx.logger.debug("join failed", { error: String(err) });
    return 0;
  }
}

/**
 * Creates a static discovery.
 *
 * @example
 * ```ts
 * const discovery = staticDiscovery({ members: ["10.0.0.1:3322", "node-b:3322"] });
 * await discovery.start(ctx); // joins in the background, re-joins missing members later
 * await discovery.close();
 * ```
 */
export function staticDiscovery(options: StaticDiscoveryOptions): StaticDiscovery {
  return new StaticDiscovery(options);
}

const MEMBER = v.pipe(
  v.string("expected a host:port string"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    try {
      parseHostPort(dataset.value);
    } catch (err) {
      addIssue({
        message: `expected host:port, ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }),
);

const OPTIONS = v.object(
  {
    members: v.pipe(
      v.array(MEMBER, "expected a list of host:port strings"),
      v.minLength(1, "expected at least one member"),
    ),
  },
  (issue) =>
    issue.expected === "Object"
      ? `expected an object with "members", got ${JSON.stringify(issue.input)}`
      : `required: a list of host:port strings`,
);

/**
 * Validates static discovery options from a config (`{ members: ["host:port", ...] }`).
 *
 * @example
 * ```ts
 * parseStaticOptions({ members: ["10.0.0.1:3322"] }, "cluster"); // { members: ["10.0.0.1:3322"] }
 * ```
 * @throws ConfigError
 */
export function parseStaticOptions(options: unknown, path: string): StaticDiscoveryOptions {
  return parseWithSchema(OPTIONS, ["members"], options, path);
}

/**
 * The registry entry of the static discovery (registered as `"static"`).
 *
 * @example
 * ```ts
 * const d = staticDiscoveryFactory.create(staticDiscoveryFactory.parse({ members: ["a:1"] }, "x"));
 * ```
 */
export const staticDiscoveryFactory: DiscoveryFactory<StaticDiscoveryOptions> = {
  parse: parseStaticOptions,
  create: staticDiscovery,
};
