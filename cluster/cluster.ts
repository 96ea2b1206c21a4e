/**
 * `cluster()`: composes config, presets, memberlist, the replicated log and discovery into one
 * running node. memberlist and log do not know each other; the node (node.ts) wires
 * membership into the log replicator (which peers exist, and where their log listens, from
 * node metadata).
 *
 * @module
 */
import type { ClusterOptions } from "./types.ts";
import { parseClusterConfig } from "./config.ts";
import type { ClusterStanza } from "./stanza.ts";
import { presets } from "../presets/mod.ts";
import { encodeNodeMeta } from "./node_meta.ts";
import { bindError, defaultName, gossipAdvertise, logAdvertise, logOrigin } from "./startup.ts";
import { logLogger, memberlistLogger, silentLogger } from "./logging.ts";
import { decodeRemoval } from "./voters.ts";
import { emitEvent } from "./events.ts";
import { Cluster, nodeHooks } from "./node.ts";
import { Memberlist } from "../memberlist/mod.ts";
import { nodeSecurity, openPortsWarning } from "./security.ts";
import { ReplicatedLog } from "../log/mod.ts";
import { createDiscovery, type Discovery, staticDiscovery } from "../discovery/mod.ts";
import { nodeNetwork, systemClock } from "../transport/mod.ts";

export { Cluster };

/**
 * Starts a node from the `cluster` stanza of the server's config.
 *
 * Validates the stanza (throws a `ConfigError` listing every problem), picks the preset of its
 * environment, binds the log listener (`bind_address:bind_port`, TCP) and the memberlist
 * listener (`memberlist_bind_address:memberlist_bind_port`, UDP and TCP), starts discovery and
 * returns the running {@link Cluster}. Without a stanza (`undefined`) the node is isolated:
 * nothing is bound, and the log and cache work locally.
 *
 * @example
 * ```ts
 * const a = await cluster({ environment: "local", bind_port: 0, memberlist_bind_port: 0 }, { name: "a" });
 * const b = await cluster(
 *   { environment: "local", bind_port: 0, memberlist_bind_port: 0, members: [a.addresses.memberlist!] },
 *   { name: "b" },
 * );
 * await b.cache.set("k", new TextEncoder().encode("v"));
 * await b.close();
 * await a.close();
 * ```
 * @param stanza the `cluster` stanza, keys as in the config file; untyped input (a parsed
 *   config file) goes through `clusterStanza()` first
 * @param options name, metadata, keys, store, logger, extra discovery plugins
 */
export async function cluster(
  stanza: ClusterStanza | undefined,
  options: ClusterOptions = {},
): Promise<Cluster> {
  const config = parseClusterConfig(stanza, { discovery: options.discovery });
  const name = options.name ?? defaultName();
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const common = {
    name,
    keyring: undefined,
    logger,
    clock,
    attributes: options.meta ?? {},
    readiness: options.readiness,
    meterProvider: options.meterProvider,
  };
  if (!config) {
    const log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store, clock.now()),
      environment: "local",
      clock,
      store: options.store,
    });
    return nodeHooks.create({
      ...common,
      config: undefined,
      log,
      memberlist: undefined,
      logAdvertise: { host: "", port: 0 },
    });
  }
  const preset = presets[config.environment];
  const network = options.network ?? nodeNetwork;
  let discovery: Discovery | undefined;
  if (config.members) {
    discovery = staticDiscovery({ members: [...config.members], random: options.random });
  } else if (config.autojoin) discovery = createDiscovery(config.autojoin, options.discovery);

  // Memberlist and the log exist before the node does: what they report for the node
  // (refused input, crash hints, removals, name conflicts) goes through `built`.
  const built: { node?: Cluster } = {};
  // one keyring protects gossip and the log: the app's, or the stanza's encrypt/encrypt_file
  const { keyring, log: security, state } = await nodeSecurity(config, options.keyring);
  let log: ReplicatedLog;
  let memberlist: Memberlist | undefined;
  try {
    log = await ReplicatedLog.create({
      // refused peer input (far-future timestamps, own-origin writes...): a log line, and an
      // "error" event once the node exists
      onError: (err) => {
        logger.error(err.message);
        if (built.node) emitEvent(built.node, "error", err);
      },
      name,
      origin: logOrigin(name, options.store, clock.now()),
      environment: config.environment,
      network,
      clock,
      bind: { host: config.bind_address, port: config.bind_port },
      tuning: preset.log,
      store: options.store,
      minQuorum: config.min_quorum,
      // a log connection lost without goodbye, or a refused log port, is crash evidence:
      // membership checks the member at once (the preset's deadOnRefusal decides what follows)
      onPeerLost: (peer, reason) => memberlist?.probeNow(peer, reason),
      logger: logLogger(logger),
      security,
    });
  } catch (err) {
    throw bindError("bind_port", config.bind_address, config.bind_port, err);
  }
  const logAt = logAdvertise(config, log.address!.port);
  try {
    const meta = encodeNodeMeta({
      environment: config.environment,
      logHost: logAt.host,
      logPort: logAt.port,
      attributes: options.meta ?? {},
    });
    try {
      memberlist = await Memberlist.create({
        name,
        network,
        clock,
        bind: { host: config.memberlist_bind_address, port: config.memberlist_bind_port },
        tuning: preset.memberlist,
        keyring,
        gossipVerifyIncoming: config.encrypt_verify_incoming,
        gossipVerifyOutgoing: config.encrypt_verify_outgoing,
        meta,
        random: options.random,
        advertise: gossipAdvertise(config),
        logger: memberlistLogger(logger),
        delegate: {
          notifyMsg: (buf) => {
            const removed = decodeRemoval(buf);
            if (removed !== undefined && built.node) nodeHooks.removal(built.node, removed);
          },
          notifyConflict: (existing, other) => {
            if (built.node) nodeHooks.conflict(built.node, existing, other);
          },
        },
      });
    } catch (err) {
      throw bindError(
        "memberlist_bind_port",
        config.memberlist_bind_address,
        config.memberlist_bind_port,
        err,
      );
    }
  } catch (err) {
    await log.close();
    throw err;
  }
  const node = built.node = nodeHooks.create({
    ...common,
    config,
    log,
    memberlist,
    keyring,
    logAdvertise: logAt,
    security: state,
  });
  const warning = openPortsWarning(state, config, log.address!, memberlist.address);
  if (warning !== undefined) logger.warn(warning);
  try {
    await nodeHooks.start(node, discovery);
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
