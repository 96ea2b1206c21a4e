/**
 * A name claimed from two addresses: two nodes started with the same name, or a node that
 * restarted elsewhere while its old self is still alive. memberlist keeps the member it knows
 * and tells the delegate (Go: ConflictDelegate.NotifyConflict) and the log.
 *
 * @module
 */
import type { Core } from "./core.ts";
import { type NodeRecord, toMember } from "./member.ts";

/**
 * Logs the conflict and hands it to `delegate.notifyConflict`.
 *
 * @example
 * ```ts
 * reportConflict(core, table.byName.get("web")!, { host: "10.0.0.9", port: 3322 });
 * ```
 */
export function reportConflict(
  core: Core,
  existing: NodeRecord,
  theirs: { host: string; port: number },
): void {
  const self = existing.name === core.name;
  core.logger.warn(
    self
      ? "another node announces this node's name from another address"
      : "conflicting address for a member",
    {
      node: existing.name,
      mine: `${existing.host}:${existing.port}`,
      theirs: `${theirs.host}:${theirs.port}`,
    },
  );
  try {
    core.delegate.notifyConflict?.(toMember(existing), { name: existing.name, address: theirs });
  } catch (e) {
    core.logger.warn("conflict delegate threw", {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
