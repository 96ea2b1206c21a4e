/**
 * `response-cluster agent`: one node from a config file, its events as JSON lines on stdout,
 * and an HTTP control endpoint (cli/control.ts: members, heads, quorum, append, removal,
 * metrics, health).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { cluster, clusterStanza } from "../cluster/mod.ts";
import { readClusterStanza } from "./config_file.ts";
import { FileLogStore } from "../log/mod.ts";
import { parseHostPort } from "../transport/mod.ts";
import { type ControlRefusal, type ControlServer, isLoopback, startControl } from "./control.ts";
import { CliError, DEFAULT_CONTROL, parseFlags, UsageError } from "./usage.ts";

function print(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, t: new Date().toISOString(), ...fields }) + "\n");
}

/** The control token: `--token`, else `--token-file` (trimmed), else `CLUSTER_HTTP_TOKEN`. */
export async function controlToken(
  flags: Record<string, string | undefined>,
): Promise<string | undefined> {
  const given = flags["--token"];
  if (given !== undefined) return given;
  const file = flags["--token-file"];
  if (file !== undefined) {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (err) {
      throw new CliError(`cannot read the token file ${file}: ${(err as Error).message}`);
    }
  }
  const env = process.env.CLUSTER_HTTP_TOKEN;
  return env === undefined || env === "" ? undefined : env;
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
    "--token": true,
    "--token-file": true,
    "--encrypt": true,
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
  const token = await controlToken(flags);
  if (token === undefined && !isLoopback(control.host)) {
    throw new UsageError(
      `agent: the control endpoint ${control.host} is not loopback: give it a token ` +
        `(--token, --token-file or CLUSTER_HTTP_TOKEN)`,
      "agent",
    );
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
  // --encrypt sets the stanza's `encrypt` key (gossip and log); encrypt_file keeps it out of ps
  const encrypt = flags["--encrypt"];
  if (encrypt !== undefined && typeof stanza === "object" && stanza !== null) {
    stanza = { ...stanza, encrypt };
  }
  const dataDir = flags["--data-dir"];
  const node = await cluster(clusterStanza(stanza), {
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
    const code = (err as { code?: string }).code;
    throw new CliError(
      code === "EADDRINUSE"
        ? `the control endpoint ${control.host}:${control.port} is in use (another agent?): pass --control host:port`
        : `cannot listen on ${control.host}:${control.port} for the control endpoint: ${
          (err as Error).message
        }`,
    );
  }
  print("ready", {
    name: node.name,
    ...node.addresses,
    control: server.address,
    security: node.security,
  });

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
