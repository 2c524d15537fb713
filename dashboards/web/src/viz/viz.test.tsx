import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { CardType } from "../api/types";
import { BarViz } from "./BarViz";
import { CardFrame } from "./CardFrame";
import { barFrame, emptyFrame, longSeriesFrame, statFrame, statusGridFrame, tableFrame, wideSeriesFrame } from "./fixtures";
import { readTrend, StatViz } from "./StatViz";
import { buildGrid, StatusGridViz } from "./StatusGridViz";
import { TableViz } from "./TableViz";
import { toSeries } from "./timeseries";
import { TimeseriesViz } from "./TimeseriesViz";

const uplot = vi.hoisted(() => ({ instances: [] as { opts: any; data: any; destroyed: boolean }[] }));
vi.mock("uplot", () => ({
  default: class {
    rec: { opts: any; data: any; destroyed: boolean };
    constructor(opts: any, data: any, el: HTMLElement) {
      this.rec = { opts, data, destroyed: false };
      uplot.instances.push(this.rec);
      el.appendChild(document.createElement("canvas"));
    }
    setSize() {}
    destroy() {
      this.rec.destroyed = true;
    }
  },
}));
vi.mock("uplot/dist/uPlot.min.css", () => ({}));

describe("StatViz", () => {
  it("shows the value with its unit, the trend from meta and the other numbers", () => {
    render(<StatViz frame={statFrame} title="Success rate" />);
    expect(screen.getByTestId("stat-value")).toHaveTextContent("97.5 %");
    const trend = screen.getByTestId("stat-trend");
    expect(trend).toHaveTextContent("+2.5 pp vs previous period (95 %)");
    expect(trend).toHaveClass("trend-good");
    expect(screen.getByText("Failed or timed out").nextSibling).toHaveTextContent("3");
  });

  it("reads the trend shapes the plugins write", () => {
    expect(readTrend({ ...statFrame, meta: { trend: { delta: -1.5, direction: "down", unit: "percent", previous_success_rate: 99 } } }, 97.5)).toMatchObject({ delta: -1.5, direction: "down", previous: 99 });
    expect(readTrend({ ...statFrame, meta: { previous: 90 } }, 97.5)).toMatchObject({ delta: 7.5, direction: "up" });
    expect(readTrend({ ...statFrame, meta: {} }, 97.5)).toBeNull();
    render(<StatViz frame={{ ...statFrame, meta: { trend: -4, trend_good: "up" } }} />);
    expect(screen.getByTestId("stat-trend")).toHaveClass("trend-bad");
  });

  it("has designed empty and null states", () => {
    const { unmount } = render(<StatViz frame={emptyFrame("stat")} />);
    expect(screen.getByRole("status")).toHaveTextContent("No value yet");
    unmount();
    render(<StatViz frame={{ ...statFrame, fields: [{ ...statFrame.fields[0]!, values: [null] }], meta: {} }} />);
    expect(screen.getByTestId("stat-value")).toHaveTextContent("No data");
  });
});

describe("BarViz", () => {
  it("draws one bar per category, proportional to the largest", () => {
    render(<BarViz frame={barFrame} title="Hello runs" />);
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["ETL_Vendas", "Load_Clientes", "Export_BI"]);
    const bars = screen.getAllByTestId("bar");
    expect(bars.map((b) => b.style.width)).toEqual(["100%", "25%", "50%"]);
    expect(rows[1]).toHaveTextContent("10");
  });

  it("says when there is nothing to chart", () => {
    render(<BarViz frame={{ ...barFrame, fields: barFrame.fields.map((f) => ({ ...f, values: [] })) }} />);
    expect(screen.getByRole("status")).toHaveTextContent("Nothing to chart");
  });
});

describe("TableViz", () => {
  const col = (i: number) => screen.getAllByRole("row").slice(1).map((r) => within(r).getAllByRole("cell")[i]!.textContent);

  it("formats cells by type: states as badges, durations, nulls", () => {
    render(<TableViz frame={tableFrame} />);
    expect(col(2)).toEqual(["Succeeded", "Failed", "Running", "Succeeded", "Timed out"]);
    expect(screen.getAllByText("Failed")[0]).toHaveClass("run-failed");
    expect(col(3)).toEqual(["1m 23s", "1.2 s", "—", "7m 30s", "1h"]);
  });

  it("sorts by a column, both ways, nulls last", async () => {
    const user = userEvent.setup();
    render(<TableViz frame={tableFrame} />);
    const header = screen.getByRole("columnheader", { name: /Duration/ });
    expect(header).toHaveAttribute("aria-sort", "none");
    await user.click(within(header).getByRole("button"));
    expect(header).toHaveAttribute("aria-sort", "ascending");
    expect(col(0)).toEqual(["r2", "r1", "r4", "r5", "r3"]);
    await user.click(within(header).getByRole("button"));
    expect(header).toHaveAttribute("aria-sort", "descending");
    expect(col(0)).toEqual(["r5", "r4", "r1", "r2", "r3"]);
    await user.click(within(screen.getByRole("columnheader", { name: /Job/ })).getByRole("button"));
    expect(col(1)).toEqual(["ETL_Vendas", "ETL_Vendas", "Export_BI", "Load_Clientes", "Load_Clientes"]);
  });

  it("paginates", async () => {
    const user = userEvent.setup();
    render(<TableViz frame={tableFrame} options={{ page_size: 2 }} />);
    expect(col(0)).toEqual(["r1", "r2"]);
    expect(screen.getByText("Rows 1–2 of 5")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Previous" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Next" }));
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(col(0)).toEqual(["r5"]);
    expect(screen.getByText("Rows 5–5 of 5")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next" })).toBeDisabled();
    // Sorting goes back to the first page.
    await user.click(within(screen.getByRole("columnheader", { name: /Run/ })).getByRole("button"));
    expect(screen.getByText("Rows 1–2 of 5")).toBeInTheDocument();
  });

  it("has an empty state", () => {
    render(<TableViz frame={emptyFrame("table")} />);
    expect(screen.getByRole("status")).toHaveTextContent("No rows");
  });
});

describe("StatusGridViz", () => {
  it("puts each row's runs oldest to newest, coloured by state", () => {
    const grid = buildGrid(statusGridFrame)!;
    expect(grid.rows.map((r) => r.label)).toEqual(["etl_vendas", "load_bi"]);
    expect(grid.rows[0]!.runs).toEqual([2, 1, 0]);
    render(<StatusGridViz frame={statusGridFrame} title="Recent runs" />);
    const [etl, load] = screen.getAllByRole("row");
    const cells = within(etl!).getAllByRole("img");
    expect(cells.map((c) => c.className)).toEqual(["sg-cell run-state run-succeeded", "sg-cell run-state run-succeeded", "sg-cell run-state run-failed"]);
    expect(cells[2]).toHaveAccessibleName(/^etl_vendas, Failed, Started .*, Run c, Duration 12.5 s$/);
    expect(within(load!).getAllByRole("img").map((c) => c.className)).toEqual(["sg-cell run-state run-cancelled", "sg-cell run-state run-running"]);
    const legend = screen.getByRole("list", { name: "Legend" });
    expect(within(legend).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["Succeeded", "Failed", "Running", "Cancelled"]);
  });

  it("hands the clicked run to the handler", async () => {
    const user = userEvent.setup();
    const onRunClick = vi.fn();
    render(<StatusGridViz frame={statusGridFrame} onRunClick={onRunClick} />);
    await user.click(screen.getByRole("button", { name: /^etl_vendas, Failed/ }));
    expect(onRunClick).toHaveBeenCalledWith({ dag_id: "etl_vendas", position: 0, started_at: "2026-03-01T12:00:00Z", run_id: "c", state: "failed", duration: 12.5 });
  });

  it("orders by time when there is no position, and has an empty state", () => {
    const noPos = { ...statusGridFrame, fields: statusGridFrame.fields.filter((f) => f.name !== "position") };
    expect(buildGrid(noPos)!.rows[1]!.runs).toEqual([4, 3]);
    render(<StatusGridViz frame={emptyFrame("status-grid")} />);
    expect(screen.getByRole("status")).toHaveTextContent("No runs");
  });
});

describe("TimeseriesViz", () => {
  beforeEach(() => {
    uplot.instances.length = 0;
  });

  it("pivots long frames into one series per name", () => {
    const d = toSeries(longSeriesFrame)!;
    expect(d.x).toEqual([Date.parse("2026-03-01T10:00:00Z") / 1000, Date.parse("2026-03-01T11:00:00Z") / 1000, Date.parse("2026-03-01T12:00:00Z") / 1000]);
    expect(d.series.map((s) => [s.label, s.values])).toEqual([
      ["etl", [60000, 65000, null]],
      ["load", [30000, null, 31000]],
    ]);
    expect(toSeries(longSeriesFrame, { field: "runs" })!.series[0]!.values).toEqual([2, 3, null]);
  });

  it("sorts wide frames by time, one series per numeric column", () => {
    const d = toSeries(wideSeriesFrame)!;
    expect(d.series.map((s) => [s.label, s.values])).toEqual([
      ["Ingest", [10, 12]],
      ["Publish", [4, null]],
    ]);
  });

  it("draws with uPlot and cleans up", async () => {
    const { unmount } = render(<TimeseriesViz frame={longSeriesFrame} title="Duration" />);
    await waitFor(() => expect(uplot.instances).toHaveLength(1));
    const { opts, data } = uplot.instances[0]!;
    expect(opts.series.slice(1).map((s: { label: string }) => s.label)).toEqual(["etl", "load"]);
    expect(within(screen.getByRole("list", { name: "Series" })).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["etl", "load"]);
    // Duration axes tick at whole time steps.
    expect(opts.axes[1].incrs).toContain(60_000);
    expect(data).toHaveLength(3);
    // The y axis speaks the field's unit.
    expect(opts.axes[1].values(null, [60000])).toEqual(["1m"]);
    expect(screen.getByRole("figure", { name: "Duration" })).toHaveTextContent(/2 series \(etl, load\)/);
    unmount();
    expect(uplot.instances[0]!.destroyed).toBe(true);
  });

  it("has an empty state", () => {
    render(<TimeseriesViz frame={emptyFrame("timeseries")} />);
    expect(screen.getByRole("status")).toHaveTextContent("No points");
    expect(uplot.instances).toHaveLength(0);
  });
});

describe("CardFrame", () => {
  const ct = (visualization: string): CardType => ({ type: `acme.hello/${visualization}`, title: `A ${visualization}`, visualization });

  it("picks the component from the card type's visualization", async () => {
    const cases: [string, object][] = [
      ["stat", statFrame],
      ["bar", barFrame],
      ["table", tableFrame],
      ["status-grid", statusGridFrame],
      ["timeseries", longSeriesFrame],
    ];
    for (const [viz, frame] of cases) {
      const { container, unmount } = render(<CardFrame cardType={ct(viz)} frame={frame as never} />);
      const card = screen.getByRole("region", { name: `A ${viz}` });
      expect(card).toHaveAttribute("data-visualization", viz);
      expect(container.querySelector(`.viz-${viz === "status-grid" ? "status-grid" : viz}`)).not.toBeNull();
      unmount();
    }
  });

  it("shows loading, error with retry, no data and unknown visualization states", () => {
    const onRetry = vi.fn();
    const { rerender } = render(<CardFrame cardType={ct("bar")} loading />);
    expect(screen.getByRole("status")).toHaveTextContent("Loading data…");
    rerender(<CardFrame cardType={ct("bar")} error="the plugin is not running" onRetry={onRetry} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Could not load this cardthe plugin is not running");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(onRetry).toHaveBeenCalled();
    rerender(<CardFrame cardType={ct("bar")} />);
    expect(screen.getByRole("status")).toHaveTextContent("No data");
    rerender(<CardFrame cardType={ct("heatmap")} frame={barFrame} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Unknown visualization");
  });
});
