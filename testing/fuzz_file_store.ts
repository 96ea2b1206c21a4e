/**
 * Fuzz target of FileLogStore recovery: write batches (one record each) across small
 * segments, damage the files (truncate, flip bytes, overwrite with a lying length, append
 * garbage, delete a segment), reopen. Recovery must not throw, must yield exactly the
 * entries of a prefix of the batches written (nothing invented, nothing reordered), and the
 * store must keep working: append after recovery, reopen again without any loss.
 *
 * @module
 */
import fc from "fast-check";
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Entry } from "../log/entry.ts";
import { FileLogStore } from "../log/file_store.ts";
import { entryArb } from "./fuzz_arbitraries.ts";
import { check, defineTarget, type FuzzTarget, sameBytes } from "./fuzz_property.ts";

/** Damage done to the segment files after the store was closed. */
export type Damage =
  | { kind: "truncate"; file: number; pos: number }
  | { kind: "flip"; file: number; pos: number; bit: number }
  | { kind: "lie"; file: number; pos: number; value: number }
  | { kind: "garbage"; file: number; bytes: Uint8Array }
  | { kind: "delete"; file: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), file: fc.nat(), pos: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), file: fc.nat(), pos: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant("lie" as const),
    file: fc.nat(),
    pos: fc.nat(),
    value: fc.constantFrom(0, 1, 7, 0xffff, 0x0fffffff, 0xffffffff),
  }),
  fc.record({
    kind: fc.constant("garbage" as const),
    file: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), file: fc.nat() }),
);

/** Batches of consecutive entries over two origins; each batch is one append call. */
const batchesArb: fc.Arbitrary<Entry[][]> = fc
  .array(fc.tuple(fc.constantFrom("a", "b"), fc.integer({ min: 1, max: 3 })), {
    minLength: 1,
    maxLength: 10,
  })
  .chain((shape) => {
    const heads = new Map<string, number>();
    const batches = shape.map(([origin, n]) => {
      const first = (heads.get(origin) ?? 0) + 1;
      heads.set(origin, first + n - 1);
      return fc.tuple(...Array.from({ length: n }, (_, i) => entryArb(origin, first + i)));
    });
    return fc.tuple(...batches).map((bs) => bs.map((b) => [...b] as Entry[]));
  });

/**
 * Damages one segment. Returns false when the damage removes whole records from the end of
 * a segment that is not the last (emptied, deleted, or cut exactly between records): no
 * checksum can see that, so recovery then keeps later segments, and only each origin's log,
 * not the store as a whole, is a prefix of what was written.
 */
function damage(dir: string, d: Damage): boolean {
  const segs = readdirSync(dir).filter((n) => n.endsWith(".seg")).sort();
  if (segs.length === 0) return true;
  const i = d.file % segs.length;
  const path = join(dir, segs[i]);
  const detectable = i === segs.length - 1 || d.kind === "flip" || d.kind === "lie" ||
    d.kind === "garbage";
  const bytes = new Uint8Array(readFileSync(path));
  switch (d.kind) {
    case "truncate":
      truncateSync(path, d.pos % (bytes.length + 1));
      break;
    case "flip":
      if (bytes.length === 0) break;
      bytes[d.pos % bytes.length] ^= 1 << d.bit;
      writeFileSync(path, bytes);
      break;
    case "lie":
      if (bytes.length < 4) break;
      new DataView(bytes.buffer).setUint32(d.pos % (bytes.length - 3), d.value);
      writeFileSync(path, bytes);
      break;
    case "garbage":
      appendFileSync(path, d.bytes);
      break;
    case "delete":
      unlinkSync(path);
      break;
  }
  return detectable;
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.origin === b.origin && a.seq === b.seq && a.ts.wall === b.ts.wall &&
    a.ts.logical === b.ts.logical && a.key === b.key && a.tombstone === b.tombstone &&
    a.ttl === b.ttl && sameBytes(a.value, b.value);
}

async function entriesOf(store: FileLogStore): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const origin of [...store.heads().keys()].sort()) {
    out.push(...await store.read(origin, 1, 1_000_000));
  }
  return out;
}

function sortEntries(es: Entry[]): Entry[] {
  return [...es].sort((
    x,
    y,
  ) => (x.origin < y.origin ? -1 : x.origin > y.origin ? 1 : x.seq - y.seq));
}

/** The recovery property, over stores created under `root`. */
export function fileStoreTarget(root: string): FuzzTarget {
  let n = 0;
  const tag = Math.random().toString(36).slice(2, 8);
  return defineTarget({
    name: "log/file-store-recovery",
    weight: 0.4,
    testRuns: 60,
    async: true,
    arb: () =>
      fc.record({
        batches: batchesArb,
        segmentBytes: fc.integer({ min: 64, max: 1024 }),
        damage: fc.array(damageArb, { minLength: 1, maxLength: 3 }),
      }),
    check: async ({ batches, segmentBytes, damage: ds }) => {
      const dir = join(root, `store-${tag}-${++n}`);
      mkdirSync(dir, { recursive: true });
      const opts = { fsync: "never" as const, segmentBytes };
      try {
        const s1 = await FileLogStore.open(dir, opts);
        for (const b of batches) await s1.append(b);
        await s1.close();
        let detectable = true;
        for (const d of ds) detectable = damage(dir, d) && detectable;

        let s2: FileLogStore;
        try {
          s2 = await FileLogStore.open(dir, opts);
        } catch (e) {
          throw new Error(`recovery threw ${(e as Error).message}`);
        }
        const got = await entriesOf(s2);
        // Each origin's log is a prefix of what was written for it: nothing invented,
        // reordered or skipped.
        const written = batches.flat();
        for (const origin of ["a", "b"]) {
          const mine = got.filter((e) => e.origin === origin);
          const want = written.filter((e) => e.origin === origin).slice(0, mine.length);
          check(
            mine.length === want.length && mine.every((e, i) => sameEntry(e, want[i])),
            `origin ${origin}: recovered a prefix of its entries`,
          );
        }
        // When the damage is detectable, the whole store is the first k batches, for some k.
        if (detectable) {
          let k = -1;
          for (let j = 0; j <= batches.length && k < 0; j++) {
            const want = sortEntries(batches.slice(0, j).flat());
            if (want.length === got.length && want.every((e, i) => sameEntry(e, got[i]))) k = j;
          }
          check(k >= 0, `recovered a prefix of the batches (got ${got.length} entries)`);
        }

        // The store keeps working: append one entry per origin, reopen, nothing lost.
        const more = ["a", "b"].map((origin): Entry => ({
          origin,
          seq: (s2.heads().get(origin) ?? 0) + 1,
          ts: { wall: 1, logical: 0 },
          value: new Uint8Array([7]),
          tombstone: false,
        }));
        await s2.append(more);
        const before = await entriesOf(s2);
        await s2.close();
        const s3 = await FileLogStore.open(dir, opts);
        try {
          check(s3.recovery.truncatedBytes === 0, "a clean reopen cuts nothing");
          const after = await entriesOf(s3);
          check(
            after.length === before.length && after.every((e, i) => sameEntry(e, before[i])),
            "everything appended after recovery survives a reopen",
          );
        } finally {
          await s3.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  });
}
