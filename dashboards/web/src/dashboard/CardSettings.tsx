import { useId, useState } from "react";
import type { CardType, FieldProblem } from "../api/types";
import { SchemaForm } from "../components/SchemaForm";
import type { JSONSchema } from "../components/schema";
import { RANGE_PRESETS, sameRange, type TimeRange } from "./model";

export interface CardSettingsValue {
  title: string;
  options: Record<string, unknown>;
  time_range: TimeRange | null;
}

const EMPTY: JSONSchema = { type: "object", properties: {} };

/**
 * A card's settings: title, time range (the dashboard's or its own) and
 * the options form generated from the card type's JSON Schema (a plugin
 * card's schema carries the source to read as a oneOf).
 */
export function CardSettings({ cardType, initial, submitLabel, onSubmit, onCancel, serverErrors, formError }: { cardType: CardType; initial?: CardSettingsValue; submitLabel: string; onSubmit: (v: CardSettingsValue) => void; onCancel: () => void; serverErrors?: FieldProblem[]; formError?: string | null }) {
  const id = useId().replace(/:/g, "");
  const [title, setTitle] = useState(initial?.title ?? "");
  const [range, setRange] = useState<TimeRange | null>(initial?.time_range ?? null);
  const presetIdx = range ? RANGE_PRESETS.findIndex((p) => sameRange(p.range, range)) : -1;
  const schema = cardType.options_schema && Object.keys(cardType.options_schema.properties ?? {}).length > 0 ? cardType.options_schema : EMPTY;
  return (
    <div className="card-settings">
      <div className="field">
        <label className="field-label" htmlFor={`${id}-title`}>
          Card title
        </label>
        <input id={`${id}-title`} type="text" value={title} placeholder={cardType.title} onChange={(e) => setTitle(e.target.value)} aria-describedby={`${id}-title-help`} />
        <p id={`${id}-title-help`} className="help">
          Leave empty to use “{cardType.title}”.
        </p>
      </div>
      <div className="field">
        <label className="field-label" htmlFor={`${id}-range`}>
          Card time range
        </label>
        <select id={`${id}-range`} value={range ? (presetIdx >= 0 ? String(presetIdx) : "custom") : "follow"} onChange={(e) => setRange(e.target.value === "follow" ? null : e.target.value === "custom" ? range : RANGE_PRESETS[Number(e.target.value)]!.range)}>
          <option value="follow">Follow the dashboard</option>
          {RANGE_PRESETS.map((p, i) => (
            <option key={p.label} value={String(i)}>
              {p.label}
            </option>
          ))}
          {range && presetIdx < 0 && <option value="custom">{`${range.from} → ${range.to}`}</option>}
        </select>
      </div>
      {schema === EMPTY && <p className="muted small">This card type has no options.</p>}
      <SchemaForm
        key={cardType.type}
        label={`Options of ${cardType.title}`}
        schema={schema}
        initialValue={initial?.options}
        submitLabel={submitLabel}
        serverErrors={serverErrors}
        formError={formError}
        onCancel={onCancel}
        onSubmit={(options) => onSubmit({ title: title.trim(), options, time_range: range })}
      />
    </div>
  );
}
