// A test page for the e2e run: every visualization, and the card states,
// drawn from frames shaped like the plugins' answers, on the dashboard grid.
// Never part of the shipped app.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import type { CardType } from "../../src/api/types";
import { DashboardGrid, type GridCard } from "../../src/dashboard/DashboardGrid";
import { CardFrame } from "../../src/viz/CardFrame";
import { barFrame, statFrame, tableFrame } from "../../src/viz/fixtures";
import type { Frame } from "../../src/viz/frame";
import type { RowRecord } from "../../src/viz/types";
import "../../src/styles.css";

const base = Date.parse("2026-03-01T00:00:00Z");
const hours = 36;
const jobs = ["ETL_Vendas", "Load_Clientes", "Export_BI"];

function durationTrend(): Frame {
  const time: string[] = [];
  const job: string[] = [];
  const avg: number[] = [];
  for (let h = 0; h < hours; h++) {
    jobs.forEach((j, k) => {
      time.push(new Date(base + h * 3600_000).toISOString());
      job.push(j);
      avg.push(Math.round((120 + k * 90 + 40 * Math.sin(h / 4 + k) + (h === 30 && k === 0 ? 260 : 0)) * 1000));
    });
  }
  return {
    name: "duration_trend",
    type: "timeseries",
    fields: [
      { name: "time", type: "time", values: time },
      { name: "job", label: "Job", type: "string", values: job },
      { name: "avg_duration", label: "Average duration", type: "duration", unit: "ms", values: avg },
    ],
  };
}

function statusGrid(): Frame {
  const states = ["succeeded", "succeeded", "failed", "succeeded", "running", "succeeded", "timed_out", "succeeded", "cancelled", "succeeded", "skipped", "queued"];
  const job: string[] = [];
  const pos: number[] = [];
  const st: string[] = [];
  const run: string[] = [];
  const started: string[] = [];
  jobs.forEach((j, k) => {
    for (let i = 0; i < 12; i++) {
      job.push(j);
      pos.push(i);
      st.push(i === 0 && k === 1 ? "running" : states[(i * 5 + k * 3) % states.length]!);
      run.push(`${k}-${100 - i}`);
      started.push(new Date(base + (hours - i) * 3600_000).toISOString());
    }
  });
  return {
    name: "status_grid",
    type: "status-grid",
    fields: [
      { name: "job", label: "Job", type: "string", values: job },
      { name: "position", type: "int", values: pos },
      { name: "run_id", label: "Run", type: "string", values: run },
      { name: "started_at", label: "Started", type: "time", values: started },
      { name: "state", label: "State", type: "string", values: st },
    ],
  };
}

const cards: { id: string; ct: CardType; frame?: Frame; loading?: boolean; error?: string; options?: Record<string, unknown> }[] = [
  { id: "stat", ct: { type: "puod.databricks/success_rate", title: "Success rate (24 h)", visualization: "stat" }, frame: statFrame },
  { id: "bar", ct: { type: "acme.hello/greeting_runs", title: "Hello runs", visualization: "bar" }, frame: barFrame },
  { id: "loading", ct: { type: "puod.airflow/runs_table", title: "Loading card", visualization: "table" }, loading: true },
  { id: "ts", ct: { type: "puod.databricks/duration_trend", title: "Duration trend", visualization: "timeseries" }, frame: durationTrend() },
  { id: "grid", ct: { type: "puod.airflow/status_grid", title: "Recent runs", visualization: "status-grid" }, frame: statusGrid() },
  { id: "table", ct: { type: "puod.databricks/runs", title: "Runs", visualization: "table" }, frame: tableFrame, options: { page_size: 4 } },
  { id: "empty", ct: { type: "puod.synapse/runs", title: "Empty card", visualization: "table" }, frame: { name: "x", type: "table", fields: [] } },
  { id: "error", ct: { type: "puod.synapse/success_rate", title: "Failing card", visualization: "stat" }, error: "plugin puod.synapse is in backoff: it crashed 3 times; see its log on the Plugins page" },
];

const layout: GridCard[] = [
  { id: "stat", x: 0, y: 0, w: 3, h: 2 },
  { id: "bar", x: 3, y: 0, w: 4, h: 2 },
  { id: "loading", x: 7, y: 0, w: 5, h: 2 },
  { id: "ts", x: 0, y: 2, w: 7, h: 3 },
  { id: "grid", x: 7, y: 2, w: 5, h: 3 },
  { id: "table", x: 0, y: 5, w: 7, h: 3 },
  { id: "empty", x: 7, y: 5, w: 5, h: 1 },
  { id: "error", x: 7, y: 6, w: 5, h: 2 },
];

function Gallery() {
  const [clicked, setClicked] = useState<RowRecord | null>(null);
  return (
    <main style={{ maxWidth: 1280 }}>
      <h1>Visualizations</h1>
      <p className="muted" data-testid="clicked">
        {clicked ? `Clicked run ${clicked.run_id} (${clicked.state})` : "Click a run in the status grid."}
      </p>
      <DashboardGrid
        cards={layout}
        renderCard={(id) => {
          const c = cards.find((x) => x.id === id)!;
          return <CardFrame cardType={c.ct} frame={c.frame} loading={c.loading} error={c.error} options={c.options} onRetry={() => {}} onRunClick={setClicked} />;
        }}
      />
    </main>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Gallery />
  </StrictMode>,
);
