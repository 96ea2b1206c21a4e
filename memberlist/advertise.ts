/**
 * Choice of the advertised address when none is configured.
 *
 * @module
 */
import { networkInterfaces } from "node:os";

/**
 * The bound host when it is a concrete address; for a wildcard bind (0.0.0.0 / ::) the first
 * non-internal IPv4 address of this host (then IPv6), else 127.0.0.1.
 *
 * @example
 * ```ts
 * pickAdvertiseHost("127.0.0.1"); // "127.0.0.1"
 * pickAdvertiseHost("0.0.0.0"); // e.g. "192.168.1.20"
 * ```
 */
export function pickAdvertiseHost(bound: string): string {
  if (bound !== "0.0.0.0" && bound !== "::" && bound !== "") return bound;
  try {
    const all = Object.values(networkInterfaces()).flat();
    const v4 = all.find((i) => i !== undefined && !i.internal && i.family === "IPv4");
    if (v4 !== undefined) return v4.address;
    const v6 = all.find((i) =>
      i !== undefined && !i.internal && i.family === "IPv6" && !i.address.startsWith("fe80")
    );
    if (v6 !== undefined) return v6.address;
  } catch {
    // no interface information on this platform: fall through
  }
  return "127.0.0.1";
}
