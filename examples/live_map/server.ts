/**
 * The live map's HTTP side, on plain `node:http` (so it runs on Node, Deno and Bun): sessions
 * and positions kept in the cluster's replicated cache, a server-sent-events feed of positions
 * fed by `node.cache.onChange`, and the `/healthz` and `/readyz` probes a load balancer uses.
 *
 * Routes:
 * - `GET /` the page, `GET /map.js` its script;
 * - `POST /login` `{"name": "alice"}` creates a session in the cache (key `session:<id>`, with a
 *   TTL) and sets the `sid` cookie; `GET /me` reads it back on any instance; `POST /logout`;
 * - `POST /position` `{"x": 3, "y": 7}` stores the user's position (key `position:<user>`);
 * - `GET /events` server-sent events: `hello` (which instance serves the stream), `members`
 *   (each member's state, again whenever it changes), then every position, now and whenever
 *   one changes anywhere in the cluster;
 * - `GET /healthz` 200 while the process runs; `GET /readyz` 200 when it should get traffic.
 *
 * Every response carries `x-served-by: <node name>`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Cluster } from "../../mod.ts";
import { GRID, MAP_JS, PAGE_HTML } from "./page.ts";

/** How the live map behaves. */
export interface LiveMapOptions {
  /** Acknowledgement a login waits for: "quorum" (default; survives losing the instance) or "local". */
  sessionAck: "quorum" | "local";
  /** Session lifetime, ms. */
  sessionTtlMs: number;
  /** Without a peer in sight, ready anyway after this long (the first instance of a cluster), ms. */
  settleMs: number;
}

/** Why an instance is, or is not, ready. */
export interface Readiness {
  /** Whether the load balancer should send it traffic. */
  ready: boolean;
  /** "ready", "joining", "no quorum" or "draining". */
  reason: string;
}

const POSITION_TTL_MS = 10 * 60_000;
const MAX_BODY = 8 * 1024;
const NAME = /^[\w .@-]{1,32}$/;

/** A request error answered with its status and a one-line JSON `{ error }`. */
class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Builds the request handler of one instance. On shutdown, `markDraining()` makes `/readyz`
 * answer 503; `endStreams()` ends every event stream (browsers reconnect elsewhere).
 */
export function liveMap(node: Cluster, options: LiveMapOptions): {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  readiness: () => Readiness;
  markDraining: () => void;
  endStreams: () => void;
} {
  const started = Date.now();
  let joined = false;
  let draining = false;
  const streams = new Set<ServerResponse>();

  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: "draining" };
    // Joined once another member is alive, or after the settle time (the first instance up).
    joined ||= node.members().some((m) => m.name !== node.name && m.state === "alive") ||
      Date.now() - started >= options.settleMs;
    if (!joined) return { ready: false, reason: "joining" };
    if (options.sessionAck === "quorum" && !node.hasQuorum) {
      return { ready: false, reason: "no quorum" };
    }
    return { ready: true, reason: "ready" };
  };

  // One listener for the whole process: every change of a position, local or replicated,
  // goes to every open stream of this instance.
  node.cache.onChange((change) => {
    if (!change.key.startsWith("position:")) return;
    const data = change.deleted
      ? { user: change.key.slice("position:".length), deleted: true }
      : JSON.parse(new TextDecoder().decode(change.value));
    for (const res of streams) send(res, "position", data);
  });
  // Membership as the cluster's events report it, so the page shows who is up.
  const members = () => node.members().map((m) => ({ name: m.name, state: m.state }));
  for (const event of ["member-join", "member-leave", "member-failed", "member-suspect"] as const) {
    node.on(event, () => {
      for (const res of streams) send(res, "members", members());
    });
  }
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": ping\n\n"); // keeps proxies from timing out
  }, 15_000);

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no", // nginx: pass events through at once
    });
    res.write("retry: 1000\n\n"); // reconnect after 1 s when the stream breaks
    send(res, "hello", { instance: node.name });
    send(res, "members", members());
    for (const [key, value] of node.cache.entries()) {
      if (key.startsWith("position:")) {
        send(res, "position", JSON.parse(new TextDecoder().decode(value)));
      }
    }
    streams.add(res);
    req.on("close", () => streams.delete(res));
  };

  const session = (req: IncomingMessage): { user: string; since: string } => {
    const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? "")?.[1];
    const s = sid
      ? node.cache.getJSON<{ user: string; since: string }>(`session:${sid}`)
      : undefined;
    if (!s) throw new HttpError(401, "not logged in: POST /login first");
    return s;
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/") return reply(res, 200, PAGE_HTML, "text/html");
    if (method === "GET" && path === "/map.js") return reply(res, 200, MAP_JS, "text/javascript");
    if (method === "GET" && path === "/healthz") return json(res, 200, { alive: true });
    if (method === "GET" && path === "/readyz") {
      const r = readiness();
      return json(res, r.ready ? 200 : 503, { ...r, members: members() });
    }
    if (method === "GET" && path === "/events") return events(req, res);
    if (method === "GET" && path === "/me") {
      return json(res, 200, { ...session(req), instance: node.name });
    }
    if (method === "POST" && path === "/login") {
      const { name } = await body(req);
      if (typeof name !== "string" || !NAME.test(name)) {
        throw new HttpError(400, "name: expected 1-32 letters, digits, spaces or . @ - _");
      }
      const sid = crypto.randomUUID();
      const value = { user: name, since: new Date().toISOString() };
      try {
        await node.cache.setJSON(`session:${sid}`, value, {
          ttl: options.sessionTtlMs,
          ack: options.sessionAck,
        });
      } catch (err) {
        throw new HttpError(503, `session not stored on a quorum, try again: ${err}`);
      }
      res.setHeader(
        "set-cookie",
        `sid=${sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${
          Math.floor(options.sessionTtlMs / 1000)
        }`,
      );
      return json(res, 200, { ...value, instance: node.name });
    }
    if (method === "POST" && path === "/logout") {
      const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? "")?.[1];
      if (sid) await node.cache.delete(`session:${sid}`);
      res.setHeader("set-cookie", "sid=; Path=/; Max-Age=0");
      return json(res, 200, {});
    }
    if (method === "POST" && path === "/position") {
      const { user } = session(req);
      const { x, y } = await body(req);
      for (const [k, v] of [["x", x], ["y", y]] as const) {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= GRID) {
          throw new HttpError(400, `${k}: expected an integer 0-${GRID - 1}, got ${String(v)}`);
        }
      }
      const position = { user, x, y, at: Date.now(), via: node.name };
      await node.cache.setJSON(`position:${user}`, position, { ttl: POSITION_TTL_MS });
      return json(res, 200, position);
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("x-served-by", node.name);
    if (draining) res.setHeader("connection", "close");
    route(req, res).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) json(res, status, { error: String(err.message ?? err) });
      else res.end();
    });
  };

  const markDraining = () => {
    draining = true;
  };
  const endStreams = () => {
    clearInterval(heartbeat);
    for (const res of streams) res.end(); // browsers reconnect, through the LB, elsewhere
    streams.clear();
  };

  return { handle, readiness, markDraining, endStreams };
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function reply(res: ServerResponse, status: number, text: string, type: string): void {
  res.writeHead(status, { "content-type": `${type}; charset=utf-8` }).end(text);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  reply(res, status, JSON.stringify(value) + "\n", "application/json");
}

/** The request body as a JSON object (at most 8 KiB). */
async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(Buffer.concat(chunks)));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // answered below
  }
  throw new HttpError(400, 'body: expected a JSON object such as {"name": "alice"}');
}
