/**
 * What every member advertises in its memberlist metadata: the environment it runs with, where
 * its append-only log listens, and the user's own attributes.
 *
 * Encoded as compact JSON (at most 512 bytes, memberlist's limit) so a Go peer's operator can
 * read it too. A member whose metadata is not ours (a plain Go memberlist node) decodes to
 * `undefined`: it takes part in membership but not in log replication.
 *
 * @module
 */
import { type Environment, isEnvironment } from "../presets/mod.ts";

/** memberlist's MetaMaxSize. */
export const META_MAX_BYTES = 512;

/** The decoded metadata of a member running @response/cluster. */
export interface NodeMeta {
  /** Environment (preset) of the member; members must agree. */
  readonly environment: Environment;
  /** Host of its log listener; empty when it binds a wildcard (then use its memberlist host). */
  readonly logHost: string;
  /** Port of its log listener. */
  readonly logPort: number;
  /** User attributes given as `options.meta` to `cluster()`. */
  readonly attributes: Readonly<Record<string, string>>;
}

interface Wire {
  rc: 1;
  env: Environment;
  lh?: string;
  lp: number;
  a?: Record<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes metadata; throws a RangeError naming the size when it exceeds 512 bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeNodeMeta({ environment: "lan", logHost: "", logPort: 3320, attributes: { zone: "a" } });
 * decodeNodeMeta(bytes)?.logPort; // 3320
 * ```
 * @param meta the metadata to advertise
 */
export function encodeNodeMeta(meta: NodeMeta): Uint8Array {
  const wire: Wire = { rc: 1, env: meta.environment, lp: meta.logPort };
  if (meta.logHost !== "") wire.lh = meta.logHost;
  if (Object.keys(meta.attributes).length > 0) wire.a = { ...meta.attributes };
  const bytes = encoder.encode(JSON.stringify(wire));
  if (bytes.length > META_MAX_BYTES) {
    throw new RangeError(
      `node metadata is ${bytes.length} bytes, more than memberlist's limit of ${META_MAX_BYTES}: shorten options.meta`,
    );
  }
  return bytes;
}

/**
 * Decodes metadata written by {@link encodeNodeMeta}; anything else gives `undefined`.
 *
 * @example
 * ```ts
 * decodeNodeMeta(new Uint8Array()); // undefined: a plain memberlist node
 * ```
 * @param bytes a member's metadata
 */
export function decodeNodeMeta(bytes: Uint8Array): NodeMeta | undefined {
  if (bytes.length === 0 || bytes.length > META_MAX_BYTES || bytes[0] !== 0x7b /* { */) {
    return undefined;
  }
  let wire: unknown;
  try {
    wire = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof wire !== "object" || wire === null) return undefined;
  const w = wire as Partial<Wire>;
  if (w.rc !== 1 || !isEnvironment(w.env)) return undefined;
  if (typeof w.lp !== "number" || !Number.isInteger(w.lp) || w.lp < 0 || w.lp > 65535) {
    return undefined;
  }
  const attributes: Record<string, string> = {};
  if (typeof w.a === "object" && w.a !== null) {
    for (const [k, v] of Object.entries(w.a)) if (typeof v === "string") attributes[k] = v;
  }
  return {
    environment: w.env,
    logHost: typeof w.lh === "string" ? w.lh : "",
    logPort: w.lp,
    attributes,
  };
}

/**
 * The attributes a node advertises, checked: every value a string.
 *
 * @example
 * ```ts
 * checkAttributes({ zone: "a" }, "setMeta"); // { zone: "a" }
 * ```
 * @throws TypeError naming the attribute that is not a string
 */
export function checkAttributes(
  meta: Record<string, unknown>,
  where: string,
): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") {
      throw new TypeError(`${where}: attribute "${k}" must be a string, got ${typeof v}`);
    }
    attributes[k] = v;
  }
  return attributes;
}
