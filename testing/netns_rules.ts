/**
 * nftables scripts of the testbed's bridge namespace: one `table bridge` with a forward
 * chain that jumps to a `partition` chain, then a `loss` chain. Rules only ever name host
 * ports (`h0`, `h1`, ...), so the probe port of the root namespace is never affected.
 *
 * ```ts
 * forwardChainScript(); // creates (or resets) the table
 * lossScript(100);      // 10% of IPv4 frames between hosts dropped, each direction on its own
 * partitionScript([[0, 1], [2, 3, 4]]);
 * ```
 *
 * @module
 */

const TABLE = "bridge chaos";

/** Creates the table and its chains, empty (deleting an older one first). */
export function forwardChainScript(): string {
  return [
    `table ${TABLE}`,
    `delete table ${TABLE}`,
    `table ${TABLE} {`,
    `  chain forward { type filter hook forward priority filter; policy accept; jump partition; jump loss; }`,
    `  chain partition { }`,
    `  chain loss { }`,
    `}`,
    "",
  ].join("\n");
}

/**
 * Replaces the loss rule. Only IPv4 frames are dropped: losing ARP too would make a lost
 * neighbour resolution black-hole a link for seconds, which is not "X% loss" any more.
 * `numgen random` draws per frame, so each direction of each link loses independently.
 */
export function lossScript(perMille: number): string {
  const lines = [`flush chain ${TABLE} loss`];
  if (perMille > 0) {
    lines.push(
      `add rule ${TABLE} loss iifname "h*" oifname "h*" ether type ip numgen random mod 1000 < ${perMille} counter drop`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Replaces the partition rules: every frame between ports of different groups is dropped. */
export function partitionScript(groups: readonly (readonly number[])[]): string {
  const lines = [`flush chain ${TABLE} partition`];
  const ports = groups.map((g) => g.map((h) => `"h${h}"`).join(", "));
  for (let a = 0; a < groups.length; a++) {
    for (let b = 0; b < groups.length; b++) {
      if (a === b || groups[a].length === 0 || groups[b].length === 0) continue;
      lines.push(
        `add rule ${TABLE} partition iifname { ${ports[a]} } oifname { ${ports[b]} } counter drop`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
