/**
 * Joining: parallel push/pulls (join = true) with every given address under one overall
 * deadline. Addresses of members we already see alive are not contacted again, so calling
 * join repeatedly (e.g. from discovery) stays cheap.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { parseHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";
import { type Core, errorText } from "./core.ts";
import type { StreamService } from "./push_pull.ts";
import { NodeStateCode } from "./state.ts";

/**
 * One failed join address.
 *
 * @example
 * ```ts
 * const { errors } = await list.join(seeds);
 * for (const f of errors) console.warn(f.address, f.error.message);
 * ```
 */
export interface JoinFailure {
  /** The address as given (or formatted). */
  address: string;
  /** Why it failed. */
  error: Error;
}

/**
 * The result of a join.
 *
 * @example
 * ```ts
 * const r: JoinResult = await list.join(["127.0.0.1:7946"]);
 * console.log(r.joined);
 * ```
 */
export interface JoinResult {
  /** Addresses that answered (or are known alive members already). */
  joined: number;
  /** Addresses that failed. */
  errors: JoinFailure[];
}

/**
 * No address could be joined.
 *
 * @example
 * ```ts
 * try { await list.join(["10.0.0.9:7946"]); } catch (e) {
 *   if (e instanceof JoinError) console.log(e.errors.map((x) => x.address));
 * }
 * ```
 */
export class JoinError extends ClusterError<"join"> {
  /** Per-address failures. */
  readonly errors: JoinFailure[];
  /**
   * Wraps the per-address failures.
   *
   * @param errors per-address failures
   */
  constructor(errors: JoinFailure[]) {
    super(
      "join",
      `failed to join any of ${errors.length} address(es): ${
        errors.map((e) => `${e.address}: ${e.error.message}`).join("; ")
      }`,
    );
    this.errors = errors;
  }
}

function describe(a: string | HostPort): string {
  return typeof a === "string"
    ? a
    : a.host.includes(":")
    ? `[${a.host}]:${a.port}`
    : `${a.host}:${a.port}`;
}

/**
 * Push/pulls with every address in parallel; rejects with {@link JoinError} only when none
 * succeeded.
 *
 * @example
 * ```ts
 * const { joined } = await joinCluster(core, streams, ["127.0.0.1:7946"], 5000);
 * ```
 */
export async function joinCluster(
  core: Core,
  streams: StreamService,
  addresses: (string | HostPort)[],
  timeoutMs: number,
): Promise<JoinResult> {
  const defaultPort = core.transport.address.port;
  const deadline = core.clock.now() + timeoutMs;
  const errors: JoinFailure[] = [];
  let joined = 0;
  const tasks = addresses.map(async (raw) => {
    const label = describe(raw);
    try {
      let to: HostPort;
      if (typeof raw === "string") {
        // An optional "name/" prefix (memberlist syntax) names the node; we only need the address.
        const slash = raw.indexOf("/");
        to = parseHostPort(slash >= 0 ? raw.slice(slash + 1) : raw, defaultPort);
      } else {
        to = { host: raw.host, port: raw.port === 0 ? defaultPort : raw.port };
      }
      if (isSelf(core, to)) return;
      if (knownAlive(core, to)) {
        joined++;
        return;
      }
      const left = deadline - core.clock.now();
      if (left <= 0) throw new Error("join deadline passed");
      await streams.pushPull(to, true, left);
      joined++;
    } catch (e) {
      errors.push({ address: label, error: e instanceof Error ? e : new Error(errorText(e)) });
    }
  });
  await Promise.all(tasks);
  if (joined === 0 && errors.length > 0) throw new JoinError(errors);
  return { joined, errors };
}

function isSelf(core: Core, to: HostPort): boolean {
  const a = core.advertise;
  const b = core.transport.address;
  return (to.port === a.port && to.host === a.host) || (to.port === b.port && to.host === b.host);
}

function knownAlive(core: Core, to: HostPort): boolean {
  for (const n of core.table.nodes) {
    if (
      n.state === NodeStateCode.alive && n.name !== core.name && n.port === to.port &&
      n.host === to.host
    ) {
      return true;
    }
  }
  return false;
}
