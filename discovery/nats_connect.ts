/**
 * Opening a NATS connection for discovery: TCP (`nats://`, `tls://`) through
 * `@nats-io/transport-node`, WebSocket (`ws://`, `wss://`) through `wsconnect` of
 * `@nats-io/nats-core`.
 *
 * `wsconnect` never settles when the runtime has no global `WebSocket` (Node 20 without
 * `--experimental-websocket`), so that case is refused up front with a typed error, and every
 * attempt is bounded by a deadline of its own in case the client hangs for another reason.
 *
 * Note: the NATS client keeps one process-wide transport factory; mixing TCP and WebSocket
 * NATS connections in one process is not supported by the client.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { type ConnectionOptions, type NatsConnection, wsconnect } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { isWebSocketUrl } from "./nats_options.ts";

/** Why a NATS discovery cannot connect. */
export type NatsDiscoveryErrorCode = "ENOWEBSOCKET" | "ETIMEDOUT";

/**
 * A NATS discovery failure that retrying does not explain by itself.
 *
 * @example
 * ```ts
 * try {
 *   await discovery.start(ctx);
 * } catch (err) {
 *   if (err instanceof NatsDiscoveryError && err.code === "ENOWEBSOCKET") {
 *     console.error("use a nats:// URL on this runtime");
 *   }
 * }
 * ```
 */
export class NatsDiscoveryError extends ClusterError<NatsDiscoveryErrorCode> {
  /**
   * Creates the error.
   * @param code `ENOWEBSOCKET`: ws:// or wss:// without a global WebSocket; `ETIMEDOUT`: no answer
   * @param message human readable text
   */
  constructor(code: NatsDiscoveryErrorCode, message: string) {
    super(code, message);
  }
}

/** Whether this runtime offers the global `WebSocket` that `wsconnect` needs. */
export function hasGlobalWebSocket(): boolean {
  return typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";
}

/**
 * Throws {@link NatsDiscoveryError} `ENOWEBSOCKET` when `urls` need a WebSocket this runtime
 * lacks. Called before any attempt, so the failure is immediate instead of a silent hang.
 */
export function assertTransportAvailable(urls: readonly string[]): void {
  if (urls.some(isWebSocketUrl) && !hasGlobalWebSocket()) {
    throw new NatsDiscoveryError(
      "ENOWEBSOCKET",
      `NATS URL ${urls.find(isWebSocketUrl)} needs a global WebSocket, which this runtime lacks ` +
        `(Node 20/21 needs --experimental-websocket; Node 22+, Deno and browsers have one). ` +
        `Use a nats:// or tls:// URL instead.`,
    );
  }
}

/** What {@link openNatsConnection} needs. */
export interface OpenOptions {
  /** Server URLs, all TCP or all WebSocket. */
  readonly urls: readonly string[];
  /** Client name shown by the server's monitoring. */
  readonly name: string;
  /** Handshake timeout of the attempt, in ms. */
  readonly timeoutMs: number;
  /** Delay between reconnect attempts once connected, in ms. */
  readonly reconnectTimeWaitMs: number;
}

/**
 * One connection attempt (one pass over the servers). Once connected, the client reconnects
 * forever by itself. Rejects with the client's error, or {@link NatsDiscoveryError}.
 */
export function openNatsConnection(options: OpenOptions): Promise<NatsConnection> {
  assertTransportAvailable(options.urls);
  const ws = options.urls.some(isWebSocketUrl);
  const opts: ConnectionOptions = {
    servers: [...options.urls],
    name: options.name,
    timeout: options.timeoutMs,
    // never give up once connected: the cluster must pick NATS up again whenever it returns
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs,
    // a node does not need its own announcements and requests back
    noEcho: true,
  };
  if (!ws && options.urls.every((u) => /^tls:\/\//i.test(u))) opts.tls = {};
  const attempt = ws ? wsconnect(opts) : connect(opts);
  return new Promise((resolve, reject) => {
    let settled = false;
    // deadline of our own: a client that never settles must not hang discovery
    const timer = setTimeout(() => {
      settled = true;
      reject(
        new NatsDiscoveryError(
          "ETIMEDOUT",
          `no answer from NATS at ${options.urls.join(", ")} within ${options.timeoutMs + 1000} ms`,
        ),
      );
    }, options.timeoutMs + 1000);
    attempt.then(
      (nc) => {
        clearTimeout(timer);
        if (settled) void nc.close(); // too late: the caller moved on
        else resolve(nc);
        settled = true;
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!settled) reject(err);
        settled = true;
      },
    );
  });
}
