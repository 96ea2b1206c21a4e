/**
 * The gate of the log port: before a connection speaks the replication protocol, the guard
 * runs the keyed handshake (secure_handshake.ts) or mutual TLS (tls_stream.ts), under the
 * handshake deadline, and counts every refusal in `stats.rejectedPeers`.
 *
 * @module
 */
import type { Clock, Stream } from "../transport/mod.ts";
import { acceptKeyed, dialKeyed, HandshakeError, type LogKeys } from "./secure_handshake.ts";
import type { LogStats, RejectReason } from "./stats.ts";
import { type LogTls, tlsAccept, tlsDial, TlsHandshakeError } from "./tls_stream.ts";

/**
 * How the log port is protected.
 * - `keyed`: a keyring (usually memberlist's); `verifyIncoming: false` also accepts plaintext
 *   peers and `verifyOutgoing: false` dials in plaintext (the two steps of a rolling
 *   migration from an open cluster; both default to true).
 * - `tls`: mutual TLS with the cluster's CA.
 *
 * @example
 * ```ts
 * const security: LogSecurity = { mode: "keyed", keys: keyring };
 * ```
 */
export type LogSecurity =
  | {
    readonly mode: "keyed";
    readonly keys: LogKeys;
    readonly verifyIncoming?: boolean;
    readonly verifyOutgoing?: boolean;
  }
  | ({ readonly mode: "tls" } & LogTls);

/** A connection through the gate. */
export interface Admitted {
  /** The stream to speak the log protocol on. */
  readonly stream: Stream;
  /** The name the peer proved in a keyed handshake (its Hello must carry the same). */
  readonly peer: string | undefined;
}

/** What the guard needs from its replicator. */
export interface GuardHost {
  readonly name: string;
  readonly environment: string;
  readonly clock: Clock;
  readonly stats: LogStats;
  readonly connectTimeoutMs: number;
}

/**
 * Runs the handshake of one connection and returns it secured, or undefined when refused
 * (counted, stream closed).
 *
 * @example
 * ```ts
 * const guard = new ConnectionGuard({ mode: "keyed", keys }, host);
 * const admitted = await guard.accept(stream);
 * ```
 */
export class ConnectionGuard {
  #security: LogSecurity;
  #host: GuardHost;

  /**
   * Creates an instance.
   * @param security keyed or TLS
   * @param host name, environment, clock, counters, deadline
   */
  constructor(security: LogSecurity, host: GuardHost) {
    this.#security = security;
    this.#host = host;
  }

  /** An inbound connection. */
  accept(stream: Stream): Promise<Admitted | undefined> {
    const s = this.#security;
    if (s.mode === "tls") return this.#run(stream, true, tlsAccept(stream, s).then(plain));
    const ctx = this.#context();
    return this.#run(stream, true, acceptKeyed(stream, ctx, s.verifyIncoming === false));
  }

  /** An outbound connection to `expected`. */
  dial(stream: Stream, expected: string): Promise<Admitted | undefined> {
    const s = this.#security;
    if (s.mode === "tls") return this.#run(stream, false, tlsDial(stream, s).then(plain));
    if (s.verifyOutgoing === false) return Promise.resolve({ stream, peer: undefined });
    return this.#run(stream, false, dialKeyed(stream, this.#context(), expected));
  }

  #context() {
    const h = this.#host;
    const s = this.#security as Extract<LogSecurity, { mode: "keyed" }>;
    return {
      name: h.name,
      environment: h.environment,
      keys: s.keys,
      onFault: () => h.stats.rejectedPeers.tampered++,
    };
  }

  async #run(
    stream: Stream,
    inbound: boolean,
    handshake: Promise<Admitted>,
  ): Promise<Admitted | undefined> {
    const h = this.#host;
    let expired = false;
    const timer = h.clock.setTimeout(() => {
      expired = true;
      stream.close();
    }, h.connectTimeoutMs);
    try {
      const admitted = await handshake;
      if (admitted.peer === undefined && inbound && this.#security.mode === "keyed") {
        h.stats.plaintextAccepted++;
      }
      return admitted;
    } catch (err) {
      stream.close();
      const reason = refusal(err, expired, inbound);
      if (reason !== undefined) h.stats.rejectedPeers[reason]++;
      else h.stats.dialFailures++;
      return undefined;
    } finally {
      h.clock.clearTimeout(timer);
    }
  }
}

function plain(stream: Stream): Admitted {
  return { stream, peer: undefined };
}

/** The counter of a failed handshake; undefined for a dial the peer just closed. */
function refusal(err: unknown, expired: boolean, inbound: boolean): RejectReason | undefined {
  if (expired) return "handshake-timeout";
  if (err instanceof TlsHandshakeError) return "tls";
  if (!(err instanceof HandshakeError)) return "garbage";
  if (err.code === "closed") return inbound ? "unauthenticated" : undefined;
  return err.code;
}
