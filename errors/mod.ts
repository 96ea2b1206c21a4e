/**
 * The error base of every typed error the library throws, and the configuration error shared
 * by the stanza parser and the discovery registry.
 *
 * Every error of this library is a {@link ClusterError}: `code` is stable and meant for
 * programs (`"ECONNREFUSED"`, `"quorum"`, `"config"`), `reason` is the sentence for people,
 * and `cause` (standard) carries the underlying error where there is one.
 *
 * ```ts
 * import { ClusterError } from "./mod.ts";
 * try {
 *   await node.log.append(bytes, { ack: "quorum" });
 * } catch (e) {
 *   if (e instanceof ClusterError) console.error(e.code, e.reason);
 * }
 * ```
 *
 * @module
 */

/**
 * Base class of the library's typed errors.
 *
 * @example
 * ```ts
 * class DiskFullError extends ClusterError<"disk-full"> {
 *   constructor(path: string) {
 *     super("disk-full", `no space left under ${path}`);
 *   }
 * }
 * const e = new DiskFullError("/var/lib/cluster");
 * e.code; // "disk-full"
 * e.name; // "DiskFullError"
 * ```
 */
export class ClusterError<Code extends string = string> extends Error {
  /** Stable, machine-readable kind of the error. */
  readonly code: Code;
  /** What went wrong, for people (the message, without any prefix the subclass adds). */
  readonly reason: string;

  /**
   * Creates the error; `name` is the subclass's name.
   * @param code stable kind
   * @param reason what went wrong
   * @param options `cause`: the underlying error; `message`: a message other than `reason`
   */
  constructor(code: Code, reason: string, options?: { cause?: unknown; message?: string }) {
    super(
      options?.message ?? reason,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.reason = reason;
  }
}

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
export class NameConflictError extends ClusterError<"name-conflict"> {
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
      "name-conflict",
      self
        ? `another node announces this node's name "${node}" from ${theirs} (this node is at ${mine}): give every node a unique name`
        : `two nodes claim the name "${node}": ${mine} (known here) and ${theirs}: give every node a unique name`,
    );
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
export class ConfigError extends ClusterError<"config"> {
  /** Every issue found (never empty). */
  readonly issues: ConfigIssue[];

  /**
   * Creates the error.
   * @param issues the problems found; each becomes one line of the message
   */
  constructor(issues: ConfigIssue[]) {
    super(
      "config",
      issues.length === 0
        ? "invalid configuration"
        : issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("\n"),
    );
    this.issues = issues;
  }
}
