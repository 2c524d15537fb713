import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { CardType } from "../api/types";
import { useSession } from "../auth/session";
import { StateMessage } from "../components/States";
import { navigate } from "../router";
import { CardFrame } from "../viz/CardFrame";
import type { Frame } from "../viz/frame";
import { cardTitle, rangeShort, type CardQueryResult, type DashboardCard, type TimeRange } from "./model";

export interface CardOutcome {
  /** The tags the last answer read; [] after an error. */
  tags: string[];
  state: "ok" | "error" | "unavailable";
}

export interface LiveCardProps {
  card: DashboardCard;
  /** The card's type from the catalog; undefined when no running plugin offers it. */
  cardType?: CardType;
  /** The range the card queries: its own or the dashboard's. */
  range: TimeRange;
  /** Changing it re-queries the card (a live event touched its data). */
  refreshKey: number;
  onOutcome?: (id: string, o: CardOutcome) => void;
  actions?: ReactNode;
}

function Unavailable({ title, type, detail, actions }: { title: string; type: string; detail: string; actions?: ReactNode }) {
  return (
    <section className="card card-unavailable" aria-label={title} data-card-state="unavailable">
      <header className="card-head">
        <h3>{title}</h3>
        {actions}
      </header>
      <div className="card-body">
        <StateMessage kind="error" title="Plugin unavailable">
          {detail} <span className="muted">(card type <code>{type}</code>)</span>
        </StateMessage>
      </div>
    </section>
  );
}

/**
 * One dashboard card: queries POST /api/v1/cards/query with its type,
 * options and time range, and draws the answer with the visualization its
 * type declares. A type no running plugin offers, or a query answered
 * plugin_unavailable, shows a placeholder; the rest of the page works.
 */
export function LiveCard({ card, cardType, range, refreshKey, onOutcome, actions }: LiveCardProps) {
  const { client, epoch } = useSession();
  const [frame, setFrame] = useState<Frame | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unavailable, setUnavailable] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [retry, setRetry] = useState(0);
  const outcome = useRef(onOutcome);
  outcome.current = onOutcome;
  const optionsKey = JSON.stringify(card.options);
  const title = cardTitle(card, cardType);

  useEffect(() => {
    if (!cardType) {
      outcome.current?.(card.id, { tags: [], state: "unavailable" });
      return;
    }
    let live = true;
    setLoading(true);
    client.post<CardQueryResult>("/api/v1/cards/query", { type: card.type, options: JSON.parse(optionsKey), time_range: range }).then(
      (r) => {
        if (!live) return;
        setFrame(r.frame);
        setError(null);
        setUnavailable(null);
        setLoading(false);
        outcome.current?.(card.id, { tags: r.tags ?? [], state: "ok" });
      },
      (e) => {
        if (!live) return;
        setLoading(false);
        if (e instanceof ApiError && (e.code === "plugin_unavailable" || e.code === "card_type_not_found")) {
          setUnavailable(e.message);
          outcome.current?.(card.id, { tags: [], state: "unavailable" });
          return;
        }
        setError(errorMessage(e));
        outcome.current?.(card.id, { tags: [], state: "error" });
      },
    );
    return () => {
      live = false;
    };
  }, [client, epoch, card.id, card.type, optionsKey, range.from, range.to, cardType, refreshKey, retry]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!cardType) {
    return <Unavailable title={title} type={card.type} detail="No running plugin offers this card type. Check the Plugins page; the card comes back when its plugin runs again." actions={actions} />;
  }
  if (unavailable) return <Unavailable title={title} type={card.type} detail={unavailable} actions={actions} />;
  const shown: CardType = { ...cardType, title };
  const badge = card.time_range ? (
    <span className="card-range" title={`This card's own time range: ${card.time_range.from} → ${card.time_range.to}`}>
      {rangeShort(card.time_range)}
    </span>
  ) : null;
  return (
    <CardFrame
      cardType={shown}
      frame={frame}
      loading={loading}
      error={error}
      options={card.options}
      onRetry={() => setRetry((n) => n + 1)}
      onRunClick={(r) => {
        if (r.run_id !== null && r.run_id !== undefined) navigate(`/runs/${encodeURIComponent(String(r.run_id))}`);
      }}
      actions={
        badge || actions ? (
          <>
            {badge}
            {actions}
          </>
        ) : undefined
      }
    />
  );
}
