/**
 * The chart of bench/soak.ts, hand-written SVG: heap used (after GC) and RSS of each node
 * over time, one panel each, with the RSS goal and the warm-up mark.
 *
 * @module
 */

/** One sample of one node. */
export interface SoakSample {
  /** Node name. */
  readonly node: string;
  /** Seconds since the workload started. */
  readonly t: number;
  /** Heap used (MB). */
  readonly heapMB: number;
  /** Resident set (MB). */
  readonly rssMB: number;
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
const W = 460;
const H = 300;
const M = { left: 52, right: 16, top: 34, bottom: 40 };

function panel(
  samples: readonly SoakSample[],
  pick: (s: SoakSample) => number,
  title: string,
  x0: number,
  marks: { goal?: number; warmupS: number },
): string {
  const nodes = [...new Set(samples.map((s) => s.node))];
  const tMax = Math.max(60, ...samples.map((s) => s.t));
  const yMax = Math.max(marks.goal ?? 0, ...samples.map(pick)) * 1.15 || 1;
  const lx = (t: number): number => x0 + M.left + (t / tMax) * (W - M.left - M.right);
  const ly = (v: number): number => M.top + (1 - v / yMax) * (H - M.top - M.bottom);
  const out: string[] = [
    `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${title}</text>`,
    `<line x1="${lx(0)}" y1="${ly(0)}" x2="${lx(tMax)}" y2="${ly(0)}" stroke="#333"/>`,
    `<line x1="${lx(0)}" y1="${ly(0)}" x2="${lx(0)}" y2="${M.top}" stroke="#333"/>`,
  ];
  const yTick = yMax > 200 ? 50 : yMax > 80 ? 20 : yMax > 20 ? 5 : 1;
  for (let v = 0; v <= yMax; v += yTick) {
    out.push(
      `<line x1="${lx(0)}" y1="${ly(v)}" x2="${lx(tMax)}" y2="${ly(v)}" stroke="#eee"/>`,
      `<text x="${lx(0) - 4}" y="${ly(v) + 3}" text-anchor="end" font-size="10">${v} MB</text>`,
    );
  }
  const tTick = tMax > 1200 ? 300 : tMax > 300 ? 60 : 30;
  for (let t = 0; t <= tMax; t += tTick) {
    out.push(
      `<text x="${lx(t)}" y="${ly(0) + 14}" text-anchor="middle" font-size="10">${
        t / 60
      } min</text>`,
    );
  }
  out.push(
    `<line x1="${lx(marks.warmupS)}" y1="${M.top}" x2="${lx(marks.warmupS)}" y2="${
      ly(0)
    }" stroke="#999" stroke-dasharray="3,3"/>`,
    `<text x="${lx(marks.warmupS) + 3}" y="${
      M.top + 10
    }" font-size="10" fill="#777">warm-up</text>`,
  );
  if (marks.goal !== undefined) {
    out.push(
      `<line x1="${lx(0)}" y1="${ly(marks.goal)}" x2="${lx(tMax)}" y2="${
        ly(marks.goal)
      }" stroke="#d62728" stroke-dasharray="6,3"/>`,
      `<text x="${lx(tMax) - 2}" y="${
        ly(marks.goal) - 4
      }" text-anchor="end" font-size="10" fill="#d62728">goal ${marks.goal} MB</text>`,
    );
  }
  nodes.forEach((n, i) => {
    const pts = samples.filter((s) => s.node === n).sort((a, b) => a.t - b.t)
      .map((s) => `${lx(s.t).toFixed(1)},${ly(pick(s)).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.6" points="${
        pts.join(" ")
      }"/>`,
    );
  });
  return out.join("\n");
}

/**
 * Renders heap and RSS per node as an SVG document.
 *
 * @example
 * ```ts
 * writeFileSync("soak.svg", renderSoak(samples, { warmupS: 300, rssGoalMB: 150, caption: "" }));
 * ```
 */
export function renderSoak(
  samples: readonly SoakSample[],
  o: { warmupS: number; rssGoalMB: number; caption: string },
): string {
  const nodes = [...new Set(samples.map((s) => s.node))];
  const width = 2 * W;
  const height = H + 50;
  const legend = nodes.map((n, i) =>
    `<rect x="${20 + i * 110}" y="${H + 6}" width="10" height="10" fill="${
      COLORS[i % COLORS.length]
    }"/><text x="${34 + i * 110}" y="${H + 15}" font-size="11">${n}</text>`
  );
  const caption = o.caption.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panel(samples, (s) => s.heapMB, "Heap used after GC", 0, { warmupS: o.warmupS })}
${
    panel(samples, (s) => s.rssMB, "RSS", W, {
      warmupS: o.warmupS,
      goal: o.rssGoalMB,
    })
  }
${legend.join("\n")}
<text x="20" y="${H + 36}" font-size="10" fill="#555">${caption}</text>
</svg>
`;
}
