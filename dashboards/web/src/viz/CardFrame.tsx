import type { ComponentType, ReactNode } from "react";
import type { CardType } from "../api/types";
import { StateMessage } from "../components/States";
import { BarViz } from "./BarViz";
import type { Frame } from "./frame";
import { StatViz } from "./StatViz";
import { StatusGridViz } from "./StatusGridViz";
import { TableViz } from "./TableViz";
import { TimeseriesViz } from "./TimeseriesViz";
import type { RowRecord, VizProps } from "./types";

/**
 * One component per visualization a card type can declare. A plugin's card
 * is drawn by the component its manifest names; no plugin has front-end
 * code of its own.
 */
export const visualizations: Record<string, ComponentType<VizProps & { onRunClick?: (r: RowRecord) => void }>> = {
  stat: StatViz,
  timeseries: TimeseriesViz,
  bar: BarViz,
  table: TableViz,
  "status-grid": StatusGridViz,
};

export interface CardFrameProps {
  cardType: CardType;
  frame?: Frame | null;
  loading?: boolean;
  error?: string | null;
  options?: Record<string, unknown>;
  onRetry?: () => void;
  onRunClick?: (run: RowRecord) => void;
  /** Extra controls in the card header (menu, refresh). */
  actions?: ReactNode;
}

/** A dashboard card: its header and the visualization its type declares, or a loading, empty or error state. */
export function CardFrame({ cardType, frame, loading, error, options, onRetry, onRunClick, actions }: CardFrameProps) {
  const Viz = visualizations[cardType.visualization];
  let body: ReactNode;
  if (!Viz) {
    body = (
      <StateMessage kind="error" title="Unknown visualization">
        This card type asks for “{cardType.visualization}”, which this version of PUOD cannot draw.
      </StateMessage>
    );
  } else if (error) {
    body = (
      <StateMessage
        kind="error"
        title="Could not load this card"
        action={
          onRetry && (
            <button type="button" className="btn btn-small" onClick={onRetry}>
              Retry
            </button>
          )
        }
      >
        {error}
      </StateMessage>
    );
  } else if (loading && !frame) {
    body = <StateMessage kind="loading" title="Loading data…" />;
  } else if (!frame) {
    body = <StateMessage kind="empty" title="No data">This card has not received any data yet.</StateMessage>;
  } else {
    body = <Viz frame={frame} options={options} title={cardType.title} onRunClick={onRunClick} />;
  }
  return (
    <section className="card" aria-label={cardType.title} data-visualization={cardType.visualization}>
      <header className="card-head">
        <h3 title={cardType.description}>{cardType.title}</h3>
        {loading && frame && <span className="spinner spinner-small" role="status" aria-label="Refreshing" />}
        {actions}
      </header>
      <div className="card-body">{body}</div>
    </section>
  );
}
