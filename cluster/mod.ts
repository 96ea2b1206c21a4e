/**
 * The composition of a node: `cluster()` validates the stanza, picks the preset, and wires
 * discovery, memberlist and the log together over one transport. The root `mod.ts` publishes
 * this door.
 *
 * ```ts
 * import { cluster } from "./mod.ts";
 * const node = await cluster({ environment: "local", bind_port: 0, memberlist_bind_port: 0 });
 * await node.close();
 * ```
 *
 * @module
 */
export { Cluster, cluster } from "./cluster.ts";
export {
  type AutojoinStanza,
  type ClusterConfig,
  type ClusterStanza,
  clusterStanza,
  ConfigError,
  type ConfigIssue,
  type Environment,
  parseClusterConfig,
} from "./config.ts";
export type {
  ClusterEvents,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  Logger,
} from "./types.ts";
export { ClusterError } from "../errors/mod.ts";
export { MembershipError, type QuorumStatus } from "./voters.ts";
export type { ClusterEmitter } from "./events.ts";
