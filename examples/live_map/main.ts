/**
 * The live map server: one instance of a web application that embeds `@response/cluster`.
 * Run three of them behind a load balancer; sessions and positions are shared through the
 * cluster's replicated cache, so any instance can serve any request (see README.md here).
 *
 *   deno run -A examples/live_map/main.ts --name a --http-port 8081 \
 *     --bind-address 127.0.0.1 --bind-port 3320 --memberlist-port 3322 \
 *     --members 127.0.0.1:3322,127.0.0.1:3422,127.0.0.1:3522
 *
 * Every flag has an environment variable (flags win): --http-host HTTP_HOST (0.0.0.0),
 * --http-port HTTP_PORT (8080), --name NODE_NAME (host name + suffix), --environment
 * CLUSTER_ENVIRONMENT (local), --bind-address CLUSTER_BIND_ADDRESS (0.0.0.0; for both cluster
 * listeners), --bind-port CLUSTER_BIND_PORT (3320, the log), --memberlist-port
 * CLUSTER_MEMBERLIST_PORT (3322, gossip), --members CLUSTER_MEMBERS (comma-separated
 * host:port of the gossip listeners), --session-ack SESSION_ACK (quorum | local),
 * --session-ttl-ms SESSION_TTL_MS (3600000), --settle-ms READY_SETTLE_MS (3000),
 * --drain-delay-ms DRAIN_DELAY_MS (2000: how long /readyz says 503 before the streams close).
 *
 * On SIGTERM (or SIGINT): not ready at once; after the drain delay stop accepting, end the
 * event streams, let requests in flight finish, `node.leave()` (members see "left" rather than
 * "failed"), exit 0.
 *
 * @module
 */
import { createServer } from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";
// An application imports "@response/cluster"; the example uses the sources it sits next to.
import { type Cluster, cluster, clusterStanza } from "../../mod.ts";
import { liveMap } from "./server.ts";

const flags = {
  "http-host": ["HTTP_HOST", "0.0.0.0"],
  "http-port": ["HTTP_PORT", "8080"],
  name: ["NODE_NAME", ""],
  environment: ["CLUSTER_ENVIRONMENT", "local"],
  "bind-address": ["CLUSTER_BIND_ADDRESS", "0.0.0.0"],
  "bind-port": ["CLUSTER_BIND_PORT", "3320"],
  "memberlist-port": ["CLUSTER_MEMBERLIST_PORT", "3322"],
  members: ["CLUSTER_MEMBERS", ""],
  "session-ack": ["SESSION_ACK", "quorum"],
  "session-ttl-ms": ["SESSION_TTL_MS", "3600000"],
  "settle-ms": ["READY_SETTLE_MS", "3000"],
  "drain-delay-ms": ["DRAIN_DELAY_MS", "2000"],
} as const;
type Flag = keyof typeof flags;

function fail(message: string): never {
  console.error(`live_map: ${message}`);
  process.exit(2);
}

function settings(): Record<Flag, string> {
  let parsed;
  try {
    parsed = parseArgs({
      options: Object.fromEntries(
        Object.keys(flags).map((f) => [f, { type: "string" as const }]),
      ),
    }).values as Partial<Record<Flag, string>>;
  } catch (err) {
    fail(
      `${err instanceof Error ? err.message : err} (flags: --${Object.keys(flags).join(", --")})`,
    );
  }
  const out = {} as Record<Flag, string>;
  for (const [flag, [env, fallback]] of Object.entries(flags) as [Flag, readonly string[]][]) {
    out[flag] = parsed[flag] ?? process.env[env] ?? fallback;
  }
  return out;
}

function int(s: Record<Flag, string>, flag: Flag): number {
  const n = Number(s[flag]);
  if (!Number.isInteger(n) || n < 0) {
    fail(`--${flag} (${flags[flag][0]}): expected a whole number, got "${s[flag]}"`);
  }
  return n;
}

const s = settings();
if (s["session-ack"] !== "quorum" && s["session-ack"] !== "local") {
  fail(`--session-ack (SESSION_ACK): expected quorum or local, got "${s["session-ack"]}"`);
}
// Every number checked before anything starts.
const httpPort = int(s, "http-port");
const sessionTtlMs = int(s, "session-ttl-ms");
const settleMs = int(s, "settle-ms");
const drainDelayMs = int(s, "drain-delay-ms");
const bindPort = int(s, "bind-port");
const memberlistPort = int(s, "memberlist-port");
const members = s.members.split(",").map((m) => m.trim()).filter((m) => m !== "");

let node: Cluster;
try {
  // flags are untyped input: clusterStanza() validates them like a config file
  node = await cluster(
    clusterStanza({
      environment: s.environment,
      bind_address: s["bind-address"],
      bind_port: bindPort,
      memberlist_bind_address: s["bind-address"],
      memberlist_bind_port: memberlistPort,
      ...(members.length > 0 ? { members } : {}),
    }),
    {
      ...(s.name !== "" ? { name: s.name } : {}),
      logger: console,
    },
  );
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
node.on("error", (err) => console.error(`live_map: cluster: ${err.message}`));

const app = liveMap(node, {
  sessionAck: s["session-ack"],
  sessionTtlMs,
  settleMs,
});
const server = createServer(app.handle);
server.on("error", (err) => fail(`http: ${err.message}`));
server.listen(httpPort, s["http-host"], () => {
  console.log(
    `live_map: ${node.name} serving http://${s["http-host"]}:${httpPort}/ ` +
      `(cluster ${node.addresses.memberlist}, log ${node.addresses.log})`,
  );
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`live_map: ${signal}: not ready; draining`);
  // A hard deadline, whatever hangs.
  setTimeout(() => process.exit(1), 15_000).unref();
  app.markDraining(); // /readyz answers 503 from now on
  // Give the load balancer time to see /readyz fail before refusing connections.
  await new Promise((r) => setTimeout(r, drainDelayMs));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  app.endStreams(); // browsers reconnect through the load balancer, to another instance
  server.closeIdleConnections?.();
  await closed; // requests in flight finish
  // leave(), not close(): the others see "left" at once instead of suspecting a failure.
  await node.leave();
  console.log("live_map: left the cluster; bye");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
