/**
 * Turning Node/Deno socket errors into {@link TransportError}s with a stable code.
 *
 * @module
 */
import { formatHostPort } from "./address.ts";
import type { HostPort } from "./types.ts";
import { TransportError } from "./types.ts";

/** The system error code of a socket error, or `fallback` when it carries none. */
export function errorCode(err: unknown, fallback: string): string {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
  }
  return fallback;
}

/** Short text of an unknown thrown value. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Wraps a socket error: keeps the system code, names the address in the message.
 *
 * @param err what the socket reported
 * @param what the operation, e.g. "bind TCP" or "dial"
 * @param where the address concerned
 * @param fallback code used when the error carries none
 */
export function toTransportError(
  err: unknown,
  what: string,
  where: HostPort,
  fallback: string,
): TransportError {
  if (err instanceof TransportError) return err;
  const code = errorCode(err, fallback);
  return new TransportError(code, `${what} ${formatHostPort(where)}: ${code} (${errorText(err)})`);
}
