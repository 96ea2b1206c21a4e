/**
 * Errors shared by the configuration parser and the discovery registry.
 *
 * @module
 */

/**
 * Two nodes claim one name from different addresses. Emitted as the `error` event on every
 * node that sees it (both claimants included); the newcomer is not admitted until one of them
 * is renamed.
 *
 * @example
 * ```ts
 * node.on("error", (err) => {
 *   if (err instanceof NameConflictError) console.error(err.node, err.mine, err.theirs);
 * });
 * ```
 */
export class NameConflictError extends Error {
  /** The contested name. */
  readonly node: string;
  /** The address this node knows the name at (its own, when it is its own name). */
  readonly mine: string;
  /** The address the other claimant announces. */
  readonly theirs: string;

  /**
   * Creates the error.
   * @param node the contested name
   * @param mine the address known here
   * @param theirs the other claimant's address
   * @param self whether the contested name is this node's own
   */
  constructor(node: string, mine: string, theirs: string, self: boolean) {
    super(
      self
        ? `another node announces this node's name "${node}" from ${theirs} (this node is at ${mine}): give every node a unique name`
        : `two nodes claim the name "${node}": ${mine} (known here) and ${theirs}: give every node a unique name`,
    );
    this.name = "NameConflictError";
    this.node = node;
    this.mine = mine;
    this.theirs = theirs;
  }
}

/** One problem found in the configuration, located by a dotted path. */
export interface ConfigIssue {
  /** Dotted path of the offending value, e.g. `cluster.autojoin.nats.url`. */
  path: string;
  /** What is wrong, e.g. `expected a nats://, tls://, ws:// or wss:// URL, got "localhost"`. */
  message: string;
}

/**
 * The configuration is invalid. The message has one line per issue: `path: message`.
 *
 * @example
 * ```ts
 * const err = new ConfigError([{ path: "cluster.autojoin.nats.url", message: "required" }]);
 * err.message; // "cluster.autojoin.nats.url: required"
 * err.issues.length; // 1
 * ```
 */
export class ConfigError extends Error {
  /** Every issue found (never empty). */
  readonly issues: ConfigIssue[];

  /**
   * Creates the error.
   * @param issues the problems found; each becomes one line of the message
   */
  constructor(issues: ConfigIssue[]) {
    super(
      issues.length === 0
        ? "invalid configuration"
        : issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}
