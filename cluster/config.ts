/**
 * The `cluster` stanza of Response Server's configuration: validation and defaults.
 *
 * The HCL block `autojoin "nats" { url = "nats://10.0.0.5:4222" }` arrives in JavaScript as
 * `autojoin: { nats: { url: "nats://10.0.0.5:4222" } }`: the block label becomes the key.
 *
 * @module
 */
import * as v from "valibot";
import { isIP } from "node:net";
import { ConfigError, type ConfigIssue } from "../errors/mod.ts";
import { type LocalPlugins, parseAutojoin, parseDuration } from "../discovery/mod.ts";
import { AddressError, formatHostPort, parseHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";
import { type Environment, environments } from "../presets/mod.ts";
import { parseSecurity, SECURITY_KEYS, type SecurityConfig } from "./security.ts";

export { ConfigError, type ConfigIssue, type Environment };

const environmentList = environments.map((e) => JSON.stringify(e)).join(", ");

/**
 * The validated stanza, defaults applied. Keys are spelled as in the config file; the
 * security keys (`encrypt`, `encrypt_file`, `encrypt_verify_*`, `tls`) are in
 * {@link SecurityConfig}.
 */
export interface ClusterConfig extends SecurityConfig {
  /** Tuning preset: `local`, `lan` or `wan`. */
  readonly environment: Environment;
  /** Address of the append-only log listener (TCP). Default `"0.0.0.0"`. */
  readonly bind_address: string;
  /** Port of the append-only log listener (TCP). Default `3320`; 0 = ephemeral. */
  readonly bind_port: number;
  /** Address of the gossip listener (UDP and TCP). Default `"0.0.0.0"`. */
  readonly memberlist_bind_address: string;
  /** Port of the gossip listener (UDP and TCP). Default `3322`; 0 = ephemeral. */
  readonly memberlist_bind_port: number;
  /**
   * Gossip address peers reach this node at (an IP literal), when it differs from the bound
   * one: NAT, Docker port mapping, a wildcard bind on a multi-homed host. Default: the bound
   * address, or for a wildcard bind the first non-internal IPv4 address of the host.
   */
  readonly advertise_address?: string;
  /** Gossip port peers reach this node at. Default: the bound memberlist port. */
  readonly advertise_port?: number;
  /**
   * Log address peers reach this node at (IP literal or host name). Default:
   * `advertise_address` when set, else the bound log address (for a wildcard bind: the host
   * peers see in gossip).
   */
  readonly advertise_log_address?: string;
  /** Log port peers reach this node at. Default: the bound log port. */
  readonly advertise_log_port?: number;
  /** Static peers (their memberlist listeners), port 3322 where the entry had none. */
  readonly members?: readonly HostPort[];
  /** Discovery through a plugin: its registered name and its validated options. */
  readonly autojoin?: { readonly name: string; readonly options: unknown };
  /**
   * Floor of copies a quorum append needs, whatever the voting membership's size: with 3, a
   * cluster still forming (or reduced to 1 or 2 voters) acknowledges no quorum write. Default
   * 1 (a plain majority). Set it to the majority of the cluster's intended size.
   */
  readonly min_quorum: number;
  /**
   * How long a failed member keeps its seat in the voting membership, in ms (the file says
   * a duration: `"24h"`, `"90m"`). Default: the preset's reconnect timeout (24 h).
   */
  readonly forget_after?: number;
}

/** Default memberlist port, used for `members` entries without a port. */
export const DEFAULT_MEMBERLIST_PORT: number = 3322;
/** Default append-only log port. */
export const DEFAULT_LOG_PORT: number = 3320;

const KNOWN_KEYS = [
  "environment",
  "bind_address",
  "bind_port",
  "memberlist_bind_address",
  "memberlist_bind_port",
  "advertise_address",
  "advertise_port",
  "advertise_log_address",
  "advertise_log_port",
  "members",
  "autojoin",
  "min_quorum",
  "forget_after",
  ...SECURITY_KEYS,
] as const;

const HOST_NAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function isHost(value: string): boolean {
  return isIP(value) !== 0 || HOST_NAME.test(value);
}

const addressSchema = v.pipe(
  v.string("expected a string"),
  v.check(
    isHost,
    (issue) => `expected an IPv4/IPv6 literal or a host name, got ${JSON.stringify(issue.input)}`,
  ),
);
const portSchema = v.pipe(
  v.number("expected an integer 0-65535"),
  v.check(
    (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
    (issue) => `expected an integer 0-65535, got ${issue.input}`,
  ),
);

const notWildcard = (host: string) => host !== "0.0.0.0" && host !== "::";
// memberlist gossips a member's address as 4 or 16 bytes: a host name cannot travel.
const advertiseSchema = v.pipe(
  v.string("expected a string"),
  v.check(
    (s) => isIP(s) !== 0,
    (issue) =>
      `expected an IPv4/IPv6 literal (gossip carries addresses as IPs), got ${
        JSON.stringify(issue.input)
      }`,
  ),
  v.check(notWildcard, "expected the address peers dial, not a wildcard"),
);
const advertiseLogSchema = v.pipe(
  addressSchema,
  v.check(notWildcard, "expected the address peers dial, not a wildcard"),
);
const advertisePortSchema = v.pipe(
  v.number("expected an integer 1-65535"),
  v.check(
    (n) => Number.isInteger(n) && n >= 1 && n <= 65535,
    (issue) => `expected an integer 1-65535, got ${issue.input}`,
  ),
);

const stanzaSchema = v.object({
  environment: v.picklist(
    environments,
    (issue) => `expected one of ${environmentList}, got ${JSON.stringify(issue.input)}`,
  ),
  bind_address: v.optional(addressSchema, "0.0.0.0"),
  bind_port: v.optional(portSchema, DEFAULT_LOG_PORT),
  memberlist_bind_address: v.optional(addressSchema, "0.0.0.0"),
  memberlist_bind_port: v.optional(portSchema, DEFAULT_MEMBERLIST_PORT),
  min_quorum: v.optional(
    v.pipe(
      v.number("expected an integer of at least 1"),
      v.check(
        (n) => Number.isInteger(n) && n >= 1 && n <= 1000,
        (issue) => `expected an integer 1-1000, got ${issue.input}`,
      ),
    ),
    1,
  ),
  forget_after: v.optional(
    v.pipe(
      v.string('expected a duration like "24h", "90m" or "30s"'),
      v.check(
        (t) => (parseDuration(t) ?? 0) >= 1000,
        (issue) =>
          `expected a duration of at least 1s like "24h", "90m" or "30s", got ${
            JSON.stringify(issue.input)
          }`,
      ),
    ),
  ),
  advertise_address: v.optional(advertiseSchema),
  advertise_port: v.optional(advertisePortSchema),
  advertise_log_address: v.optional(advertiseLogSchema),
  advertise_log_port: v.optional(advertisePortSchema),
  members: v.optional(
    v.array(
      v.string('expected a string like "host:port"'),
      'expected an array of "host:port" strings',
    ),
  ),
});

/**
 * Validates the `cluster` stanza and applies defaults. Every problem is reported at once in
 * one {@link ConfigError}, one line per problem, located by path (`cluster.bind_port: …`).
 *
 * `undefined` (no stanza) is valid and means isolated mode: the function returns `undefined`.
 *
 * @example
 * ```ts
 * const config = parseClusterConfig({ environment: "lan", members: ["10.0.0.2", "10.0.0.3:4000"] });
 * config?.bind_port; // 3320
 * config?.members?.[0]; // { host: "10.0.0.2", port: 3322 }
 * ```
 * @example
 * ```ts
 * try {
 *   parseClusterConfig({ environment: "lan", bind_prot: 1 });
 * } catch (err) {
 *   // ConfigError: cluster.bind_prot: unknown key "bind_prot" (did you mean "bind_port"?)
 * }
 * ```
 * @param input the stanza as the config file spells it (JSON or HCL decoded to an object)
 * @param options `discovery`: plugins of this node only, usable in `autojoin` besides the
 *   registered ones
 * @throws {ConfigError} when anything is wrong
 */
export function parseClusterConfig(
  input: unknown,
  options: { discovery?: LocalPlugins } = {},
): ClusterConfig | undefined {
  if (input === undefined) return undefined;
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new ConfigError([{
      path: "cluster",
      message: `expected an object, got ${describe(input)}`,
    }]);
  }
  const record = input as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(record)) {
    if ((KNOWN_KEYS as readonly string[]).includes(key)) continue;
    const near = closest(key, KNOWN_KEYS);
    issues.push({
      path: `cluster.${key}`,
      message: `unknown key "${key}"` + (near ? ` (did you mean "${near}"?)` : ""),
    });
  }

  const result = v.safeParse(stanzaSchema, record, { abortEarly: false });
  if (!result.success) {
    for (const issue of result.issues) {
      const path = (v.getDotPath(issue) ?? "").replace(/\.(\d+)(?=\.|$)/g, "[$1]");
      // valibot words a missing key as "Invalid key"; say what is required instead.
      const message = path === "environment" && record.environment === undefined
        ? `required: one of ${environmentList}`
        : issue.message;
      issues.push({ path: path ? `cluster.${path}` : "cluster", message });
    }
  }

  let members: HostPort[] | undefined;
  if (Array.isArray(record.members)) {
    // Checked even when other keys failed, so every problem is reported in one go.
    const list: HostPort[] = [];
    members = list;
    const seen = new Map<string, number>();
    (record.members as unknown[]).forEach((text, i) => {
      if (typeof text !== "string") return; // reported by the schema
      try {
        const hp = parseHostPort(text, DEFAULT_MEMBERLIST_PORT);
        if (!isHost(hp.host)) {
          throw new AddressError(`expected an IPv4/IPv6 literal or a host name in "${text}"`);
        }
        const norm = formatHostPort(hp);
        const first = seen.get(norm);
        if (first !== undefined) {
          issues.push({
            path: `cluster.members[${i}]`,
            message: `duplicate of members[${first}] (${norm})`,
          });
        } else {
          seen.set(norm, i);
          list.push(hp);
        }
      } catch (err) {
        const why = err instanceof AddressError ? err.message : String(err);
        issues.push({
          path: `cluster.members[${i}]`,
          message: `expected "host:port", "[v6]:port" or "host": ${why}`,
        });
      }
    });
  }

  let autojoin: { name: string; options: unknown } | undefined;
  if (record.autojoin !== undefined) {
    if (record.members !== undefined) {
      issues.push({
        path: "cluster",
        message:
          `"members" and "autojoin" are both set: choose one (static members, or discovery through autojoin)`,
      });
    }
    try {
      autojoin = parseAutojoin(record.autojoin, "cluster.autojoin", options.discovery);
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  }

  const security = parseSecurity(record, issues);

  if (result.success) {
    const o = result.output;
    if (
      o.bind_port !== 0 && o.bind_port === o.memberlist_bind_port &&
      addressesOverlap(o.bind_address, o.memberlist_bind_address)
    ) {
      issues.push({
        path: "cluster.memberlist_bind_port",
        message:
          `must differ from bind_port (${o.bind_port}) on the same address: both listen on TCP`,
      });
    }
  }

  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  const o = result.output;
  return {
    environment: o.environment,
    bind_address: o.bind_address,
    bind_port: o.bind_port,
    memberlist_bind_address: o.memberlist_bind_address,
    memberlist_bind_port: o.memberlist_bind_port,
    min_quorum: o.min_quorum,
    ...(o.forget_after !== undefined ? { forget_after: parseDuration(o.forget_after) } : {}),
    ...(o.advertise_address !== undefined ? { advertise_address: o.advertise_address } : {}),
    ...(o.advertise_port !== undefined ? { advertise_port: o.advertise_port } : {}),
    ...(o.advertise_log_address !== undefined
      ? { advertise_log_address: o.advertise_log_address }
      : {}),
    ...(o.advertise_log_port !== undefined ? { advertise_log_port: o.advertise_log_port } : {}),
    ...(members ? { members } : {}),
    ...(autojoin ? { autojoin } : {}),
    ...security,
  };
}

/** Two bind addresses collide when equal or when either is a wildcard. */
function addressesOverlap(a: string, b: string): boolean {
  const wildcard = (x: string) => x === "0.0.0.0" || x === "::";
  return a === b || wildcard(a) || wildcard(b);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

/** The known key nearest to `key` by edit distance, if it is plausibly a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  // Damerau (adjacent transposition) so "bind_prot" is one edit from "bind_port".
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => [i, ...new Array<number>(b.length).fill(0)],
  );
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
