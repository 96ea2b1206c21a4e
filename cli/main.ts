#!/usr/bin/env node
/**
 * The `response-cluster` command.
 *
 *   agent --config <file.json|file.hcl> [--name N] [--control host:port] [--data-dir DIR]
 *         [--token T | --token-file F] [--encrypt <base64 key>]
 *       runs one node (cli/agent.ts); prints JSON lines (`ready`, member, quorum and log
 *       events); leaves and exits on SIGINT/SIGTERM. `--data-dir` keeps the log in a
 *       FileLogStore (fsync always) so a restarted agent resumes it. The control endpoint
 *       (cli/control.ts; HTTP, default 127.0.0.1:3321) serves members, heads, quorum, append,
 *       remove-member, metrics, healthz and readyz; its bearer token is optional on loopback
 *       and required on any other address.
 *   members [--control host:port] [--json] [--token T | --token-file F]
 *       asks a running agent for its member list and prints a table.
 *   remove-member <name> [--control host:port] [--token T | --token-file F]
 *       takes a failed member out of the voting membership (like `serf force-leave`).
 *   demo
 *       the live demo: a 3-node cluster in this process on loopback.
 *
 * `--help` (or `<command> --help`) prints the usage and exits 0. A mistake is one line on
 * stderr that says what to do, exit 2 for wrong usage and 1 for everything else.
 *
 * Runs on Deno (`deno run -A cli/main.ts …`) and Node (`npx response-cluster …`).
 *
 * @module
 */
import process from "node:process";
import { runDemo } from "./demo.ts";
import { controlToken, runAgent } from "./agent.ts";
import { ConfigError } from "../errors/mod.ts";
import { formatHostPort, parseHostPort } from "../transport/mod.ts";
import { CliError, type Command, DEFAULT_CONTROL, parseFlags, USAGE, UsageError } from "./usage.ts";

/** A request to a running agent; a one-line CliError when none answers. */
async function askAgent(
  command: "members" | "remove-member",
  flags: Record<string, string | undefined>,
  path: string,
  init: { method?: string; body?: string; timeoutMs: number },
): Promise<Response> {
  const control = flags["--control"] ?? DEFAULT_CONTROL;
  let target: string;
  try {
    target = formatHostPort(parseHostPort(control));
  } catch (err) {
    throw new UsageError(`${command}: --control ${control}: ${(err as Error).message}`, command);
  }
  const token = await controlToken(flags);
  try {
    return await fetch(`http://${target}${path}`, {
      method: init.method ?? "GET",
      body: init.body,
      headers: {
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch {
    throw new CliError(
      `no agent answers on ${target}: start one with \`response-cluster agent --config <file>\`` +
        (flags["--control"] ? "" : " (or pass --control host:port)"),
    );
  }
}

const CONTROL_FLAGS = { "--control": true, "--token": true, "--token-file": true };

async function members(args: string[]): Promise<number> {
  const flags = parseFlags("members", args, { ...CONTROL_FLAGS, "--json": false });
  const res = await askAgent("members", flags, "/members", { timeoutMs: 5000 });
  if (!res.ok) {
    throw new CliError(`the agent answered HTTP ${res.status}: ${await res.text()}`);
  }
  const body = await res.json() as {
    name: string;
    members: { name: string; address: string; state: string; incarnation: number }[];
  };
  if (flags["--json"] !== undefined) {
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
  const name = args[0] !== undefined && !args[0].startsWith("-") ? args[0] : undefined;
  if (name === undefined) {
    throw new UsageError("remove-member: the member's name is required", "remove-member");
  }
  const flags = parseFlags("remove-member", args.slice(1), CONTROL_FLAGS);
  const res = await askAgent("remove-member", flags, "/remove-member", {
    method: "POST",
    body: JSON.stringify({ name }),
    timeoutMs: 15_000,
  });
  const body = await res.json() as {
    error?: string;
    told?: number;
    quorum?: { voters: number; reachable: number; needed: number; hasQuorum: boolean };
  };
  if (!res.ok) throw new CliError(`remove-member: ${body.error ?? res.statusText}`);
  const q = body.quorum!;
  process.stdout.write(
    `removed ${name} (told ${body.told} members); voters ${q.voters}, reachable ${q.reachable}, ` +
      `needed ${q.needed}: ${q.hasQuorum ? "quorum" : "no quorum"}\n`,
  );
  return 0;
}

const wantsHelp = (args: string[]) => args.includes("--help") || args.includes("-h");

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined) {
    process.stderr.write(USAGE.main);
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    const topic = rest[0];
    process.stdout.write(topic && topic in USAGE ? USAGE[topic as Command] : USAGE.main);
    return 0;
  }
  if (
    command === "agent" || command === "members" || command === "remove-member" ||
    command === "demo"
  ) {
    if (wantsHelp(rest)) {
      process.stdout.write(USAGE[command]);
      return 0;
    }
  }
  switch (command) {
    case "agent":
      return await runAgent(rest);
    case "members":
      return await members(rest);
    case "remove-member":
      return await removeMember(rest);
    case "demo":
      parseFlags("demo", rest, {});
      return await runDemo({ out: process.stdout, live: process.stdout.isTTY === true });
    default:
      throw new UsageError(`unknown command "${command}"`, "main");
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(
        `response-cluster: ${err.message} (see \`response-cluster ${
          err.command === "main" ? "" : `${err.command} `
        }--help\`)\n`,
      );
      process.exit(2);
    }
    const message = err instanceof ConfigError
      ? `invalid configuration:\n${err.message}`
      : err instanceof CliError
      ? err.message
      : err instanceof Error
      ? err.message
      : String(err);
    process.stderr.write(`response-cluster: ${message}\n`);
    if (process.env.RESPONSE_CLUSTER_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(err.stack + "\n");
    }
    process.exit(1);
  },
);
