/**
 * Every counter of `stats()` as metrics: Prometheus text from one call, and OpenTelemetry
 * instruments through `@opentelemetry/api` (the library-author standard: a no-op until the
 * application installs an SDK).
 *
 * One naming scheme for both: `response_cluster_<layer>_<counter>` in snake case; counters end
 * in `_total` in Prometheus text, and OpenTelemetry gets the same name without the suffix, so
 * an SDK's Prometheus exporter prints the very same series. Per-kind counters (packets by
 * message kind, peers refused by reason) carry that kind as a label (attribute).
 *
 * @module
 */
import type { Attributes, Meter, Observable } from "@opentelemetry/api";
import type { ClusterHealth, ClusterStats, MeterProviderLike } from "./types.ts";

export type { MeterProviderLike } from "./types.ts";

/** One series of a family: its labels and current value. */
export interface MetricSample {
  /** Label name -> value (none for a plain counter). */
  readonly labels: Readonly<Record<string, string>>;
  /** Current value. */
  readonly value: number;
}

/** A metric family: one name, one type, one help line, any number of labelled series. */
export interface MetricFamily {
  /** Prometheus name, `_total` included for counters. */
  readonly name: string;
  /** The name given to OpenTelemetry (no `_total`). */
  readonly otelName: string;
  /** What it counts. */
  readonly help: string;
  /** Monotonic counter or gauge. */
  readonly type: "counter" | "gauge";
  /** The series. */
  readonly samples: readonly MetricSample[];
}

const PREFIX = "response_cluster";

const HELP: Record<string, string> = {
  packetsIn: "Datagrams received, by kind (message type, or compound)",
  bytesIn: "Datagram bytes received, by kind",
  packetsOut: "Datagrams sent, by kind",
  bytesOut: "Datagram bytes sent, by kind",
  messagesIn: "Gossip messages received, by type",
  messagesOut: "Gossip messages sent, by type",
  streamsIn: "Gossip streams accepted, by kind",
  streamsOut: "Gossip streams opened, by kind",
  malformed: "Packets or streams that failed to decode",
  rejected: "Packets or streams refused (decryption, label, protocol, limits)",
  probesSent: "Failure-detector probes started",
  probesFailed: "Probes that ended without any ack",
  pushPullsIn: "Push/pull state exchanges answered",
  pushPullsOut: "Push/pull state exchanges initiated",
  refutations: "Accusations about this node it refuted",
  degradedTimeouts: "Suspicion timeouts with fewer confirmations than wanted",
  reconnects: "Re-join attempts to failed members",
  accusationsSent: "Accusations sent straight to a member announcing a stale alive",
  accusationsAnswered: "Current alive sent straight to a member that accused this node",
  revivalChecks: "Pings sent before believing an alive reviving a dead member",
  framesIn: "Replication frames received",
  framesOut: "Replication frames sent",
  entriesAppended: "Entries this node appended to its own log",
  entriesApplied: "Entries of other origins stored and applied",
  entriesDuplicate: "Received entries already held (dropped)",
  entriesOutOfOrder: "Received entries that would leave a gap (dropped)",
  snapshotsSent: "Snapshot chunks sent to peers behind the compaction point",
  snapshotsReceived: "Snapshot chunks received and installed",
  connections: "Open replication connections",
  connectionsOpened: "Replication handshakes completed",
  dialFailures: "Replication dials that failed",
  rejectedPeers: "Replication peers disconnected for a protocol violation, by reason",
};
const GAUGES = new Set(["log.connections"]);
const LABEL: Record<string, string> = {
  messagesIn: "type",
  messagesOut: "type",
  rejectedPeers: "reason",
};

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function family(
  layer: string,
  key: string,
  type: "counter" | "gauge",
  samples: MetricSample[],
  help?: string,
): MetricFamily {
  const base = `${PREFIX}_${layer}_${snake(key)}`;
  return {
    name: type === "counter" ? `${base}_total` : base,
    otelName: `${PREFIX}.${layer}.${snake(key)}`,
    help: help ?? HELP[key] ?? `${layer} ${key}`,
    type,
    samples,
  };
}

function layerFamilies(layer: string, counters: object): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const [key, value] of Object.entries(counters)) {
    const type = GAUGES.has(`${layer}.${key}`) ? "gauge" : "counter";
    if (typeof value === "number") out.push(family(layer, key, type, [{ labels: {}, value }]));
    else if (typeof value === "object" && value !== null) {
      const label = LABEL[key] ?? "kind";
      const samples = Object.entries(value as Record<string, number>).map(([k, v]) => ({
        labels: { [label]: k },
        value: v,
      }));
      out.push(family(layer, key, type, samples));
    }
  }
  return out;
}

/**
 * The metric families of a node: every counter of `stats()` (memberlist, log, members by
 * state) and its health (`live`, `ready`, `quorum` as 0/1 gauges).
 *
 * @example
 * ```ts
 * const families = metricFamilies(node.stats(), node.health(), node.hasQuorum);
 * families.find((f) => f.name === "response_cluster_members")?.samples;
 * ```
 */
export function metricFamilies(
  stats: ClusterStats,
  health: ClusterHealth,
  quorum: boolean,
): MetricFamily[] {
  const out: MetricFamily[] = [];
  if (stats.memberlist) out.push(...layerFamilies("memberlist", stats.memberlist));
  out.push(...layerFamilies("log", stats.log));
  const members = Object.entries(stats.members).map(([state, value]) => ({
    labels: { state },
    value,
  }));
  out.push({
    name: `${PREFIX}_members`,
    otelName: `${PREFIX}.members`,
    help: "Known members by state, this node included",
    type: "gauge",
    samples: members,
  });
  const gauge = (key: string, help: string, on: boolean): MetricFamily => ({
    name: `${PREFIX}_${key}`,
    otelName: `${PREFIX}.${key}`,
    help,
    type: "gauge",
    samples: [{ labels: {}, value: on ? 1 : 0 }],
  });
  out.push(gauge("live", "1 while the node runs", health.live));
  out.push(gauge("ready", "1 while the node is ready for traffic (see health())", health.ready));
  out.push(gauge("quorum", "1 while a majority of known members is alive", quorum));
  return out;
}

const escapeLabel = (v: string) =>
  v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * Formats families in the Prometheus text exposition format (version 0.0.4): `# HELP`,
 * `# TYPE`, then one line per series. Serve it as `text/plain; version=0.0.4`.
 *
 * @example
 * ```ts
 * const text = formatPrometheus(metricFamilies(node.stats(), node.health(), node.hasQuorum));
 * // # HELP response_cluster_log_frames_in_total Replication frames received
 * // # TYPE response_cluster_log_frames_in_total counter
 * // response_cluster_log_frames_in_total 42
 * ```
 */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      const value = Number.isFinite(s.value) ? String(s.value) : "NaN";
      lines.push(`${f.name}${labels.length > 0 ? `{${labels.join(",")}}` : ""} ${value}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * Registers one observable instrument per family with a meter of `provider`, observed in one
 * batch callback per collection (one `stats()` call). Returns the function that unregisters.
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * const stop = observeMetrics(metrics.getMeterProvider(), () => metricFamilies(...));
 * stop();
 * ```
 * @param provider the meter provider (the application's SDK, or the API's global one)
 * @param read the current families; called once at registration (for the instruments) and
 *   once per collection
 */
export function observeMetrics(
  provider: MeterProviderLike,
  read: () => MetricFamily[],
): () => void {
  // MeterProviderLike is the API's MeterProvider with the Meter type left out of our docs
  const meter = provider.getMeter("@response/cluster") as Meter;
  const instruments = new Map<string, Observable<Attributes>>();
  for (const f of read()) {
    const options = { description: f.help };
    instruments.set(
      f.otelName,
      f.type === "counter"
        ? meter.createObservableCounter(f.otelName, options)
        : meter.createObservableGauge(f.otelName, options),
    );
  }
  const callback = (result: {
    observe(o: Observable<Attributes>, value: number, attributes?: Attributes): void;
  }) => {
    for (const f of read()) {
      const instrument = instruments.get(f.otelName);
      if (!instrument) continue; // a family that appeared after registration
      for (const s of f.samples) result.observe(instrument, s.value, s.labels);
    }
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
