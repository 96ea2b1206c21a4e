/**
 * The CLI's usage texts, its flag parser and the errors that end it with one line.
 *
 * @module
 */

/** Default address of an agent's control endpoint. */
export const DEFAULT_CONTROL = "127.0.0.1:3321";

/** The top level (`main`) and each command. */
export type Command = "main" | "agent" | "members" | "remove-member" | "demo";

/** Usage of the command and of each subcommand (what `--help` prints). */
export const USAGE: Readonly<Record<Command, string>> = {
  main: `usage: response-cluster <command> [options]
       response-cluster agent --config <file> [--name N] [--control host:port] [--data-dir DIR]
                              [--ready-members N] [--ready-quorum] [--token T | --token-file F]
                              [--encrypt <base64 key>]
       response-cluster members [--control host:port] [--json] [--token T | --token-file F]
       response-cluster remove-member <name> [--control host:port] [--token T | --token-file F]
       response-cluster demo

commands:
  agent --config <file>   run one node from a config file (JSON or HCL), with an HTTP
                          control endpoint (members, append, metrics, health)
  members                 print the members a running agent sees
  remove-member <name>    take a failed member out of the voting membership (quorum)
  demo                    a 3-node cluster in this process on loopback, live

\`response-cluster <command> --help\` describes a command.
`,
  agent: `usage: response-cluster agent --config <file.json|file.hcl> [options]

Runs one node from the \`cluster\` stanza of the file; prints JSON lines (ready, member
events, log entries); on SIGINT or SIGTERM it leaves the cluster gracefully and exits 0.

options:
  --config <file>         the Response Server config file (required)
  --name <name>           unique node name (default: host name and a random suffix)
  --control <host:port>   HTTP control endpoint (default ${DEFAULT_CONTROL}; port 0 = any)
  --data-dir <dir>        keep the log in files there (a restart resumes it)
  --ready-members <n>     /readyz once this many members were seen alive, itself included
                          (default 2 with members or autojoin in the config, else 1)
  --ready-quorum          /readyz also needs a quorum of the voting membership
  --token <t>             bearer token of the control endpoint (required off loopback)
  --token-file <file>     the token, read from a file (or set CLUSTER_HTTP_TOKEN)
  --encrypt <base64 key>  the stanza's \`encrypt\` key: gossip and the log port keyed
                          (the stanza's \`encrypt_file\` keeps the key out of \`ps\`)

control endpoint (Host and Origin checked; the token, when set, on all but the probes):
  GET  /members        the member list (JSON)
  GET  /heads          the log's heads per origin (JSON)
  GET  /quorum         voters, reachable, needed, hasQuorum (JSON)
  POST /append         {"value": ..., "key"?: ..., "ack"?: "local"|"quorum", "timeout"?: ms}
  POST /remove-member  {"name": "<member>"}
  GET  /metrics        every counter, Prometheus text format
  GET  /healthz        200 while the node runs, else 503
  GET  /readyz         200 once joined (see README: Metrics and health), else 503 with reasons
`,
  members:
    `usage: response-cluster members [--control host:port] [--json] [--token T | --token-file F]

Asks a running agent for the members it sees and prints a table (or JSON with --json).

options:
  --control <host:port>   the agent's control endpoint (default ${DEFAULT_CONTROL})
  --json                  print the agent's JSON answer as it is
  --token <t>             the agent's bearer token (or --token-file, CLUSTER_HTTP_TOKEN)
`,
  "remove-member":
    `usage: response-cluster remove-member <name> [--control host:port] [--token T | --token-file F]

Takes a failed member out of the voting membership, on the agent and on every member it sees
alive (like \`serf force-leave\`): quorum appends then need a majority of the members left.
Refused (exit 1) for an alive member, an unknown name, or the agent itself.

options:
  --control <host:port>   the agent's control endpoint (default ${DEFAULT_CONTROL})
  --token <t>             the agent's bearer token (or --token-file, CLUSTER_HTTP_TOKEN)
`,
  demo: `usage: response-cluster demo

Starts three nodes in this process on loopback, appends and reads entries, writes the
cache, kills a node and brings it back, and shows every step (live in a terminal, plain
lines otherwise). Takes about half a minute; exits 0 when every node saw every entry.
`,
};

/** Wrong usage: printed as one line with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  /** The command whose usage applies (`main` for the top level). */
  readonly command: Command;

  /** @param message what is wrong @param command whose `--help` to point at */
  constructor(message: string, command: Command) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure that one line explains (no stack), exit code 1. */
export class CliError extends Error {
  /** @param message what failed and what to do */
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * Parses `--flag value` and `--switch` arguments; `spec` says which flags take a value.
 * Unknown flags, stray words and missing values are {@link UsageError}s.
 */
export function parseFlags(
  command: Command,
  args: string[],
  spec: Record<string, boolean>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!(arg in spec)) {
      throw new UsageError(
        arg.startsWith("-")
          ? `${command}: unknown option ${arg}`
          : `${command}: unexpected argument "${arg}"`,
        command,
      );
    }
    if (spec[arg]) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`${command}: ${arg} needs a value`, command);
      }
      out[arg] = value;
      i++;
    } else out[arg] = "";
  }
  return out;
}
