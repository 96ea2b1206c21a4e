/**
 * Seeding a member table directly, as it would look after a long quiet period in a converged
 * cluster: every member alive at its incarnation, in random probe order, with no broadcasts
 * queued and no events emitted.
 *
 * Why: a simulation of 10,000 nodes cannot start with a join storm (every joiner learns the
 * whole membership by push/pull and re-gossips it: O(N²) messages, hours of wall time), and
 * what the large simulations measure (how fast one join or one failure spreads, steady-state
 * traffic, memory) starts from a converged cluster anyway. This is a simulation seam, not part
 * of the public API: `memberlist/mod.ts` does not export it.
 *
 * @module
 */
import type { HostPort } from "../transport/mod.ts";
import { ipToBytes } from "./wire/mod.ts";
import { decodeText } from "./wire/mod.ts";
import { EMPTY, internAddr, internVsn, type NodeRecord, NodeStateCode } from "./member.ts";
import type { MemberTable } from "./state.ts";
import { shuffle } from "./sample.ts";
import { PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from "./config.ts";

/** One member to seed. */
export interface SeedMember {
  /** Node name. */
  readonly name: string;
  /** Its gossip address (host must be an IP literal). */
  readonly address: HostPort;
  /** Its incarnation (default 1, what a freshly started node advertises). */
  readonly incarnation?: number;
}

interface SeedEntry {
  readonly name: string;
  readonly addr: Uint8Array;
  readonly host: string;
  readonly port: number;
  readonly incarnation: number;
}

// What a node of this implementation advertises by default (protocol version 2, no delegate).
const VSN = internVsn(Uint8Array.of(PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX, 2, 0, 0, 0));

/**
 * A parsed membership to plant into many tables: parsing addresses once, not once per table,
 * and sharing names and address bytes between the tables of one process.
 *
 * @example
 * ```ts
 * const seed = new MemberSeed([{ name: "n1", address: { host: "10.0.0.2", port: 7946 } }]);
 * plantSeed(table, seed, clock.now(), Math.random);
 * ```
 */
export class MemberSeed {
  /** The members, parsed. */
  readonly entries: readonly SeedEntry[];

  /** @throws RangeError naming the member whose host is not an IP literal */
  constructor(members: readonly SeedMember[]) {
    const encoder = new TextEncoder();
    this.entries = members.map((m) => {
      let bytes: Uint8Array;
      try {
        bytes = ipToBytes(m.address.host);
      } catch {
        throw new RangeError(`seed member "${m.name}": host "${m.address.host}" is not an IP`);
      }
      const where = internAddr(bytes);
      // The string push/pull decoding yields for this name (the text cache's): looking up a
      // decoded name then finds the key by identity, without reading both strings.
      const text = encoder.encode(m.name);
      return {
        name: decodeText(text, 0, text.length),
        addr: where.addr,
        host: where.host,
        port: m.address.port,
        incarnation: m.incarnation ?? 1,
      };
    });
  }
}

/**
 * Adds every member of `seed` the table does not know yet as alive (known ones, ourselves
 * included, are left as they are), then shuffles the probe order. Returns how many were added.
 *
 * @example
 * ```ts
 * const added = plantSeed(table, seed, clock.now(), Math.random);
 * ```
 */
export function plantSeed(
  table: MemberTable,
  seed: MemberSeed,
  now: number,
  random: () => number,
): number {
  let added = 0;
  for (const e of seed.entries) {
    if (table.byName.has(e.name)) continue;
    const rec: NodeRecord = {
      name: e.name,
      addr: e.addr,
      host: e.host,
      port: e.port,
      meta: EMPTY,
      incarnation: e.incarnation,
      state: NodeStateCode.alive,
      stateChange: now,
      vsn: VSN,
    };
    table.byName.set(e.name, rec);
    table.nodes.push(rec);
    added++;
  }
  shuffle(table.nodes, random); // probe order is random in a cluster that converged long ago
  return added;
}
