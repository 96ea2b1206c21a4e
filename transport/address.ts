/**
 * Parsing and printing `host:port` the way configs and memberlist spell them.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { HostPort } from "./types.ts";

/** A `host:port` string that cannot be parsed. */
export class AddressError extends ClusterError<"address"> {
  /**
   * Creates an address error.
   * @param message what is wrong with the address
   */
  constructor(message: string) {
    super("address", message);
  }
}

/**
 * Parses `host:port`, `[v6]:port`, a bare `host` or a bare IPv6 literal.
 *
 * @example
 * ```ts
 * parseHostPort("10.0.0.1:3322"); // { host: "10.0.0.1", port: 3322 }
 * parseHostPort("[::1]:7946"); // { host: "::1", port: 7946 }
 * parseHostPort("node-a", 3322); // { host: "node-a", port: 3322 }
 * ```
 * @param text the address
 * @param defaultPort port used when the text has none; without it a port is required
 */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const s = text.trim();
  if (s === "") throw new AddressError("empty address");
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) throw new AddressError(`missing "]" in "${text}"`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) {
        throw new AddressError(`unexpected "${rest}" after "]" in "${text}"`);
      }
      portText = rest.slice(1);
    }
  } else {
    const colons = s.split(":").length - 1;
    if (colons === 1) {
      const i = s.indexOf(":");
      host = s.slice(0, i);
      portText = s.slice(i + 1);
    } else {
      // zero colons: a bare host; two or more: a bare IPv6 literal without a port
      host = s;
    }
  }
  if (host === "") throw new AddressError(`missing host in "${text}"`);
  if (/\s/.test(host)) throw new AddressError(`host contains white space in "${text}"`);
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) throw new AddressError(`missing port in "${text}"`);
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) throw new AddressError(`port must be 0-65535 in "${text}"`);
    port = Number(portText);
    if (port > 65535) throw new AddressError(`port must be 0-65535 in "${text}"`);
  }
  return { host, port };
}

/**
 * Prints an address as `host:port`, bracketing IPv6 literals.
 *
 * @example
 * ```ts
 * formatHostPort({ host: "::1", port: 7946 }); // "[::1]:7946"
 * ```
 * @param address the address
 */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
