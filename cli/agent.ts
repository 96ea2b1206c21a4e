/**
 * `response-cluster agent`: one node from a config file, its events as JSON lines on stdout,
 * and an HTTP control endpoint (members, heads, append, metrics, health).
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import process from "node:process";
import { cluster } from "../cluster/cluster.ts";
import type { Cluster } from "../cluster/node.ts";
import { readClusterStanza } from "./config_file.ts";
import { type AckMode, FileLogStore } from "../log/mod.ts";
import { parseHostPort } from "../transport/address.ts";
import { CliError, DEFAULT_CONTROL, parseFlags, UsageError } from "./usage.ts";

function print(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, t: new Date().toISOString(), ...fields }) + "\n");
}

/** Runs the agent until SIGINT or SIGTERM; resolves the exit code. */
export async function runAgent(args: string[]): Promise<number> {
  const flags = parseFlags("agent", args, {
    "--config": true,
    "--name": true,
    "--control": true,
    "--data-dir": true,
    "--ready-members": true,
    "--ready-quorum": false,
  });
  const readyMembers = flags["--ready-members"];
  if (readyMembers !== undefined && !/^[1-9][0-9]*$/.test(readyMembers)) {
    throw new UsageError(
      `agent: --ready-members expects a positive integer, got "${readyMembers}"`,
      "agent",
    );
  }
  const configPath = flags["--config"];
  if (!configPath) {
    throw new UsageError("agent: --config <file.json|file.hcl> is required", "agent");
  }
  let control: { host: string; port: number };
  try {
    control = parseHostPort(flags["--control"] ?? DEFAULT_CONTROL);
  } catch (err) {
    throw new UsageError(`agent: --control: ${(err as Error).message}`, "agent");
  }
  let stanza: unknown;
  try {
    stanza = await readClusterStanza(configPath);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
      throw new CliError(`cannot read the config file ${configPath} (${code}): check the path`);
    }
    throw err;
  }
  const dataDir = flags["--data-dir"];
  const node = await cluster(stanza, {
    name: flags["--name"],
    readiness: {
      members: readyMembers ? Number(readyMembers) : undefined,
      quorum: flags["--ready-quorum"] !== undefined,
    },
    store: dataDir ? await FileLogStore.open(dataDir, { fsync: "always" }) : undefined,
    logger: {
      debug() {},
      info: (message, fields) => print("log", { level: "info", message, ...fields }),
      warn: (message, fields) => print("log", { level: "warn", message, ...fields }),
      error: (message, fields) => print("log", { level: "error", message, ...fields }),
    },
  });
  for (
    const event of [
      "member-join",
      "member-update",
      "member-suspect",
      "member-failed",
      "member-leave",
    ] as const
  ) {
    node.on(event, (m) => print(event, { node: m.name, address: m.address, state: m.state }));
  }
  node.on("error", (err) => print("error", { message: err.message }));
  const unsubscribe = node.log.subscribe((entry) =>
    print("entry", {
      origin: entry.origin,
      seq: entry.seq,
      key: entry.key,
      bytes: entry.value.length,
    })
  );

  const server = createServer((req, res) => serve(node, req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(control.port, control.host, () => resolve());
    });
  } catch (err) {
    await node.close();
    const code = (err as { code?: string }).code;
    throw new CliError(
      code === "EADDRINUSE"
        ? `the control endpoint ${control.host}:${control.port} is in use (another agent?): pass --control host:port`
        : `cannot listen on ${control.host}:${control.port} for the control endpoint: ${
          (err as Error).message
        }`,
    );
  }
  const controlPort = (server.address() as { port: number }).port;
  print("ready", { name: node.name, ...node.addresses, control: `${control.host}:${controlPort}` });

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  unsubscribe();
  await node.leave();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  print("stopped", { name: node.name });
  return 0;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function serve(node: Cluster, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && path === "/members") {
    reply(res, 200, { name: node.name, members: node.members() });
  } else if (req.method === "GET" && path === "/heads") {
    reply(res, 200, { heads: Object.fromEntries(node.log.heads()) });
  } else if (req.method === "GET" && path === "/metrics") {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(node.metrics());
  } else if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
    const health = node.health();
    const ok = path === "/healthz" ? health.live : health.ready;
    reply(res, ok ? 200 : 503, health);
  } else if (req.method === "POST" && path === "/append") {
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
