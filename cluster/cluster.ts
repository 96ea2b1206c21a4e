/**
 * `cluster()`: composes config, presets, memberlist, the replicated log and discovery into one
 * running node. memberlist and log do not know each other; the node (node.ts) wires membership
 * into the log replicator (which peers exist, and where their log listens, from node metadata).
 *
 * @module
 */
import type { ClusterOptions } from "./types.ts";
import { parseClusterConfig } from "./config.ts";
import { presets } from "../presets/mod.ts";
import { encodeNodeMeta } from "./node_meta.ts";
import { Keyring, type Member, Memberlist } from "../memberlist/mod.ts";
import { ReplicatedLog } from "../log/mod.ts";
import {
  createDiscovery,
  type Discovery,
  registerDiscovery,
  staticDiscovery,
} from "../discovery/mod.ts";
import { type HostPort, nodeNetwork, systemClock } from "../transport/mod.ts";
import { logLogger, memberlistLogger, silentLogger } from "./logging.ts";
import { bindError, defaultName, gossipAdvertise, logAdvertise, logOrigin } from "./support.ts";
import { Cluster } from "./node.ts";

export { Cluster };

type ConflictSink = (existing: Member, other: { name: string; address: HostPort }) => void;

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
 * @param stanza the `cluster` stanza, keys as in the config file
 * @param options name, metadata, keys, store, logger, extra discovery plugins
 */
export async function cluster(stanza: unknown, options: ClusterOptions = {}): Promise<Cluster> {
  // Plugins first: the stanza's autojoin names are checked against the registry.
  for (const [pluginName, factory] of Object.entries(options.discovery ?? {})) {
    registerDiscovery(pluginName, factory);
  }
  const config = parseClusterConfig(stanza);
  const name = options.name ?? defaultName();
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  if (!config) {
    const log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store),
      environment: "local",
      clock,
      store: options.store,
    });
    return new Cluster({
      name,
      config: undefined,
      log,
      memberlist: undefined,
      keyring: undefined,
      logger,
      clock,
      logAdvertise: { host: "", port: 0 },
      attributes: options.meta ?? {},
      readiness: options.readiness,
      meterProvider: options.meterProvider,
    });
  }
  const preset = presets[config.environment];
  const network = options.network ?? nodeNetwork;
  let discovery: Discovery | undefined;
  if (config.members) discovery = staticDiscovery({ members: [...config.members] });
  else if (config.autojoin) discovery = createDiscovery(config.autojoin);

  let log: ReplicatedLog;
  try {
    log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store),
      environment: config.environment,
      network,
      clock,
      bind: { host: config.bind_address, port: config.bind_port },
      tuning: preset.log,
      store: options.store,
      logger: logLogger(logger),
    });
  } catch (err) {
    throw bindError("bind_port", config.bind_address, config.bind_port, err);
  }
  let memberlist: Memberlist;
  let keyring: Keyring | undefined;
  const logAt = logAdvertise(config, log.address!.port);
  // memberlist exists before the node does: its conflicts go through this late-bound sink
  let onConflict: ConflictSink = () => {};
  try {
    keyring = options.keyring instanceof Keyring
      ? options.keyring
      : options.keyring
      ? await Keyring.create(options.keyring)
      : undefined;
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
        meta,
        advertise: gossipAdvertise(config),
        logger: memberlistLogger(logger),
        delegate: { notifyConflict: (existing, other) => onConflict(existing, other) },
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
  const node = new Cluster({
    name,
    config,
    log,
    memberlist,
    keyring,
    logger,
    clock,
    logAdvertise: logAt,
    attributes: options.meta ?? {},
    readiness: options.readiness,
    meterProvider: options.meterProvider,
  });
  onConflict = (existing, other) => node.conflict(existing, other);
  try {
    await node.start(discovery);
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
