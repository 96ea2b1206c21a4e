/**
 * Errors shared by the configuration parser and the discovery registry.
 *
 * @module
 */

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
