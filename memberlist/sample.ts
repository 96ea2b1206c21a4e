/**
 * Random choices among members: the probe order shuffle and the picks of gossip targets,
 * push/pull peers and indirect-probe relays. Randomness comes from the caller, so a seeded
 * source makes a simulation repeat exactly.
 *
 * @module
 */
import type { NodeRecord } from "./member.ts";

/**
 * Shuffles `items` in place (Fisher–Yates).
 *
 * @example
 * ```ts
 * shuffle(table.nodes, Math.random);
 * ```
 */
export function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

/**
 * Up to `k` distinct random nodes not excluded by `exclude`: random draws (up to 3n) for
 * large tables, an exhaustive shuffle when the table is small.
 *
 * @example
 * ```ts
 * const peers = kRandomNodes(table.nodes, 3, (n) => n.state !== NodeStateCode.alive, random);
 * ```
 */
export function kRandomNodes(
  nodes: readonly NodeRecord[],
  k: number,
  exclude: (n: NodeRecord) => boolean,
  random: () => number,
): NodeRecord[] {
  const n = nodes.length;
  const out: NodeRecord[] = [];
  if (k <= 0 || n === 0) return out;
  if (n < 3 * k || n <= 16) {
    const idx = Array.from({ length: n }, (_, i) => i);
    shuffle(idx, random);
    for (const i of idx) {
      if (out.length >= k) break;
      if (!exclude(nodes[i])) out.push(nodes[i]);
    }
    return out;
  }
  for (let i = 0; i < 3 * n && out.length < k; i++) {
    const cand = nodes[Math.floor(random() * n)];
    if (exclude(cand) || out.includes(cand)) continue;
    out.push(cand);
  }
  return out;
}
