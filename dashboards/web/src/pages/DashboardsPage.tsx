import { useEffect, useState } from "react";
import { errorMessage } from "../api/client";
import type { CardType } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Skeleton, StateMessage } from "../components/States";
import { DashboardGrid } from "../dashboard/DashboardGrid";
import { useTitle } from "../router";
import { CardFrame } from "../viz/CardFrame";
import type { Frame } from "../viz/frame";

// The dashboards and card-query routes are not served by the host yet; this
// page reads them as DESIGN.md describes them (dashboards per profile with
// cards: type, options, grid position) and says so plainly when absent.

interface DashboardCard {
  id: string;
  type: string;
  options?: Record<string, unknown>;
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Dashboard {
  id: string;
  name: string;
  cards: DashboardCard[];
}

function LiveCard({ card, cardType }: { card: DashboardCard; cardType?: CardType }) {
  const { client, epoch } = useSession();
  const [frame, setFrame] = useState<Frame | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    client.post<{ frame: Frame }>("/api/v1/cards/query", { card_type: card.type, options: card.options ?? {} }).then(
      (r) => live && setFrame(r.frame),
      (e) => live && setError(errorMessage(e)),
    );
    return () => {
      live = false;
    };
  }, [client, card, epoch, tick]);
  const ct = cardType ?? { type: card.type, title: card.type, visualization: "unknown" };
  return <CardFrame cardType={ct} frame={frame} loading={!frame && !error} error={error} options={card.options} onRetry={() => setTick((n) => n + 1)} />;
}

export default function DashboardsPage() {
  useTitle("Dashboards");
  const dashboards = useResource<{ dashboards: Dashboard[] }>("/api/v1/dashboards");
  const types = useResource<{ card_types: CardType[] }>("/api/v1/card-types");
  const notServed = dashboards.error && /no route/i.test(dashboards.error);
  const first = dashboards.data?.dashboards[0];
  const byType = new Map((types.data?.card_types ?? []).map((t) => [t.type, t]));
  return (
    <>
      <div className="page-head">
        <div>
          <h1>{first?.name ?? "Dashboards"}</h1>
          <p className="muted">Cards from your sources on a 12-column grid.</p>
        </div>
      </div>
      {notServed ? (
        <StateMessage kind="empty" title="Dashboards are not available on this host yet">
          This version of the PUOD server does not serve <code>/api/v1/dashboards</code>. The card types you will be able to place are listed in the card catalog.
        </StateMessage>
      ) : dashboards.error ? (
        <StateMessage kind="error" title="Could not load the dashboards" action={<button className="btn" onClick={dashboards.reload}>Retry</button>}>
          {dashboards.error}
        </StateMessage>
      ) : !dashboards.data ? (
        <Skeleton lines={4} />
      ) : !first || first.cards.length === 0 ? (
        <StateMessage kind="empty" title="No cards yet">Add cards from the card catalog to build this dashboard.</StateMessage>
      ) : (
        <DashboardGrid cards={first.cards} renderCard={(id) => {
          const c = first.cards.find((x) => x.id === id)!;
          return <LiveCard card={c} cardType={byType.get(c.type)} />;
        }} />
      )}
    </>
  );
}

