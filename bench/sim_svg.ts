/**
 * The chart of bench/sim.ts, hand-written SVG: per preset, convergence time (99.99 % of
 * members) versus cluster size on a log axis; for each loss rate, our join and our death
 * dissemination as measured, and Serf's model for the same parameters.
 *
 * @module
 */
import type { SimResult } from "./sim_model.ts";

const COLORS: Record<string, string> = { "0": "#1f77b4", "0.1": "#ff7f0e", "0.5": "#d62728" };
const W = 460;
const H = 340;
const M = { left: 52, right: 16, top: 34, bottom: 46 };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

function panel(results: SimResult[], preset: string, x0: number): string {
  const rows = results.filter((r) => r.preset === preset);
  if (rows.length === 0) return "";
  const ns = [...new Set([30, 100, 1000, 10000, ...rows.map((r) => r.n)])].sort((a, b) => a - b);
  const ys = rows.flatMap((r) => [r.joinMs, r.failureSpreadMs, r.serfModelMs])
    .filter((v): v is number => v !== null);
  const yMax = Math.max(1000, ...ys) * 1.1;
  const lx = (n: number): number =>
    x0 + M.left +
    ((Math.log10(n) - Math.log10(ns[0])) / (Math.log10(ns[ns.length - 1]) - Math.log10(ns[0]))) *
      (W - M.left - M.right);
  const ly = (ms: number): number => M.top + (1 - ms / yMax) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(
    `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${
      esc(preset.toUpperCase())
    } preset: time until 99.99 % know</text>`,
  );
  // axes and grid
  out.push(
    `<line x1="${x0 + M.left}" y1="${H - M.bottom}" x2="${x0 + W - M.right}" y2="${
      H - M.bottom
    }" stroke="#333"/>`,
    `<line x1="${x0 + M.left}" y1="${M.top}" x2="${x0 + M.left}" y2="${
      H - M.bottom
    }" stroke="#333"/>`,
  );
  for (const n of ns) {
    out.push(
      `<line x1="${lx(n)}" y1="${M.top}" x2="${lx(n)}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${lx(n)}" y="${H - M.bottom + 14}" text-anchor="middle" font-size="10">${
        n.toLocaleString("en")
      }</text>`,
    );
  }
  const tick = yMax > 20_000 ? 10_000 : yMax > 8_000 ? 2_000 : 1_000;
  for (let t = 0; t <= yMax; t += tick) {
    out.push(
      `<line x1="${x0 + M.left}" y1="${ly(t)}" x2="${x0 + W - M.right}" y2="${
        ly(t)
      }" stroke="#eee"/>`,
      `<text x="${x0 + M.left - 4}" y="${ly(t) + 3}" text-anchor="end" font-size="10">${
        t / 1000
      } s</text>`,
    );
  }
  out.push(
    `<text x="${x0 + W / 2}" y="${
      H - 12
    }" text-anchor="middle" font-size="11">nodes (log scale)</text>`,
  );
  const losses = [...new Set(rows.map((r) => r.loss))].sort((a, b) => a - b);
  for (const loss of losses) {
    const color = COLORS[String(loss)] ?? "#555";
    const series = rows.filter((r) => r.loss === loss).sort((a, b) => a.n - b.n);
    const line = (pick: (r: SimResult) => number | null, dash: string, mark: boolean): void => {
      const pts = series.flatMap((r) => {
        const v = pick(r);
        return v === null ? [] : [[lx(r.n), ly(v)]];
      });
      if (pts.length === 0) return;
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.8" stroke-dasharray="${dash}" points="${
          pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")
        }"/>`,
      );
      if (mark) {
        for (const [x, y] of pts) {
          out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.8" fill="${color}"/>`);
        }
      }
    };
    line((r) => r.joinMs, "", true);
    line((r) => r.failureSpreadMs, "2,3", true);
    line((r) => r.serfModelMs, "7,4", false);
  }
  return out.join("\n");
}

/**
 * Renders the results as an SVG document (one panel per preset, legend below).
 *
 * @example
 * ```ts
 * writeFileSync("sim.svg", renderChart(results));
 * ```
 */
export function renderChart(results: SimResult[]): string {
  const presets = ["lan", "wan"].filter((p) => results.some((r) => r.preset === p));
  const width = Math.max(1, presets.length) * W;
  const height = H + 56;
  const parts = presets.map((p, i) => panel(results, p, i * W));
  const legend: string[] = [];
  let x = 20;
  for (const [loss, color] of Object.entries(COLORS)) {
    legend.push(
      `<rect x="${x}" y="${H + 8}" width="10" height="10" fill="${color}"/>`,
      `<text x="${x + 14}" y="${H + 17}" font-size="11">${Number(loss) * 100} % loss</text>`,
    );
    x += 90;
  }
  const styles: [string, string][] = [
    ["", "ours: join"],
    ["2,3", "ours: death, dissemination"],
    ["7,4", "Serf model"],
  ];
  for (const [dash, label] of styles) {
    legend.push(
      `<line x1="${x}" y1="${H + 13}" x2="${x + 26}" y2="${
        H + 13
      }" stroke="#333" stroke-width="1.8" stroke-dasharray="${dash}"/>`,
      `<text x="${x + 30}" y="${H + 17}" font-size="11">${label}</text>`,
    );
    x += 60 + label.length * 6;
  }
  legend.push(
    `<text x="20" y="${
      H + 40
    }" font-size="10" fill="#555">Simulated memberlist nodes (bench/sim.ts); Serf model from serf.io's convergence simulator formula.</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${parts.join("\n")}
${legend.join("\n")}
</svg>
`;
}
