import { RANGE_PRESETS, sameRange, type TimeRange } from "./model";

/** The dashboard's time range: presets, plus the stored range when it is not one. */
export function TimeRangePicker({ value, onChange, label = "Time range" }: { value: TimeRange; onChange: (r: TimeRange) => void; label?: string }) {
  const idx = RANGE_PRESETS.findIndex((p) => sameRange(p.range, value));
  return (
    <label className="range-picker">
      <span className="visually-hidden">{label}</span>
      <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
        <circle cx="12" cy="12" r="9" />
        <path d="M12 7v5l3 2" />
      </svg>
      <select value={idx >= 0 ? String(idx) : "custom"} onChange={(e) => e.target.value !== "custom" && onChange(RANGE_PRESETS[Number(e.target.value)]!.range)}>
        {RANGE_PRESETS.map((p, i) => (
          <option key={p.label} value={String(i)}>
            {p.label}
          </option>
        ))}
        {idx < 0 && <option value="custom">{`${value.from} → ${value.to}`}</option>}
      </select>
    </label>
  );
}
