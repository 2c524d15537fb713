// The uPlot canvas, in its own chunk: only pages that draw a time series
// load uPlot (about 20 KB gzipped).
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { durationScale, formatTime, formatValue } from "./format";
import { seriesColor } from "./palette";
import type { SeriesData } from "./timeseries";

export interface UPlotChartProps {
  data: SeriesData;
  height?: number;
}

// Tick steps for durations, in milliseconds: 1 s … 1 week, so an axis reads
// "1m, 2m, 3m", not "1m 40s, 3m 20s".
const durationSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

export default function UPlotChart({ data, height = 220 }: UPlotChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const readout = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const first = data.series[0]!.field;
    const scale = durationScale(first);
    const idle = "Point at the chart to read its values.";
    const showReadout = (idx: number | null | undefined) => {
      if (!readout.current) return;
      if (idx === null || idx === undefined) {
        readout.current.textContent = idle;
        return;
      }
      const parts = data.series.map((s) => `${s.label} ${formatValue(s.field, s.values[idx] ?? null)}`);
      readout.current.textContent = `${formatTime(data.x[idx]! * 1000)} — ${parts.join(" · ")}`;
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth || 600),
      height,
      series: [
        {},
        ...data.series.map((s, i) => ({
          label: s.label,
          stroke: seriesColor(i),
          width: 2,
          points: { show: data.x.length <= 60, size: 5 },
        })),
      ],
      axes: [
        { stroke: "#4a5466", grid: { stroke: "#e6e9ef" }, ticks: { stroke: "#e6e9ef" } },
        {
          stroke: "#4a5466",
          grid: { stroke: "#e6e9ef" },
          ticks: { stroke: "#e6e9ef" },
          size: 70,
          ...(scale !== null ? { incrs: durationSteps.map((ms) => ms / scale) } : {}),
          values: (_u, splits) => splits.map((v) => formatValue(first, v)),
        },
      ],
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      hooks: { setCursor: [(u) => showReadout(u.cursor.idx)] },
    };
    const plot = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData, el);
    showReadout(null);
    let ro: ResizeObserver | undefined;
    if (typeof ResizeObserver !== "undefined") {
      ro = new ResizeObserver(() => {
        const w = el.clientWidth;
        if (w > 0 && w !== plot.width) plot.setSize({ width: w, height });
      });
      ro.observe(el);
    }
    return () => {
      ro?.disconnect();
      plot.destroy();
    };
  }, [data, height]);

  return (
    <>
      <div ref={host} className="uplot-host" data-testid="uplot-host" />
      <div ref={readout} className="ts-readout" aria-hidden="true" />
    </>
  );
}
