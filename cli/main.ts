#!/usr/bin/env node
/**
 * The `response-cluster` command.
 *
 *   agent --config <file.json|file.hcl> [--name N] [--control host:port] [--data-dir DIR]
 *         [--encrypt <base64 key>]
 *       runs one node; prints JSON lines (`ready`, member and log events); leaves and exits on
 *       SIGINT/SIGTERM. `--data-dir` keeps the log in a FileLogStore (fsync always) so a
 *       restarted agent resumes it. The control endpoint (HTTP, default 127.0.0.1:3321) serves
 *       `GET /members`, `GET /heads` and `POST /append` (JSON `{ value, key?, ack?, timeout? }`,
 *       answered `{ origin, seq }` once acknowledged). `--encrypt` sets the stanza's `encrypt`
 *       key (gossip and log); the stanza's `encrypt_file` keeps the key out of `ps`.
 *   members [--control host:port] [--json]
 *       asks a running agent for its member list and prints a table.
 *   demo
 *       the live demo: a 3-node cluster in this process on loopback.
 *
 * Runs on Deno (`deno run -A cli/main.ts …`) and Node (`npx response-cluster …`).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import process from "node:process";
import { cluster } from "../cluster/cluster.ts";
import { readClusterStanza } from "./config_file.ts";
import { runDemo } from "./demo.ts";
import { ConfigError } from "../errors/mod.ts";
import { type AckMode, FileLogStore } from "../log/mod.ts";
import { parseHostPort } from "../transport/address.ts";

const DEFAULT_CONTROL = "127.0.0.1:3321";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function print(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, t: new Date().toISOString(), ...fields }) + "\n");
}

async function agent(args: string[]): Promise<number> {
  const configPath = flag(args, "--config");
  if (!configPath) {
    process.stderr.write("agent: --config <file.json|file.hcl> is required\n");
    return 2;
  }
  let stanza = await readClusterStanza(configPath);
  const encrypt = flag(args, "--encrypt");
  if (encrypt !== undefined && typeof stanza === "object" && stanza !== null) {
    stanza = { ...stanza, encrypt };
  }
  const dataDir = flag(args, "--data-dir");
  const node = await cluster(stanza, {
    name: flag(args, "--name"),
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

  const control = parseHostPort(flag(args, "--control") ?? DEFAULT_CONTROL);
  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/members") {
      reply(res, 200, { name: node.name, members: node.members() });
    } else if (req.method === "GET" && req.url === "/heads") {
      reply(res, 200, { heads: Object.fromEntries(node.log.heads()) });
    } else if (req.method === "POST" && req.url === "/append") {
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
    server.listen(control.port, control.host, () => resolve());
  });
  const controlPort = (server.address() as { port: number }).port;
  print("ready", {
    name: node.name,
    ...node.addresses,
    control: `${control.host}:${controlPort}`,
    security: node.security,
  });

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

async function members(args: string[]): Promise<number> {
  const control = flag(args, "--control") ?? DEFAULT_CONTROL;
  const res = await fetch(`http://${control}/members`, { signal: AbortSignal.timeout(5000) });
  const body = await res.json() as {
    name: string;
    members: { name: string; address: string; state: string; incarnation: number }[];
  };
  if (args.includes("--json")) {
    process.stdout.write(JSON.stringify(body) + "\n");
    return 0;
  }
  const rows = [
    ["NAME", "ADDRESS", "STATE", "INCARNATION"],
    ...body.members.map((m) => [m.name, m.address, m.state, String(m.incarnation)]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) {
    process.stdout.write(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd() + "\n");
  }
  return 0;
}

async function main(args: string[]): Promise<number> {
  switch (args[0]) {
    case "agent":
      return await agent(args.slice(1));
    case "members":
      return await members(args.slice(1));
    case "demo":
      return await runDemo({ out: process.stdout, live: process.stdout.isTTY === true });
    default:
      process.stderr.write(
        "usage: response-cluster agent --config <file> [--name N] [--control host:port] [--data-dir DIR]\n" +
          "                              [--encrypt <base64 key>]\n" +
          "       response-cluster members [--control host:port] [--json]\n" +
          "       response-cluster demo\n",
      );
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(
      (err instanceof ConfigError
        ? `invalid configuration:\n${err.message}`
        : String(err?.stack ?? err)) + "\n",
    );
    process.exit(1);
  },
);
