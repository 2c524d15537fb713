import { lazy, Suspense, useMemo } from "react";
import { StateMessage } from "../components/States";
import { formatTime } from "./format";
import { seriesColor } from "./palette";
import { toSeries } from "./timeseries";
import type { VizProps } from "./types";

const UPlotChart = lazy(() => import("./UPlotChart"));

/** Lines over time, drawn by uPlot (loaded on first use). */
export function TimeseriesViz({ frame, options, title }: VizProps) {
  const data = useMemo(() => toSeries(frame, options), [frame, options]);
  if (!data || data.x.length === 0 || data.series.length === 0) {
    return <StateMessage kind="empty" title="No points">No values were recorded for this time range.</StateMessage>;
  }
  const height = typeof options?.height === "number" ? options.height : 220;
  const summary = `${data.series.length} series (${data.series.map((s) => s.label).join(", ")}) from ${formatTime(data.x[0]! * 1000)} to ${formatTime(data.x[data.x.length - 1]! * 1000)}`;
  return (
    <figure className="viz viz-timeseries" aria-label={title ?? frame.name}>
      <figcaption className="visually-hidden">{summary}</figcaption>
      <ul className="legend ts-legend" aria-label="Series">
        {data.series.map((s, i) => (
          <li key={s.label}>
            <span className="swatch" style={{ background: seriesColor(i) }} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
      <Suspense fallback={<StateMessage kind="loading" title="Drawing chart…" compact />}>
        <UPlotChart data={data} height={height} />
      </Suspense>
    </figure>
  );
}
