/**
 * The security keys of the `cluster` stanza (Serf/Consul spelling): `encrypt`,
 * `encrypt_file`, `encrypt_verify_incoming`, `encrypt_verify_outgoing` and the `tls` block;
 * their validation, and what the node builds from them (keyring, log protection, the
 * open-ports warning, the `security` part of `stats()`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { ConfigIssue } from "../errors/mod.ts";
import type { LogSecurity } from "../log/mod.ts";
import { Keyring } from "../memberlist/mod.ts";
import { formatHostPort, type HostPort } from "../transport/mod.ts";

/** Paths of mutual TLS on the log port: the cluster's CA, this node's certificate and key. */
export interface TlsConfig {
  /** PEM file of the CA that signs every member's certificate. */
  readonly ca_file: string;
  /** PEM file of this node's certificate (server and client authentication). */
  readonly cert_file: string;
  /** PEM file of this node's private key. */
  readonly key_file: string;
}

/** The validated security keys of the stanza. */
export interface SecurityConfig {
  /** One base64 key (16, 24 or 32 bytes; 32 recommended) protecting gossip and the log. */
  readonly encrypt?: string;
  /** A file of base64 keys, one per line, the first being the primary. */
  readonly encrypt_file?: string;
  /** Refuse plaintext gossip and log connections (default true; false while migrating). */
  readonly encrypt_verify_incoming: boolean;
  /** Send gossip encrypted and dial the log keyed (default true; false while migrating). */
  readonly encrypt_verify_outgoing: boolean;
  /** Mutual TLS on the log port. */
  readonly tls?: TlsConfig;
}

/** How each port of a running node is protected, as `stats().security` reports it. */
export interface SecurityState {
  /** Gossip (memberlist_bind_port): keyring or nothing. */
  readonly gossip: "open" | "keyed";
  /** Replication (bind_port): keyring, mutual TLS or nothing. */
  readonly log: "open" | "keyed" | "tls";
  /** Plaintext peers are refused (false only during a migration). */
  readonly verifyIncoming: boolean;
  /** This node sends keyed (false only during a migration). */
  readonly verifyOutgoing: boolean;
}

/** Keys of the stanza this file validates. */
export const SECURITY_KEYS = [
  "encrypt",
  "encrypt_file",
  "encrypt_verify_incoming",
  "encrypt_verify_outgoing",
  "tls",
] as const;
const TLS_KEYS = ["ca_file", "cert_file", "key_file"] as const;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Decodes one base64 key of 16, 24 or 32 bytes; a message when it is not one. */
function decodeKey(text: string): Uint8Array | string {
  const t = text.trim();
  if (!BASE64.test(t) || t.length % 4 !== 0) return "expected a base64 key";
  const key = new Uint8Array(Buffer.from(t, "base64"));
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    return `expected a base64 key of 16, 24 or 32 bytes (32 recommended), got ${key.length} bytes`;
  }
  return key;
}

function readText(path: string): string | Error {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The keys of an `encrypt_file`, or an issue message. */
function fileKeys(path: string): Uint8Array[] | string {
  const text = readText(path);
  if (text instanceof Error) return `cannot read ${path}: ${text.message}`;
  const keys: Uint8Array[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "" || lines[i].trim().startsWith("#")) continue;
    const key = decodeKey(lines[i]);
    if (typeof key === "string") return `${path} line ${i + 1}: ${key}`;
    keys.push(key);
  }
  return keys.length > 0 ? keys : `${path} holds no key (one base64 key per line)`;
}

/**
 * Validates the security keys of a stanza, appending every problem to `issues`.
 *
 * @example
 * ```ts
 * const issues: ConfigIssue[] = [];
 * const sec = parseSecurity({ encrypt: "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=" }, issues);
 * sec.encrypt_verify_incoming; // true
 * ```
 * @param record the stanza
 * @param issues where problems go (`cluster.encrypt: …`)
 * @returns the validated keys, defaults applied (meaningful only when no issue was added)
 */
export function parseSecurity(
  record: Record<string, unknown>,
  issues: ConfigIssue[],
): SecurityConfig {
  const bool = (key: string): boolean => {
    const value = record[key];
    if (value === undefined) return true;
    if (typeof value !== "boolean") {
      issues.push({
        path: `cluster.${key}`,
        message: `expected true or false, got ${typeof value}`,
      });
    }
    return value !== false;
  };
  const out: {
    -readonly [K in keyof SecurityConfig]: SecurityConfig[K];
  } = {
    encrypt_verify_incoming: bool("encrypt_verify_incoming"),
    encrypt_verify_outgoing: bool("encrypt_verify_outgoing"),
  };
  const { encrypt, encrypt_file: file, tls } = record;
  if (encrypt !== undefined) {
    const key = typeof encrypt === "string" ? decodeKey(encrypt) : "expected a base64 string";
    if (typeof key === "string") issues.push({ path: "cluster.encrypt", message: key });
    out.encrypt = String(encrypt);
  }
  if (file !== undefined) {
    const keys = typeof file === "string" ? fileKeys(file) : "expected a file path";
    if (typeof keys === "string") issues.push({ path: "cluster.encrypt_file", message: keys });
    out.encrypt_file = String(file);
  }
  if (encrypt !== undefined && file !== undefined) {
    issues.push({
      path: "cluster",
      message: `"encrypt" and "encrypt_file" are both set: choose one`,
    });
  }
  if (tls !== undefined) out.tls = parseTls(tls, issues);
  return out;
}

function parseTls(tls: unknown, issues: ConfigIssue[]): TlsConfig | undefined {
  if (tls === null || typeof tls !== "object" || Array.isArray(tls)) {
    issues.push({
      path: "cluster.tls",
      message: "expected a block { ca_file, cert_file, key_file }",
    });
    return undefined;
  }
  const block = tls as Record<string, unknown>;
  const before = issues.length;
  for (const key of Object.keys(block)) {
    if (!(TLS_KEYS as readonly string[]).includes(key)) {
      issues.push({
        path: `cluster.tls.${key}`,
        message: `unknown key "${key}" (expected ${TLS_KEYS.join(", ")})`,
      });
    }
  }
  const pem: Record<string, string> = {};
  for (const key of TLS_KEYS) {
    const path = block[key];
    if (typeof path !== "string" || path === "") {
      issues.push({ path: `cluster.tls.${key}`, message: "required: a PEM file path" });
      continue;
    }
    const text = readText(path);
    if (text instanceof Error) {
      issues.push({ path: `cluster.tls.${key}`, message: `cannot read ${path}: ${text.message}` });
    } else if (!text.includes("-----BEGIN ")) {
      issues.push({ path: `cluster.tls.${key}`, message: `${path} is not a PEM file` });
    } else pem[key] = text;
  }
  if (issues.length > before) return undefined;
  try {
    createSecureContext({ ca: pem.ca_file, cert: pem.cert_file, key: pem.key_file });
  } catch (err) {
    issues.push({
      path: "cluster.tls",
      message: `certificate, key and CA do not load together: ${(err as Error).message}`,
    });
    return undefined;
  }
  return {
    ca_file: String(block.ca_file),
    cert_file: String(block.cert_file),
    key_file: String(block.key_file),
  };
}

/**
 * The keys of the stanza, primary first (read again from `encrypt_file` at start), or
 * undefined without `encrypt`/`encrypt_file`.
 *
 * @example
 * ```ts
 * const keys = stanzaKeys(config); // [Uint8Array(32)]
 * ```
 */
export function stanzaKeys(config: SecurityConfig): Uint8Array[] | undefined {
  let keys: Uint8Array[] | string | undefined;
  if (config.encrypt !== undefined) {
    const k = decodeKey(config.encrypt);
    keys = typeof k === "string" ? k : [k];
  } else if (config.encrypt_file !== undefined) keys = fileKeys(config.encrypt_file);
  if (typeof keys === "string") throw new Error(`cluster.encrypt: ${keys}`);
  return keys;
}

/**
 * What protects the log port: TLS when a `tls` block is given, else the keyring, else
 * nothing.
 *
 * @example
 * ```ts
 * const security = logSecurity(config, keyring);
 * ```
 */
export function logSecurity(
  config: SecurityConfig,
  keys: { primaryKey(): Uint8Array; keys(): Uint8Array[] } | undefined,
): LogSecurity | undefined {
  if (config.tls !== undefined) {
    return {
      mode: "tls",
      ca: readFileSync(config.tls.ca_file, "utf8"),
      cert: readFileSync(config.tls.cert_file, "utf8"),
      key: readFileSync(config.tls.key_file, "utf8"),
    };
  }
  if (keys === undefined) return undefined;
  return {
    mode: "keyed",
    keys,
    verifyIncoming: config.encrypt_verify_incoming,
    verifyOutgoing: config.encrypt_verify_outgoing,
  };
}

/**
 * What protects a node: the keyring (the app's `options.keyring` first, else the stanza's
 * `encrypt`/`encrypt_file`), the log port's protection, and the state `stats()` reports.
 *
 * @example
 * ```ts
 * const { keyring, log, state } = await nodeSecurity(config, options.keyring);
 * ```
 */
export async function nodeSecurity(
  config: SecurityConfig,
  appKeyring: Keyring | Uint8Array[] | undefined,
): Promise<{ keyring: Keyring | undefined; log: LogSecurity | undefined; state: SecurityState }> {
  const keys = appKeyring instanceof Keyring ? undefined : appKeyring ?? stanzaKeys(config);
  const keyring = appKeyring instanceof Keyring
    ? appKeyring
    : keys
    ? await Keyring.create(keys)
    : undefined;
  const log = logSecurity(config, keyring);
  const state: SecurityState = {
    gossip: keyring ? "keyed" : "open",
    log: log?.mode ?? "open",
    verifyIncoming: keyring === undefined || config.encrypt_verify_incoming,
    verifyOutgoing: keyring === undefined || config.encrypt_verify_outgoing,
  };
  return { keyring, log, state };
}

/** True for addresses only this host can reach. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * The one warning a node gives when a port is open to the network, or undefined.
 *
 * @example
 * ```ts
 * const state = { gossip: "open", log: "open", verifyIncoming: true, verifyOutgoing: true } as const;
 * const bind = { bind_address: "0.0.0.0", memberlist_bind_address: "0.0.0.0" };
 * openPortsWarning(state, bind, { host: "0.0.0.0", port: 3320 }, { host: "0.0.0.0", port: 3322 });
 * ```
 */
export function openPortsWarning(
  state: SecurityState,
  config: { bind_address: string; memberlist_bind_address: string },
  log: HostPort,
  gossip: HostPort,
): string | undefined {
  const open: string[] = [];
  if (state.log === "open" && !isLoopback(config.bind_address)) {
    open.push(`log port ${formatHostPort(log)}`);
  }
  if (state.gossip === "open" && !isLoopback(config.memberlist_bind_address)) {
    open.push(`gossip port ${formatHostPort(gossip)}`);
  }
  if (open.length === 0) return undefined;
  return `SECURITY: ${open.join(" and ")} ${open.length > 1 ? "are" : "is"} OPEN to the ` +
    `network: anyone who reaches ${open.length > 1 ? "them" : "it"} can join the cluster, ` +
    `read every log entry and cache value, and write to them. Set "encrypt" (a key from ` +
    `\`openssl rand -base64 32\`, the same on every node) or a "tls" block in the cluster stanza.`;
}
