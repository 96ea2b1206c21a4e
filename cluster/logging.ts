/**
 * The logger every layer writes to, and the adapters that give each layer its own view of it.
 *
 * Call shape: `logger.warn(message, fields)`, message first, then one object of structured
 * fields. `console` and winston take exactly that; pino and bunyan take fields first, so wrap
 * them with {@link fieldsFirst}. Every line carries `layer` (`memberlist`, `log`, `discovery`,
 * `cluster`) in its fields and as the message's prefix.
 *
 * @module
 */
import type { Logger } from "./types.ts";
import type { MemberlistLogger } from "../memberlist/mod.ts";
import type { LogLogger } from "../log/mod.ts";
import type { DiscoveryLogger } from "../discovery/mod.ts";

/** The logger that writes nothing (the default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A pino- or bunyan-style logger: fields first, then the message. */
export interface FieldsFirstTarget {
  /** Routine detail. */
  debug(fields: Record<string, unknown>, message: string): void;
  /** Notable events. */
  info(fields: Record<string, unknown>, message: string): void;
  /** Degraded but running. */
  warn(fields: Record<string, unknown>, message: string): void;
  /** Something failed. */
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Adapts a fields-first logger (pino, bunyan) to the cluster's {@link Logger}.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * const node = await cluster(stanza, { logger: fieldsFirst(pino()) });
 * ```
 * @param target the pino or bunyan logger
 */
export function fieldsFirst(target: FieldsFirstTarget): Logger {
  return {
    debug: (m, f) => target.debug(f ?? {}, m),
    info: (m, f) => target.info(f ?? {}, m),
    warn: (m, f) => target.warn(f ?? {}, m),
    error: (m, f) => target.error(f ?? {}, m),
  };
}

type Level = keyof Logger;

/** A call that never throws into the caller: a broken logger must not break a node. */
function line(logger: Logger, level: Level, layer: string, message: string, fields?: object) {
  try {
    logger[level](`${layer}: ${message}`, { layer, ...(fields as Record<string, unknown>) });
  } catch {
    // the application's logger failed; nothing sensible to do from here
  }
}

/** The view of one layer: messages prefixed with it and `layer` in the fields. */
export function layerLogger(logger: Logger, layer: string): Logger {
  return {
    debug: (m, f) => line(logger, "debug", layer, m, f),
    info: (m, f) => line(logger, "info", layer, m, f),
    warn: (m, f) => line(logger, "warn", layer, m, f),
    error: (m, f) => line(logger, "error", layer, m, f),
  };
}

/** memberlist's logger (debug and warn). */
export function memberlistLogger(logger: Logger): MemberlistLogger {
  const l = layerLogger(logger, "memberlist");
  return {
    debug: (m, d) => l.debug(m, d as Record<string, unknown>),
    warn: (m, d) => l.warn(m, d as Record<string, unknown>),
  };
}

/** The replicated log's logger (debug and warn). */
export function logLogger(logger: Logger): LogLogger {
  return layerLogger(logger, "log");
}

/** Discovery's logger. */
export function discoveryLogger(logger: Logger): DiscoveryLogger {
  return layerLogger(logger, "discovery");
}
