/**
 * Checks a dashboard's PromQL against what a node really exports: every metric name, and every
 * label name used in a matcher or a grouping clause. Not a PromQL parser: the dashboard's queries
 * are plain (selectors, rate/increase, aggregations with `by`, histogram_quantile, arithmetic),
 * and the checker fails loudly on anything it cannot account for rather than passing it.
 */

export interface ExportedMetric {
  /** prom-client's TYPE: counter, gauge, histogram, summary. */
  type: string;
  /** Label names declared for the metric (services/metrics/metrics.ts labelNames). */
  labels: readonly string[];
}

/** Labels that Prometheus adds at scrape time (the rendered Kubernetes ConfigMap adds node_tier, node, pod). */
export const SCRAPE_LABELS = ['job', 'instance', 'node_tier', 'node', 'pod'] as const;

/** Words of PromQL that look like identifiers but name no metric. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan',
  'sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group']);

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export interface MetricUse {
  /** The name as written in the query. */
  written: string;
  /** The exported family it belongs to (the base of a histogram's _bucket/_sum/_count). */
  family: string;
  /** Label names in the selector's {...}. */
  matcherLabels: string[];
}

export interface ParsedQuery {
  metrics: MetricUse[];
  /** Label names of by (...), without (...), on (...), ignoring (...), group_left/right (...). */
  groupingLabels: string[];
}

/** Splits one query into metric selectors and grouping labels; `family` is filled in by check(). */
export function parseQuery(expr: string): ParsedQuery {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings: label values, never names
    .replace(/\[[^\]]*\]/g, ' '); // range and subquery selectors: [$__rate_interval], [5m:1m]
  const groupingLabels: string[] = [];
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _word: string, labels: string) => {
    groupingLabels.push(...labels.split(',').map((label) => label.trim()).filter((label) => label !== ''));
    return ' ';
  });
  const metrics: MetricUse[] = [];
  const selector = /(?<![\w.:$])([a-zA-Z_:][\w:]*)\s*(\{([^}]*)\})?(\s*\()?|\{([^}]*)\}/g;
  for (const match of rest.matchAll(selector)) {
    const [, name, , matchers, call, bareMatchers] = match;
    if (bareMatchers !== undefined) {
      // {__name__="..."} alone: the checker would have to trust the string; refuse instead.
      throw new Error(`selector without a metric name in: ${expr}`);
    }
    if (name === undefined || call !== undefined || KEYWORDS.has(name)) continue;
    const matcherLabels = (matchers ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => {
        const label = /^([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*""$/.exec(part);
        if (!label) throw new Error(`cannot read matcher "${part}" in: ${expr}`);
        return label[1]!;
      });
    metrics.push({ written: name, family: name, matcherLabels });
  }
  // Anything that is neither a function nor a metric nor a known word would have been caught above;
  // a query with no metric at all (a constant) is suspicious on a dashboard.
  if (metrics.length === 0) throw new Error(`no metric in: ${expr}`);
  return { metrics, groupingLabels };
}

/** The query of a Grafana label_values(metric{...}, label) variable, as PromQL plus the label it reads. */
export function parseLabelValues(query: string): { expr: string; label: string } | undefined {
  const match = /^\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*$/.exec(query);
  return match ? { expr: match[1]!, label: match[2]! } : undefined;
}

/**
 * Whether `label` may be used on series of `family`. The scrape labels are chosen so that none
 * collides with a metric's own (checkQuery reports a collision), so no exported_<label> exists:
 * Prometheus (honor_labels: false) would make one only for a collision.
 */
export function labelExists(label: string, family: ExportedMetric, scrapeLabels: readonly string[]): boolean {
  if (label.startsWith('exported_')) return false;
  return label === '__name__' || scrapeLabels.includes(label) || family.labels.includes(label);
}

/** Problems found in one query, as readable lines; empty when every name and label exists. */
export function checkQuery(expr: string, exported: ReadonlyMap<string, ExportedMetric>, scrapeLabels: readonly string[] = SCRAPE_LABELS): string[] {
  const problems: string[] = [];
  let parsed: ParsedQuery;
  try {
    parsed = parseQuery(expr);
  } catch (error) {
    return [(error as Error).message];
  }
  const found: { use: MetricUse; family: ExportedMetric }[] = [];
  let bucketUsed = false;
  for (const use of parsed.metrics) {
    let family = exported.get(use.written);
    let suffix: string | undefined;
    if (family === undefined) {
      suffix = HISTOGRAM_SUFFIXES.find((end) => use.written.endsWith(end));
      const baseName = suffix === undefined ? undefined : use.written.slice(0, -suffix.length);
      const base = baseName === undefined ? undefined : exported.get(baseName);
      // _bucket/_sum/_count are only stripped where the base really is a histogram.
      if (base !== undefined && base.type === 'histogram') {
        family = base;
        use.family = baseName!;
      }
    } else if (family.type === 'histogram') {
      problems.push(`${use.written} is a histogram: query its _bucket, _sum or _count (in: ${expr})`);
    }
    if (family === undefined) {
      problems.push(`unknown metric ${use.written} (in: ${expr})`);
      continue;
    }
    if (suffix === '_bucket') bucketUsed = true;
    found.push({ use, family });
    // A scrape label named like one of the metric's own renames the metric's to exported_<label>.
    for (const label of family.labels.filter((own) => scrapeLabels.includes(own))) {
      problems.push(`${use.written}'s own label "${label}" collides with the scrape label "${label}": Prometheus renames the metric's to exported_${label}; rename the scrape label (in: ${expr})`);
    }
    for (const label of use.matcherLabels) {
      if (label.startsWith('exported_')) {
        problems.push(`${use.written}: "${label}" exists only where a scrape label collides with a metric's own; use the metric's own label name (in: ${expr})`);
        continue;
      }
      if (label === 'le' ? suffix !== '_bucket' : !labelExists(label, family, scrapeLabels)) {
        problems.push(`${use.written} has no label "${label}" (labels: ${family.labels.join(', ') || 'none'}; in: ${expr})`);
      }
    }
  }
  // A grouping label must exist on every series the query combines, or the groups come out empty.
  for (const label of parsed.groupingLabels) {
    if (label === 'le') {
      if (!bucketUsed) problems.push(`by (le) without a histogram _bucket (in: ${expr})`);
      continue;
    }
    if (label.startsWith('exported_')) {
      problems.push(`grouping label "${label}" exists only where a scrape label collides with a metric's own; use the metric's own label name (in: ${expr})`);
      continue;
    }
    for (const { use, family } of found) {
      if (!labelExists(label, family, scrapeLabels)) problems.push(`grouping label "${label}" is not a label of ${use.written} (in: ${expr})`);
    }
  }
  return problems;
}

/** Reads `# TYPE name type` lines: prom-client prints them for every registered metric, even one with no sample yet. */
export function typesFromExposition(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1]!, match[2]!);
  return types;
}
