/**
 * Options of the NATS discovery and their validation (`autojoin: { nats: { url, subject } }`).
 *
 * @module
 */
import * as v from "valibot";
import type { ConfigIssue } from "../errors/mod.ts";
import { parseWithSchema } from "./config_issues.ts";

/** Subject used when the config gives none. */
export const DEFAULT_NATS_SUBJECT: string = "response-cluster";

/**
 * Options of the NATS discovery. `url` and `subject` come from the config file; the timing
 * knobs are for programs and tests (their defaults suit a LAN).
 */
export interface NatsDiscoveryOptions {
  /** Server URL(s): `nats://`, `tls://`, `ws://` or `wss://` (do not mix TCP and WebSocket). */
  readonly url: string | readonly string[];
  /** Subject prefix shared by one cluster; default `"response-cluster"`. */
  readonly subject?: string;
  /** How often this node announces itself, in ms. Default 5000. */
  readonly announceIntervalMs?: number;
  /** How long replies to a discovery request are collected, in ms. Default 1000. */
  readonly discoverWindowMs?: number;
  /** NATS handshake timeout of one connection attempt, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** First delay between attempts while NATS was never reached, in ms. Default 500. */
  readonly retryInitialMs?: number;
  /** Cap of that delay, in ms. Default 10000. */
  readonly retryMaxMs?: number;
  /** Delay between reconnect attempts after a lost connection, in ms. Default 2000. */
  readonly reconnectTimeWaitMs?: number;
}

/** The config part of {@link NatsDiscoveryOptions}, validated, defaults applied. */
export interface NatsAutojoinOptions {
  /** Server URLs (at least one). */
  url: string[];
  /** Subject prefix. */
  subject: string;
}

const URL_SCHEME = /^(nats|tls|ws|wss):\/\/[^\s/?#]+/i;

/** Whether a URL uses a WebSocket scheme. */
export function isWebSocketUrl(url: string): boolean {
  return /^wss?:\/\//i.test(url);
}

const SUBJECT_TOKEN = /^[^\s.*>]+$/;

/** Whether `subject` is a literal NATS subject: non-empty tokens, dots, no spaces/wildcards. */
export function isValidSubject(subject: string): boolean {
  return subject !== "" && subject.split(".").every((t) => SUBJECT_TOKEN.test(t));
}

const URL_TEXT = "a nats://, tls://, ws:// or wss:// URL";

function urlIssue(url: unknown): string | undefined {
  if (typeof url === "string" && URL_SCHEME.test(url)) return undefined;
  return `expected ${URL_TEXT}, got ${JSON.stringify(url) ?? String(url)}`;
}

/** Checks `url` by hand: a valibot union would hide which list item is wrong. */
function urlIssues(url: unknown, path: string): ConfigIssue[] {
  if (url === undefined) return [{ path, message: `required: ${URL_TEXT} or a list of them` }];
  if (typeof url === "string") {
    const message = urlIssue(url);
    return message === undefined ? [] : [{ path, message }];
  }
  if (!Array.isArray(url)) {
    return [{
      path,
      message: `expected ${URL_TEXT} or a list of them, got ${JSON.stringify(url)}`,
    }];
  }
  if (url.length === 0) return [{ path, message: "expected at least one URL" }];
  const issues: ConfigIssue[] = [];
  url.forEach((u, i) => {
    const message = urlIssue(u);
    if (message !== undefined) issues.push({ path: `${path}[${i}]`, message });
  });
  const ws = url.filter((u) => typeof u === "string" && isWebSocketUrl(u)).length;
  if (issues.length === 0 && ws !== 0 && ws !== url.length) {
    issues.push({ path, message: "cannot mix ws:// or wss:// URLs with nats:// or tls:// URLs" });
  }
  return issues;
}

const OPTIONS = v.object(
  {
    url: v.optional(v.unknown()),
    subject: v.optional(
      v.pipe(
        v.string("expected a string"),
        v.check(
          isValidSubject,
          (issue) =>
            `expected a NATS subject (non-empty tokens separated by dots, no spaces, no "*" or ">" wildcards), got ${
              JSON.stringify(issue.input)
            }`,
        ),
      ),
      DEFAULT_NATS_SUBJECT,
    ),
  },
  (issue) =>
    `expected an object with "url" and an optional "subject", got ${JSON.stringify(issue.input)}`,
);

/**
 * Validates NATS autojoin options from a config.
 *
 * @example
 * ```ts
 * parseNatsOptions({ url: "nats://10.0.0.5:4222" }, "cluster.autojoin.nats");
 * // { url: ["nats://10.0.0.5:4222"], subject: "response-cluster" }
 * parseNatsOptions({ url: "localhost" }, "cluster.autojoin.nats");
 * // throws ConfigError:
 * // cluster.autojoin.nats.url: expected a nats://, tls://, ws:// or wss:// URL, got "localhost"
 * ```
 * @param options the raw value under `autojoin.nats`
 * @param path its dotted path
 * @throws ConfigError
 */
export function parseNatsOptions(options: unknown, path: string): NatsAutojoinOptions {
  const isObject = typeof options === "object" && options !== null && !Array.isArray(options);
  const url = isObject ? (options as { url?: unknown }).url : undefined;
  const out = parseWithSchema(
    OPTIONS,
    ["url", "subject"],
    options,
    path,
    isObject ? urlIssues(url, `${path}.url`) : [],
  );
  return { url: typeof url === "string" ? [url] : [...(url as string[])], subject: out.subject };
}
