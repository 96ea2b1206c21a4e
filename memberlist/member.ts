/**
 * The internal member record, its numeric states and its public snapshot.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import type { Member, MemberState } from "./config.ts";
import { bytesToIp } from "./wire/mod.ts";
import { sharedBytes } from "./wire/mod.ts";

/** Numeric node states as in push/pull (`State` field). */
export const NodeStateCode: {
  readonly alive: 0;
  readonly suspect: 1;
  readonly dead: 2;
  readonly left: 3;
} = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;

const STATE_NAMES: readonly MemberState[] = ["alive", "suspect", "dead", "left"];

/** One known node (internal, mutable). */
export interface NodeRecord {
  /** Node name (unique key). */
  readonly name: string;
  /** Raw IP bytes as advertised (4 or 16). */
  addr: Uint8Array;
  /** Textual form of `addr`. */
  host: string;
  /** Gossip port. */
  port: number;
  /** Metadata; a shared empty array when none. */
  meta: Uint8Array;
  /** Last known incarnation. */
  incarnation: number;
  /** 0 alive, 1 suspect, 2 dead, 3 left. */
  state: number;
  /** Clock time of the last state change. */
  stateChange: number;
  /** [pmin, pmax, pcur, dmin, dmax, dcur]; shared when equal to the common vector. */
  vsn: Uint8Array;
}

/** Shared empty metadata. */
export const EMPTY: Uint8Array = new Uint8Array(0);
const COMMON_VSN: Uint8Array = Uint8Array.of(1, 5, 2, 0, 0, 0);
/** Vsn of a node that sent none. */
export const ZERO_VSN: Uint8Array = new Uint8Array(6);

/** Byte-wise equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true; // shared arrays (shared_bytes.ts): no need to read them
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Shares the common vectors and the empty meta so thousands of members cost little memory.
/** A Vsn copy, shared when common. */
export function internVsn(v: Uint8Array): Uint8Array {
  if (sameBytes(v, COMMON_VSN)) return COMMON_VSN;
  if (sameBytes(v, ZERO_VSN)) return ZERO_VSN;
  return v.slice(0, 6);
}
/** A meta copy, shared when empty. */
export function internMeta(m: Uint8Array | null): Uint8Array {
  return m === null || m.length === 0 ? EMPTY : m.slice();
}

/**
 * A public snapshot of a record.
 *
 * @example
 * ```ts
 * const member = toMember(rec);
 * ```
 */
export function toMember(rec: NodeRecord): Member {
  const v = rec.vsn;
  return {
    name: rec.name,
    address: { host: rec.host, port: rec.port },
    meta: rec.meta,
    incarnation: rec.incarnation,
    state: STATE_NAMES[rec.state] ?? "dead",
    protocol: { min: v[0], max: v[1], current: v[2] },
    delegate: { min: v[3], max: v[4], current: v[5] },
  };
}

// host -> the shared copy of its address bytes: members of a large cluster (and, in a
// simulation, the many nodes of one process) hold one copy per address, not one per record.
const addrCache = new Map<string, { readonly addr: Uint8Array; readonly host: string }>();
const MAX_CACHED_ADDRS = 1 << 17;

/** A shared, never modified copy of an address and its text. */
export function internAddr(b: Uint8Array): { readonly addr: Uint8Array; readonly host: string } {
  const host = safeIp(b);
  const hit = addrCache.get(host);
  if (hit !== undefined && sameBytes(hit.addr, b)) return hit;
  // The array push/pull decoding hands out for these bytes: comparisons are then by identity.
  const e = { addr: sharedBytes(b, 0, b.length), host };
  if (addrCache.size < MAX_CACHED_ADDRS) addrCache.set(host, e);
  return e;
}

/** Textual IP of raw bytes; 0.0.0.0 when malformed. */
export function safeIp(b: Uint8Array): string {
  try {
    return bytesToIp(b);
  } catch {
    return "0.0.0.0";
  }
}

/** Address of a record as a HostPort. */
export function recordAddress(rec: NodeRecord): HostPort {
  return { host: rec.host, port: rec.port };
}

/**
 * True when an alive about `rec` (another member) with these values would change nothing: the
 * member is alive at this incarnation or a later one, at this address and port, with these
 * versions (valid ones). MemberTable.aliveNode (state.ts) returns without effect on such a message.
 * The address and versions are given as they lie in `buf`, so a decoder can ask before it
 * copies them.
 */
export function aliveChangesNothing(
  rec: NodeRecord,
  incarnation: number,
  port: number,
  buf: Uint8Array,
  addrAt: number,
  addrLen: number,
  vsnAt: number,
  vsnLen: number,
): boolean {
  if (rec.state !== NodeStateCode.alive || incarnation > rec.incarnation || rec.port !== port) {
    return false;
  }
  const addr = rec.addr;
  const vsn = rec.vsn;
  if (addr.length !== addrLen || vsn.length !== vsnLen || vsnLen < 3) return false;
  for (let i = 0; i < addrLen; i++) if (addr[i] !== buf[addrAt + i]) return false;
  for (let i = 0; i < vsnLen; i++) if (vsn[i] !== buf[vsnAt + i]) return false;
  return vsn[0] !== 0 && vsn[1] !== 0 && vsn[0] <= vsn[1]; // else aliveNode warns
}
