#!/usr/bin/env node
/**
 * The `response-cluster` command.
 *
 *   agent --config <file.json|file.hcl> [--name N] [--control host:port] [--data-dir DIR]
 *         [--token T | --token-file F]
 *       runs one node; prints JSON lines (`ready`, member and log events); leaves and exits on
 *       SIGINT/SIGTERM. `--data-dir` keeps the log in a FileLogStore (fsync always) so a
 *       restarted agent resumes it. The control endpoint (HTTP, default 127.0.0.1:3321) serves
 *       `GET /members`, `GET /heads`, `GET /quorum`, `POST /append` (JSON
 *       `{ value, key?, ack?, timeout? }`, answered `{ origin, seq }` once acknowledged) and
 *       `POST /remove-member` (JSON `{ name }`). Its bearer token (`--token`, `--token-file`, or
 *       `CLUSTER_HTTP_TOKEN`) is optional on loopback and required on any other address; `Host`
 *       and `Origin` are checked (cli/control.ts).
 *   members [--control host:port] [--json] [--token T | --token-file F]
 *       asks a running agent for its member list and prints a table.
 *   remove-member <name> [--control host:port] [--token T | --token-file F]
 *       takes a failed member out of the voting membership of the agent and of every member
 *       it sees alive (like `serf force-leave`), so quorum writes count without it.
 *   demo
 *       the live demo: a 3-node cluster in this process on loopback.
 *
 * Runs on Deno (`deno run -A cli/main.ts …`) and Node (`npx response-cluster …`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { cluster, clusterStanza } from "../cluster/mod.ts";
import { readClusterStanza } from "./config_file.ts";
import { runDemo } from "./demo.ts";
import { ConfigError } from "../errors/mod.ts";
import { FileLogStore } from "../log/mod.ts";
import { type ControlRefusal, type ControlServer, isLoopback, startControl } from "./control.ts";
import { parseHostPort } from "../transport/mod.ts";

const DEFAULT_CONTROL = "127.0.0.1:3321";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The control token: `--token`, else `--token-file` (trimmed), else `CLUSTER_HTTP_TOKEN`. */
async function controlToken(args: string[]): Promise<string | undefined> {
  const given = flag(args, "--token");
  if (given !== undefined) return given;
  const file = flag(args, "--token-file");
  if (file !== undefined) return (await readFile(file, "utf8")).trim();
  const env = process.env.CLUSTER_HTTP_TOKEN;
  return env === undefined || env === "" ? undefined : env;
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
  const stanza = clusterStanza(await readClusterStanza(configPath));
  const control = parseHostPort(flag(args, "--control") ?? DEFAULT_CONTROL);
  const token = await controlToken(args);
  if (token === undefined && !isLoopback(control.host)) {
    process.stderr.write(
      `agent: the control endpoint ${control.host} is not loopback: give it a token ` +
        `(--token, --token-file or CLUSTER_HTTP_TOKEN)\n`,
    );
    return 2;
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
  node.on("quorum", (q) => print("quorum", { ...q }));
  const unsubscribe = node.log.subscribe((entry) =>
    print("entry", {
      origin: entry.origin,
      seq: entry.seq,
      key: entry.key,
      bytes: entry.value.length,
    })
  );

  // a refusal is printed at most once per reason every 10 s: a hostile page must not flood
  const printedAt = new Map<ControlRefusal, number>();
  let server: ControlServer;
  try {
    server = await startControl(node, {
      host: control.host,
      port: control.port,
      token,
      onRefused: (reason, req) => {
        const now = Date.now();
        if (now - (printedAt.get(reason) ?? 0) < 10_000) return;
        printedAt.set(reason, now);
        print("control-refused", {
          reason,
          remote: req.socket.remoteAddress,
          host: req.headers.host,
        });
      },
    });
  } catch (err) {
    await node.close();
    throw err;
  }
  print("ready", { name: node.name, ...node.addresses, control: server.address });

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  unsubscribe();
  await node.leave();
  await server.close();
  print("stopped", { name: node.name });
  return 0;
}

async function members(args: string[]): Promise<number> {
  const control = flag(args, "--control") ?? DEFAULT_CONTROL;
  const token = await controlToken(args);
  const res = await fetch(`http://${control}/members`, {
    signal: AbortSignal.timeout(5000),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  if (!res.ok) {
    process.stderr.write(`members: ${control} answered ${res.status}: ${await res.text()}\n`);
    return 1;
  }
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

async function removeMember(args: string[]): Promise<number> {
  const valued = new Set(["--control", "--token", "--token-file"]);
  const name = args.find((a, i) => !a.startsWith("--") && !valued.has(args[i - 1]));
  if (!name) {
    process.stderr.write("remove-member: the member's name is required\n");
    return 2;
  }
  const control = flag(args, "--control") ?? DEFAULT_CONTROL;
  const token = await controlToken(args);
  const res = await fetch(`http://${control}/remove-member`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.json() as {
    error?: string;
    told?: number;
    quorum?: { voters: number; reachable: number; needed: number; hasQuorum: boolean };
  };
  if (!res.ok) {
    process.stderr.write(`remove-member: ${body.error ?? res.statusText}\n`);
    return 1;
  }
  const q = body.quorum!;
  process.stdout.write(
    `removed ${name} (told ${body.told} members); voters ${q.voters}, reachable ${q.reachable}, ` +
      `needed ${q.needed}: ${q.hasQuorum ? "quorum" : "no quorum"}\n`,
  );
  return 0;
}

async function main(args: string[]): Promise<number> {
  switch (args[0]) {
    case "agent":
      return await agent(args.slice(1));
    case "members":
      return await members(args.slice(1));
    case "remove-member":
      return await removeMember(args.slice(1));
    case "demo":
      return await runDemo({ out: process.stdout, live: process.stdout.isTTY === true });
    default:
      process.stderr.write(
        "usage: response-cluster agent --config <file> [--name N] [--control host:port] [--data-dir DIR]\n" +
          "                                [--token T | --token-file F]\n" +
          "       response-cluster members [--control host:port] [--json] [--token T | --token-file F]\n" +
          "       response-cluster remove-member <name> [--control host:port] [--token T | --token-file F]\n" +
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
