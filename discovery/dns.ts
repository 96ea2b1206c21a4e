/**
 * DNS discovery: the A, AAAA or SRV records of one name, re-resolved periodically. On
 * Kubernetes that name is a headless Service (`<service>.<namespace>.svc.cluster.local`),
 * whose A records are the pods' IPs and whose SRV records
 * (`_<port-name>._tcp.<service>.<namespace>.svc.cluster.local`) also carry the port; the same
 * mode as Hazelcast's DNS lookup, libcluster's `Kubernetes.DNS`/`DNSSRV` and Akka's bootstrap.
 *
 * Every `interval` the name is resolved again; addresses that are neither this node nor a
 * member already are joined. A name that does not resolve yet (the first pod of a Service
 * that publishes ready pods only) is logged and retried, never fatal.
 *
 * @module
 */
import { parseDuration } from "./duration.ts";
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import * as v from "valibot";
import { ConfigError, type ConfigIssue } from "../errors/mod.ts";
import { formatHostPort, parseHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";
import { parseWithSchema } from "./config_issues.ts";
import { sleep } from "./retry.ts";
import type { Discovery, DiscoveryContext, DiscoveryFactory } from "./types.ts";

/** Options of {@link dnsDiscovery}, as `autojoin "dns" { ... }` spells them (validated). */
export interface DnsDiscoveryOptions {
  /** The name to resolve, e.g. `rc.default.svc.cluster.local` (SRV: `_gossip._tcp.rc...`). */
  readonly name: string;
  /** Record type: `a` (default), `aaaa` or `srv`. */
  readonly type: "a" | "aaaa" | "srv";
  /** memberlist port of the found addresses (A/AAAA; SRV records carry their own). Default 3322. */
  readonly port: number;
  /** Re-resolution period, in ms. Default 10000 (`"10s"`). */
  readonly intervalMs: number;
  /** DNS servers (`ip` or `ip:port`); default the system's. */
  readonly servers?: readonly string[];
}

/** Default memberlist port of addresses found through A/AAAA records. */
export const DEFAULT_DNS_PORT = 3322;
const DEFAULT_INTERVAL_MS = 10_000;
const MIN_INTERVAL_MS = 100;

/** What one resolution found. */
export interface DnsResolution {
  /** memberlist addresses the records point at (empty when the name did not resolve). */
  readonly addresses: HostPort[];
  /** Why the name (or an SRV target) did not resolve, when it did not. */
  readonly error?: string;
}

/** The `dns` discovery; create it with {@link dnsDiscovery}. */
export class DnsDiscovery implements Discovery {
  /** Always `"dns"`. */
  readonly name: string = "dns";
  readonly #options: DnsDiscoveryOptions;
  readonly #resolver: Resolver;
  readonly #stop: AbortController = new AbortController();
  #loop: Promise<void> | undefined;
  #last = "";

  /**
   * Creates a stopped discovery.
   * @param options validated options (see {@link parseDnsOptions})
   */
  constructor(options: DnsDiscoveryOptions) {
    this.#options = options;
    this.#resolver = new Resolver({ timeout: 2000, tries: 2 });
    if (options.servers && options.servers.length > 0) {
      this.#resolver.setServers([...options.servers]);
    }
  }

  /** Starts the resolve-and-join loop in the background; resolves at once. */
  start(ctx: DiscoveryContext): Promise<void> {
    if (this.#loop !== undefined) return Promise.reject(new Error("dns discovery already started"));
    if (ctx.signal.aborted) this.#stop.abort();
    const onAbort = (): void => this.#stop.abort();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    this.#loop = this.#run(ctx)
      .catch((err) => {
        ctx.logger.error("dns discovery stopped on an unexpected error", { error: String(err) });
      })
      .finally(() => ctx.signal.removeEventListener("abort", onAbort));
    return Promise.resolve();
  }

  /** Stops the loop (and pending queries); resolves once it ended. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#resolver.cancel();
    await this.#loop;
  }

  /** Resolves the name once: the memberlist addresses its records point at. */
  async resolve(): Promise<DnsResolution> {
    const { name, type, port } = this.#options;
    try {
      if (type === "a") {
        return { addresses: (await this.#resolver.resolve4(name)).map((host) => ({ host, port })) };
      }
      if (type === "aaaa") {
        return { addresses: (await this.#resolver.resolve6(name)).map((host) => ({ host, port })) };
      }
      const records = await this.#resolver.resolveSrv(name);
      const addresses: HostPort[] = [];
      const errors: string[] = [];
      await Promise.all(records.map(async (r) => {
        for (const host of await this.#hostAddresses(r.name, errors)) {
          addresses.push({ host, port: r.port });
        }
      }));
      return { addresses, error: errors.length > 0 ? errors.join("; ") : undefined };
    } catch (err) {
      return { addresses: [], error: errorText(err) };
    }
  }

  /** A target of an SRV record: its A records, else its AAAA records (an IP stays as is). */
  async #hostAddresses(target: string, errors: string[]): Promise<string[]> {
    if (isIP(target) !== 0) return [target];
    try {
      return await this.#resolver.resolve4(target);
    } catch (err4) {
      try {
        return await this.#resolver.resolve6(target);
      } catch {
        errors.push(`${target}: ${errorText(err4)}`);
        return [];
      }
    }
  }

  async #run(ctx: DiscoveryContext): Promise<void> {
    const signal = this.#stop.signal;
    const { name, type } = this.#options;
    const self = formatHostPort(ctx.self);
    let failing = false;
    while (!signal.aborted) {
      const found = await this.resolve();
      if (signal.aborted) return;
      const key = found.addresses.map(formatHostPort).sort().join(",");
      if (found.addresses.length === 0) {
        const log = failing ? ctx.logger.debug : ctx.logger.warn;
        log.call(ctx.logger, `${type.toUpperCase()} ${name} resolves to no address yet`, {
          error: found.error,
        });
        failing = true;
      } else {
        failing = false;
        if (key !== this.#last) {
          ctx.logger.info(`${type.toUpperCase()} ${name} resolves to ${found.addresses.length}`, {
            addresses: key,
            ...(found.error ? { error: found.error } : {}),
          });
        }
        const present = new Set(ctx.knownMembers().map(formatHostPort));
        present.add(self);
        const fresh = found.addresses.filter((a) => !present.has(formatHostPort(a)));
        if (fresh.length > 0) {
          let answered = 0;
          try {
            answered = await ctx.join(fresh);
          } catch (err) {
            ctx.logger.debug("join failed", { error: errorText(err) });
          }
          if (signal.aborted) return;
          const tried = fresh.map(formatHostPort).join(",");
          if (answered > 0) {
            ctx.logger.info(`joined ${answered} address(es) found in DNS`, { tried });
          } else ctx.logger.debug("no address found in DNS answered the join", { tried });
        }
      }
      this.#last = key;
      if (!(await sleep(ctx.clock, this.#options.intervalMs, signal))) return;
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Creates a DNS discovery.
 *
 * @example
 * ```ts
 * const d = dnsDiscovery(parseDnsOptions({ name: "rc.default.svc.cluster.local" }, "cluster.autojoin.dns"));
 * await d.start(ctx); // resolves every 10 s and joins what it finds
 * await d.close();
 * ```
 */
export function dnsDiscovery(options: DnsDiscoveryOptions): DnsDiscovery {
  return new DnsDiscovery(options);
}

const HOST_NAME =
  /^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
const OPTIONS = v.object(
  {
    name: v.pipe(
      v.string("required: the DNS name to resolve (e.g. a headless Service)"),
      v.check(
        (s) => HOST_NAME.test(s),
        (issue) => `expected a DNS name, got ${JSON.stringify(issue.input)}`,
      ),
    ),
    type: v.optional(
      v.picklist(
        ["a", "aaaa", "srv"],
        (issue) => `expected one of "a", "aaaa", "srv", got ${JSON.stringify(issue.input)}`,
      ),
      "a",
    ),
    port: v.optional(
      v.pipe(
        v.number("expected an integer 1-65535"),
        v.check(
          (n) => Number.isInteger(n) && n >= 1 && n <= 65535,
          (issue) => `expected an integer 1-65535, got ${issue.input}`,
        ),
      ),
      DEFAULT_DNS_PORT,
    ),
    interval: v.optional(v.unknown()),
    servers: v.optional(v.array(v.unknown(), 'expected a list of "ip" or "ip:port" strings')),
  },
  (issue) =>
    issue.expected === "Object"
      ? `expected an object with "name" and optional "type", "port", "interval", "servers", got ${
        JSON.stringify(issue.input)
      }`
      : "required: the DNS name to resolve (e.g. a headless Service)",
);

/**
 * Validates `autojoin "dns"` options and applies defaults.
 *
 * @example
 * ```ts
 * parseDnsOptions({ name: "rc.default.svc.cluster.local", interval: "5s" }, "cluster.autojoin.dns");
 * // { name: "rc.default.svc.cluster.local", type: "a", port: 3322, intervalMs: 5000 }
 * parseDnsOptions({ type: "mx" }, "cluster.autojoin.dns");
 * // throws ConfigError: cluster.autojoin.dns.name: required: ...
 * //                     cluster.autojoin.dns.type: expected one of "a", "aaaa", "srv", got "mx"
 * ```
 * @throws ConfigError
 */
export function parseDnsOptions(options: unknown, path: string): DnsDiscoveryOptions {
  const o = typeof options === "object" && options !== null && !Array.isArray(options)
    ? options as Record<string, unknown>
    : undefined;
  const extra: ConfigIssue[] = [];
  let intervalMs = DEFAULT_INTERVAL_MS;
  if (o?.interval !== undefined) {
    const ms = parseDuration(o.interval);
    if (ms === undefined || ms < MIN_INTERVAL_MS) {
      extra.push({
        path: `${path}.interval`,
        message:
          `expected a duration of at least ${MIN_INTERVAL_MS} ms ("10s", "500ms", "2m" or milliseconds), got ${
            JSON.stringify(o.interval)
          }`,
      });
    } else intervalMs = ms;
  }
  const servers: string[] = [];
  if (Array.isArray(o?.servers)) {
    (o.servers as unknown[]).forEach((s, i) => {
      const at = `${path}.servers[${i}]`;
      let ok = false;
      if (typeof s === "string") {
        try {
          const hp = parseHostPort(s, 53);
          ok = isIP(hp.host) !== 0;
          if (ok) {
            servers.push(isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`);
          }
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        extra.push({ path: at, message: `expected "ip" or "ip:port", got ${JSON.stringify(s)}` });
      }
    });
  }
  const out = parseWithSchema(
    OPTIONS,
    ["name", "type", "port", "interval", "servers"],
    options,
    path,
    extra,
  );
  if (o?.type === "srv" && o.port !== undefined) {
    throw new ConfigError([{
      path: `${path}.port`,
      message: 'not used with type "srv": SRV records carry the port',
    }]);
  }
  return {
    name: out.name,
    type: out.type,
    port: out.port,
    intervalMs,
    ...(servers.length > 0 ? { servers } : {}),
  };
}

/**
 * The registry entry of the DNS discovery (registered as `"dns"`).
 *
 * @example
 * ```ts
 * // config: autojoin "dns" { name = "rc.default.svc.cluster.local" }
 * const d = dnsDiscoveryFactory.create(dnsDiscoveryFactory.parse({ name: "rc.test" }, "x"));
 * ```
 */
export const dnsDiscoveryFactory: DiscoveryFactory<DnsDiscoveryOptions> = {
  parse: parseDnsOptions,
  create: dnsDiscovery,
};
