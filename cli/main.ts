#!/usr/bin/env node
/**
 * The `response-cluster` command.
 *
 *   agent --config <file.json|file.hcl> [--name N] [--control host:port] [--data-dir DIR]
 *       runs one node; prints JSON lines (`ready`, member and log events); leaves and exits on
 *       SIGINT/SIGTERM. `--data-dir` keeps the log in a FileLogStore (fsync always) so a
 *       restarted agent resumes it. The control endpoint (HTTP, default 127.0.0.1:3321) serves
 *       `GET /members`, `GET /heads`, `POST /append` (JSON `{ value, key?, ack?, timeout? }`,
 *       answered `{ origin, seq }` once acknowledged), `GET /metrics` (Prometheus text),
 *       `GET /healthz` and `GET /readyz` (200 or 503 with the reasons).
 *   members [--control host:port] [--json]
 *       asks a running agent for its member list and prints a table.
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
import { runAgent } from "./agent.ts";
import { ConfigError } from "../errors/mod.ts";
import { formatHostPort, parseHostPort } from "../transport/address.ts";
import { CliError, type Command, DEFAULT_CONTROL, parseFlags, USAGE, UsageError } from "./usage.ts";

async function members(args: string[]): Promise<number> {
  const flags = parseFlags("members", args, { "--control": true, "--json": false });
  const control = flags["--control"] ?? DEFAULT_CONTROL;
  let target: string;
  try {
    target = formatHostPort(parseHostPort(control));
  } catch (err) {
    throw new UsageError(`members: --control ${control}: ${(err as Error).message}`, "members");
  }
  let res: Response;
  try {
    res = await fetch(`http://${target}/members`, { signal: AbortSignal.timeout(5000) });
  } catch {
    throw new CliError(
      `no agent answers on ${target}: start one with \`response-cluster agent --config <file>\`` +
        (flags["--control"] ? "" : " (or pass --control host:port)"),
    );
  }
  if (!res.ok) throw new CliError(`the agent on ${target} answered HTTP ${res.status}`);
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
  if (command === "agent" || command === "members" || command === "demo") {
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
