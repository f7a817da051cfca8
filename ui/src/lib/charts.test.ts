import { describe, expect, it } from "vitest";
import { breakdownChart, targetChart } from "./charts";

const t = (k: string) => k;

describe("charts", () => {
  it("draws a breakdown table's people and achievements in its order", () => {
    const chart = breakdownChart(
      [
        { group: "Thôn Đông", people: 12, attendances: 14, taught: 10, achieved: 6 },
        { group: "Thôn Tây", people: 3, attendances: 3, taught: 2, achieved: 1 },
      ],
      t,
    );
    expect(chart.labels).toEqual(["Thôn Đông", "Thôn Tây"]);
    expect(chart.series.map((s) => s.values)).toEqual([[12, 3], [6, 1]]);
  });

  it("puts what was reached beside the targets, in percent", () => {
    const chart = targetChart(
      {
        commune_code: "14758", commune_name: "Phường Hàm Rồng", adult_population: 56,
        reached: 28, reached_pct: 50, basic_target_pct: 100, basic_met: false,
        confirmed: 5, confirmed_pct: 8.928571, confirmed_target_pct: 80, confirmed_met: false,
      },
      t,
    );
    expect(chart.series[0].values).toEqual([50, 8.9]);
    expect(chart.series[1].values).toEqual([100, 80]);
  });
});
