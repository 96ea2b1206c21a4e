/**
 * One node of our Memberlist in its own process, speaking the same stdin/stdout line
 * protocol as the Go interop peer (testing/go-peer/main.go), so benches and tests can drive
 * both the same way.
 *
 *   npx deno run -A testing/ts_peer.ts -name a -preset local [-join 127.0.0.1:7946] ...
 *   node build/ts-peer-node/testing/ts_peer.js -name a ...
 *
 * Flags: -name -bind -port -preset -key -join -meta -state -protocol -debug and the tuning
 * overrides of the Go peer (-probe-interval-ms, -suspicion-mult, ...).
 * Commands: join a,b | leave <ms> | members | meta <s> | send <node> <text> | health |
 * counters | quit. Events: ready, join, update, suspect, leave (kind dead|left), msg,
 * remote_state, members, health, counters, result, log, exit.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createInterface } from "node:readline";
import { Keyring, type Member, Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { formatHostPort, nodeNetwork } from "../transport/mod.ts";
import { presets } from "../presets/mod.ts";

type Fields = Record<string, unknown>;

function emit(fields: Fields): void {
  process.stdout.write(JSON.stringify({ ...fields, t_ms: Date.now() }) + "\n");
}

function fatal(message: string): never {
  emit({ event: "fatal", error: message });
  process.exit(2);
}

const TUNING_FLAGS: Record<string, keyof MemberlistTuning> = {
  "-probe-interval-ms": "probeIntervalMs",
  "-probe-timeout-ms": "probeTimeoutMs",
  "-indirect-checks": "indirectChecks",
  "-gossip-interval-ms": "gossipIntervalMs",
  "-gossip-nodes": "gossipNodes",
  "-gossip-to-dead-ms": "gossipToTheDeadMs",
  "-suspicion-mult": "suspicionMult",
  "-suspicion-max-mult": "suspicionMaxTimeoutMult",
  "-retransmit-mult": "retransmitMult",
  "-pushpull-interval-ms": "pushPullIntervalMs",
  "-tcp-timeout-ms": "tcpTimeoutMs",
  "-awareness-max-mult": "awarenessMaxMultiplier",
  "-udp-buffer-size": "udpBufferSize",
  "-dead-node-reclaim-ms": "deadNodeReclaimMs",
};
const BOOL_FLAGS = new Set(["-disable-tcp-pings", "-disable-compression", "-debug"]);

function parseFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i].replace(/^--/, "-");
    if (BOOL_FLAGS.has(f)) flags.set(f, "true");
    else if (i + 1 < argv.length) flags.set(f, argv[++i]);
    else fatal(`flag ${f} needs a value`);
  }
  return flags;
}

function memberFields(m: Member): Fields {
  return {
    node: m.name,
    addr: formatHostPort(m.address),
    meta: new TextDecoder().decode(m.meta),
    incarnation: m.incarnation,
    state: m.state,
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const name = flags.get("-name") ?? fatal("-name is required");
  const presetName = flags.get("-preset") ?? "local";
  if (presetName !== "local" && presetName !== "lan" && presetName !== "wan") {
    fatal(`unknown preset ${presetName} (local|lan|wan)`);
  }
  const tuning: MemberlistTuning = { ...presets[presetName].memberlist };
  for (const [flag, field] of Object.entries(TUNING_FLAGS)) {
    const v = flags.get(flag);
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isFinite(n)) fatal(`${flag} needs a number`);
    (tuning as unknown as Record<string, number>)[field] = n;
  }
  if (flags.has("-disable-tcp-pings")) tuning.disableTcpPings = true;
  const debug = flags.has("-debug");
  const enc = new TextEncoder();
  let localState = enc.encode(flags.get("-state") ?? "");
  const protocol = flags.get("-protocol");

  const keyHex = flags.get("-key");
  if (keyHex !== undefined && !/^([0-9a-f]{32}|[0-9a-f]{48}|[0-9a-f]{64})$/i.test(keyHex)) {
    fatal("-key must be 32, 48 or 64 hex digits");
  }
  const keyring = keyHex
    ? await Keyring.create([new Uint8Array(Buffer.from(keyHex, "hex"))])
    : undefined;
  const ml = await Memberlist.create({
    name,
    network: nodeNetwork,
    bind: { host: flags.get("-bind") ?? "127.0.0.1", port: Number(flags.get("-port") ?? "0") },
    tuning,
    keyring,
    meta: enc.encode(flags.get("-meta") ?? ""),
    enableCompression: !flags.has("-disable-compression"),
    protocolVersion: protocol !== undefined && Number(protocol) >= 0 ? Number(protocol) : undefined,
    delegate: {
      localState: () => localState,
      mergeRemoteState: (buf, join) =>
        emit({ event: "remote_state", join, data: new TextDecoder().decode(buf) }),
      notifyMsg: (buf) =>
        emit({
          event: "msg",
          data: new TextDecoder().decode(buf),
          hex: Buffer.from(buf).toString("hex"),
        }),
    },
    logger: {
      debug: (msg, data) => {
        if (debug) {
          emit({ event: "log", line: `[DEBUG] ${msg} ${data ? JSON.stringify(data) : ""}` });
        }
      },
      warn: (msg, data) =>
        emit({ event: "log", line: `[WARN] ${msg} ${data ? JSON.stringify(data) : ""}` }),
    },
  }).catch((err: unknown) => fatal(`create: ${err instanceof Error ? err.message : String(err)}`));

  ml.on("join", (m) => emit({ event: "join", ...memberFields(m) }));
  ml.on("update", (m) => emit({ event: "update", ...memberFields(m) }));
  ml.on("suspect", (m) => emit({ event: "suspect", ...memberFields(m) }));
  // One "leave" event for both, like Go's NotifyLeave; `kind` keeps the distinction.
  ml.on("dead", (m) => emit({ event: "leave", kind: "dead", ...memberFields(m) }));
  ml.on("left", (m) => emit({ event: "leave", kind: "left", ...memberFields(m) }));
  emit({ event: "ready", name: ml.name, addr: formatHostPort(ml.address), port: ml.address.port });

  const result = (cmd: string, err?: unknown, extra: Fields = {}): void =>
    emit({
      event: "result",
      cmd,
      ok: err === undefined,
      ...extra,
      ...(err === undefined ? {} : { error: err instanceof Error ? err.message : String(err) }),
    });

  const doJoin = async (list: string): Promise<void> => {
    const addrs = list.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      const r = await ml.join(addrs);
      const errors = r.errors.map((e) => `${e.address}: ${e.error.message}`).join("; ");
      result("join", r.joined > 0 ? undefined : new Error(errors || "no node joined"), {
        count: r.joined,
      });
    } catch (err) {
      result("join", err, { count: 0 });
    }
  };

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await ml.shutdown();
    emit({ event: "exit" });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());

  const run = async (line: string): Promise<void> => {
    const i = line.indexOf(" ");
    const verb = i < 0 ? line : line.slice(0, i);
    const arg = i < 0 ? "" : line.slice(i + 1).trim();
    switch (verb) {
      case "join":
        return await doJoin(arg);
      case "leave":
        try {
          await ml.leave(Number(arg));
          return result("leave");
        } catch (err) {
          return result("leave", err);
        }
      case "members": {
        // like Go's Members(): nodes that are neither dead nor left
        const members = ml.members().filter((m) => m.state === "alive" || m.state === "suspect")
          .map((m) => {
            const { node, ...rest } = memberFields(m);
            return { name: node, ...rest };
          });
        emit({ event: "members", members });
        return result("members");
      }
      case "meta":
        try {
          await ml.updateMeta(enc.encode(arg));
          return result("meta");
        } catch (err) {
          return result("meta", err);
        }
      case "state":
        localState = enc.encode(arg);
        return result("state");
      case "send": {
        const j = arg.indexOf(" ");
        try {
          if (j < 0) throw new Error("usage: send <node> <text>");
          await ml.sendReliable(arg.slice(0, j), enc.encode(arg.slice(j + 1)));
          return result("send");
        } catch (err) {
          return result("send", err);
        }
      }
      case "health":
        emit({ event: "health", score: ml.healthScore() });
        return result("health");
      case "counters":
        emit({ event: "counters", counters: ml.counters() });
        return result("counters");
      default:
        return result(verb, new Error("unknown command"));
    }
  };

  const initialJoin = flags.get("-join");
  if (initialJoin) await doJoin(initialJoin);

  // Commands run one at a time, in order, like the Go peer; EOF on stdin stops the node.
  let chain: Promise<void> = Promise.resolve();
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (raw) => {
    const line = raw.trim();
    if (line === "") return;
    if (line === "quit") {
      chain = chain.then(stop);
      return;
    }
    chain = chain.then(() => run(line));
  });
  rl.on("close", () => {
    chain = chain.then(stop);
  });
}

await main();
