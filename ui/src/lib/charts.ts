// What the Reports screen draws: a report's tables turned into chart series, kept apart from the
// canvas so that they are tested without a window. Chart.js (from npm, bundled: no network)
// draws them.

import type { BreakdownRow, CommuneProgress } from "./bindings";

export interface Series {
  label: string;
  values: number[];
}

export interface ChartData {
  labels: string[];
  series: Series[];
}

/** People reached and skills achieved per group of a breakdown table, in the table's order. */
export function breakdownChart(rows: BreakdownRow[], t: (k: string) => string): ChartData {
  return {
    labels: rows.map((r) => r.group),
    series: [
      { label: t("reports.chart.people"), values: rows.map((r) => r.people) },
      { label: t("reports.chart.achieved"), values: rows.map((r) => r.achieved) },
    ],
  };
}

/** Reached and confirmed, in % of the commune's adults, beside the province's targets. */
export function targetChart(target: CommuneProgress, t: (k: string) => string): ChartData {
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    labels: [t("reports.chart.reached_pct"), t("reports.chart.confirmed_pct")],
    series: [
      { label: t("reports.chart.done"), values: [round(target.reached_pct), round(target.confirmed_pct)] },
      { label: t("reports.chart.target"), values: [target.basic_target_pct, target.confirmed_target_pct] },
    ],
  };
}
