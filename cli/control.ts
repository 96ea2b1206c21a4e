/**
 * The agent's control endpoint (HTTP): `GET /members`, `GET /heads`, `GET /quorum`,
 * `GET /metrics`, `GET /healthz`, `GET /readyz`, `POST /append`, `POST /remove-member`.
 *
 * It listens on loopback by default. Every request passes three checks before any route:
 * - `Host` must name the bound address, `localhost` or a loopback address, or (on a wildcard
 *   bind) an address or the name of this host, with the bound port if a port is given: a page
 *   that re-points its own DNS name at 127.0.0.1 (DNS rebinding) sends its own name and is
 *   refused;
 * - a request a browser sends on a page's behalf (an `Origin` header, or `Sec-Fetch-Site`
 *   other than "none") is refused, whatever its method or content type, so a web page cannot
 *   drive the agent even with a "simple" text/plain POST that skips the CORS preflight; and
 *   `POST /append` takes `application/json` only;
 * - with a token, `Authorization: Bearer <token>` must carry it (compared in constant time),
 *   except on `GET /healthz` and `GET /readyz`: a load balancer's or Kubernetes' probe reads
 *   them without credentials, and they tell no more than whether the node serves.
 *   A token is required on any non-loopback address: {@link startControl} refuses to start
 *   without one there.
 *
 * Refusals are counted in {@link ControlServer.refused}.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import { hostname, networkInterfaces } from "node:os";
import type { Cluster } from "../cluster/mod.ts";
import type { AckMode } from "../log/mod.ts";

/** Why a control request was refused. */
export type ControlRefusal = "host" | "origin" | "token" | "media-type";

/** A running control endpoint. */
export interface ControlServer {
  /** `host:port` actually bound. */
  readonly address: string;
  /** Refused requests by reason. */
  readonly refused: Record<ControlRefusal, number>;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Where and how the endpoint listens. */
export interface ControlOptions {
  /** Bind address, e.g. "127.0.0.1". */
  readonly host: string;
  /** Bind port (0 picks a free one). */
  readonly port: number;
  /** Bearer token; required when `host` is not a loopback address. */
  readonly token?: string;
  /** Called once per refused request (e.g. to print a line). */
  readonly onRefused?: (reason: ControlRefusal, req: IncomingMessage) => void;
}

/** The endpoint cannot start as configured (a non-loopback address without a token). */
export class ControlConfigError extends Error {
  /**
   * Creates an instance.
   * @param message what is wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "ControlConfigError";
  }
}

/** Whether `host` is a loopback address or the name localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) ||
    h === "::ffff:127.0.0.1";
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

/** Names a `Host` header may carry for an endpoint bound to `bindHost`. */
function allowedHosts(bindHost: string): Set<string> {
  const names = new Set(["localhost", "127.0.0.1", "::1", bindHost.toLowerCase()]);
  if (isWildcard(bindHost)) {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) names.add(i.address.toLowerCase());
    }
  }
  return names;
}

/** Splits a Host header into name and port ("[::1]:80" → ["::1", "80"]). */
function splitHost(header: string): [string, string | undefined] {
  const v = header.trim().toLowerCase();
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    if (end < 0) return [v, undefined];
    const rest = v.slice(end + 1);
    return [v.slice(1, end), rest.startsWith(":") ? rest.slice(1) : undefined];
  }
  const colon = v.lastIndexOf(":");
  if (colon < 0 || v.indexOf(":") !== colon) return [v, undefined];
  return [v.slice(0, colon), v.slice(colon + 1)];
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return false;
  const got = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

function reply(res: ServerResponse, status: number, body: unknown, extra = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...extra });
  res.end(JSON.stringify(body));
}

/** Reads a JSON request body of at most 1 MiB. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    req.on("data", (c: Uint8Array) => {
      size += c.length;
      if (size > 1 << 20) req.destroy(new Error("request body over 1 MiB"));
      else chunks.push(c);
    });
    req.on("error", reject);
    req.on("end", () => {
      try {
        resolve(JSON.parse(new TextDecoder().decode(Buffer.concat(chunks))));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/**
 * Starts the control endpoint of `node`.
 *
 * @example
 * ```ts
 * const control = await startControl(node, { host: "127.0.0.1", port: 3321, token: "s3cret" });
 * // curl -H "Authorization: Bearer s3cret" http://127.0.0.1:3321/members
 * await control.close();
 * ```
 * @param node the running node
 * @param options bind address, port, token
 */
export async function startControl(node: Cluster, options: ControlOptions): Promise<ControlServer> {
  const { host, port, token } = options;
  if (token === "") throw new ControlConfigError("the control token must not be empty");
  if (!isLoopback(host) && token === undefined) {
    throw new ControlConfigError(
      `the control endpoint on ${host} (not loopback) needs a token: --token, --token-file or CLUSTER_HTTP_TOKEN`,
    );
  }
  const allowed = allowedHosts(host);
  const refused: Record<ControlRefusal, number> = {
    host: 0,
    origin: 0,
    token: 0,
    "media-type": 0,
  };
  let boundPort = port;
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    reason: ControlRefusal,
    status: number,
    extra = {},
  ) => {
    refused[reason]++;
    try {
      options.onRefused?.(reason, req);
    } catch {
      // the callback's failure is its own business
    }
    reply(res, status, { error: `refused: ${reason}` }, extra);
  };

  const server: Server = createServer((req, res) => {
    const [name, hostPort] = splitHost(req.headers.host ?? "");
    if (!allowed.has(name) || (hostPort !== undefined && hostPort !== String(boundPort))) {
      return refuse(req, res, "host", 421);
    }
    const site = req.headers["sec-fetch-site"];
    if (req.headers.origin !== undefined || (site !== undefined && site !== "none")) {
      return refuse(req, res, "origin", 403);
    }
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      const health = node.health();
      return reply(res, (path === "/healthz" ? health.live : health.ready) ? 200 : 503, health);
    }
    if (token !== undefined && !tokenMatches(req.headers.authorization, token)) {
      return refuse(req, res, "token", 401, { "www-authenticate": 'Bearer realm="cluster"' });
    }
    if (req.method === "GET" && req.url === "/members") {
      reply(res, 200, { name: node.name, members: node.members() });
    } else if (req.method === "GET" && req.url === "/heads") {
      reply(res, 200, { heads: Object.fromEntries(node.log.heads()) });
    } else if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(node.metrics());
    } else if (req.method === "GET" && req.url === "/quorum") {
      reply(res, 200, { ...node.quorum(), voters: node.voters() });
    } else if (req.method === "POST" && req.url === "/remove-member") {
      const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") return refuse(req, res, "media-type", 415);
      readJson(req).then(async (body) => {
        const name = (body as { name?: unknown } | null)?.name;
        if (typeof name !== "string" || name === "") {
          reply(res, 400, { error: 'expected JSON { "name": "<member>" }' });
          return;
        }
        const { told } = await node.removeMember(name);
        reply(res, 200, { removed: name, told, quorum: node.quorum() });
      }).catch((err: Error) =>
        reply(res, err.name === "MembershipError" ? 409 : 400, { error: err.message })
      );
    } else if (req.method === "POST" && req.url === "/append") {
      const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") return refuse(req, res, "media-type", 415);
      readJson(req).then(async (body) => {
        const { value, key, ack, timeout } = body as {
          value?: unknown;
          key?: string;
          ack?: AckMode;
          timeout?: number;
        };
        const bytes = new TextEncoder().encode(
          typeof value === "string" ? value : JSON.stringify(value ?? null),
        );
        const at = await node.log.append(bytes, { key, ack: ack ?? "local", timeout });
        reply(res, 200, at);
      }).catch((err: Error) =>
        reply(res, err.name === "QuorumError" ? 503 : 400, { error: err.message })
      );
    } else {
      reply(res, 404, { error: "not found" });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  boundPort = (server.address() as { port: number }).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    address: `${shown}:${boundPort}`,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
