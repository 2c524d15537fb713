import "./notifications.css";
import { useCallback, useEffect, useMemo, useState } from "react";
import { errorMessage } from "../api/client";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { navigate, useSearch, useTitle } from "../router";
import { AlertsHead, AlertStateBadge, Pill, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { isEditor, NOTIFICATION_STATES, notificationFiltersToSearch, notificationPhase, notificationsRequest, parseNotificationFilters, type NotificationFilters, type NotificationPhase } from "./model";
import type { AlertNotification, NotificationPage } from "./types";

// The notifications outbox in the UI: a chip per delivery phase, what
// happened to a notification (delivered, waiting for a retry and why,
// given up and why), the Retry of a dead letter, and the Notifications
// page listing them. The alert detail's timeline uses the same pieces.

const phaseTone: Record<NotificationPhase, string> = { sent: "good", pending: "info", retrying: "warn", dead: "bad" };

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** A time to the second (notifications go out within seconds of their decision); timeOnly leaves the date to the line's own. */
export function PreciseTime({ iso, timeOnly }: { iso?: string; timeOnly?: boolean }) {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return <span className="null">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {(timeOnly ? timeFmt : dateTimeFmt).format(t)}
    </time>
  );
}

/** How long a list with notifications still on their way waits before looking again (delivery is not announced on the event stream). */
export const PENDING_REFRESH_MS = 3000;

export function NotificationBadge({ n }: { n: Pick<AlertNotification, "state" | "attempts"> }) {
  const phase = notificationPhase(n);
  return <Pill kind="notification" tone={phaseTone[phase]} value={phase} />;
}

/** The sink a notification goes to: its source's name, or its id once the source is deleted. */
export function SinkName({ n }: { n: AlertNotification }) {
  if (n.sink_name) return <span className="ntf-sink">{n.sink_name}</span>;
  return (
    <span className="ntf-sink" title="This sink source no longer exists">
      <code>{n.sink_source_id}</code> <span className="muted small">(deleted)</span>
    </span>
  );
}

/** What happened to a notification: when it was delivered, why it waits, or why it was given up. */
export function NotificationDelivery({ n }: { n: AlertNotification }) {
  switch (notificationPhase(n)) {
    case "sent":
      return (
        <span className="ntf-delivery">
          Delivered at <PreciseTime iso={n.delivered_at} timeOnly />
          {n.attempts > 0 && (
            <span className="muted">
              {" "}
              after {n.attempts} failed attempt{n.attempts === 1 ? "" : "s"}
            </span>
          )}
        </span>
      );
    case "pending":
      return (
        <span className="ntf-delivery">
          Queued, sending at <PreciseTime iso={n.next_attempt_at} timeOnly />
        </span>
      );
    case "retrying":
      return (
        <span className="ntf-delivery">
          {n.attempts} failed attempt{n.attempts === 1 ? "" : "s"}, next at <PreciseTime iso={n.next_attempt_at} timeOnly />
          {n.last_error && <span className="ntf-error">{n.last_error}</span>}
        </span>
      );
    default:
      return (
        <span className="ntf-delivery">
          Given up after {n.attempts} attempt{n.attempts === 1 ? "" : "s"}
          <span className="ntf-reason" data-testid="dead-reason">
            {n.last_error || "no reason recorded"}
          </span>
        </span>
      );
  }
}

/** Retry of dead letters, with the outcome to show; onDone gets the notification as it is now (pending again), or null if the retry failed. */
export function useRetryNotification(onDone: (updated: AlertNotification | null) => void) {
  const { client } = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const retry = useCallback(
    async (n: AlertNotification) => {
      setBusy(n.id);
      setResult(null);
      let updated: AlertNotification | null = null;
      try {
        updated = await client.post<AlertNotification>(`/api/v1/notifications/${encodeURIComponent(n.id)}/retry`);
        setResult({ ok: true, text: `Sent again to ${n.sink_name || n.sink_source_id}: it is queued and goes out within seconds.` });
      } catch (e) {
        setResult({ ok: false, text: errorMessage(e) });
      } finally {
        setBusy(null);
        onDone(updated);
      }
    },
    [client, onDone],
  );
  return { retry, busy, result };
}

export function RetryButton({ n, busy, onRetry }: { n: AlertNotification; busy: boolean; onRetry: (n: AlertNotification) => void }) {
  return (
    <button type="button" className="btn btn-small" disabled={busy} onClick={() => onRetry(n)} aria-label={`Retry notification to ${n.sink_name || n.sink_source_id}`}>
      {busy ? "Retrying…" : "Retry"}
    </button>
  );
}

export function RetryResult({ result }: { result: { ok: boolean; text: string } | null }) {
  if (!result) return null;
  return (
    <p className={result.ok ? "notice" : "form-alert"} role={result.ok ? "status" : "alert"}>
      {result.text}
    </p>
  );
}

/** /alerts/notifications: every notification, newest first, with a state filter; dead letters stand out and editors retry them. */
export function NotificationList() {
  useTitle("Notifications");
  const { me, client } = useSession();
  const editor = isEditor(me?.role);
  const search = useSearch();
  const filters = useMemo(() => parseNotificationFilters(search), [search]);
  const [pendingShown, setPendingShown] = useState(false);
  const first = useResource<NotificationPage>(notificationsRequest(filters), { refreshMs: pendingShown ? PENDING_REFRESH_MS : undefined });
  // Older pages, appended by "Show older" (cursors count back from the
  // oldest row shown, so they stay valid while the first page refreshes).
  const [older, setOlder] = useState<{ items: AlertNotification[]; next: string }>({ items: [], next: "" });
  const [olderBusy, setOlderBusy] = useState(false);
  const [olderError, setOlderError] = useState<string | null>(null);
  useEffect(() => setOlder({ items: [], next: "" }), [filters]);
  const setFilters = useCallback((f: NotificationFilters) => navigate(`/alerts/notifications${notificationFiltersToSearch(f)}`), []);
  const refresh = useCoalesced(first.reload);
  const live = useAlertChanges(useCallback(() => refresh(), [refresh]));
  const reload = first.reload;
  const { retry, busy, result } = useRetryNotification(
    useCallback(
      (u: AlertNotification | null) => {
        if (u) setOlder((o) => ({ ...o, items: o.items.map((x) => (x.id === u.id ? u : x)) }));
        reload();
      },
      [reload],
    ),
  );

  const list = useMemo(() => {
    if (!first.data) return undefined;
    const seen = new Set(first.data.notifications.map((n) => n.id));
    return [...first.data.notifications, ...older.items.filter((n) => !seen.has(n.id))];
  }, [first.data, older.items]);
  const next = older.items.length ? older.next : (first.data?.next_cursor ?? "");
  useEffect(() => setPendingShown(!!list?.some((n) => n.state === "pending")), [list]);

  const loadOlder = async () => {
    setOlderBusy(true);
    setOlderError(null);
    try {
      const page = await client.get<NotificationPage>(notificationsRequest({ ...filters, cursor: next }));
      setOlder((o) => ({ items: [...o.items, ...page.notifications], next: page.next_cursor }));
    } catch (e) {
      setOlderError(errorMessage(e));
    } finally {
      setOlderBusy(false);
    }
  };

  const dead = first.data?.dead_count ?? 0;
  let body;
  if (first.error && !list) {
    body = (
      <StateMessage kind="error" title="Could not load the notifications" action={<button type="button" className="btn" onClick={first.reload}>Retry</button>}>
        {first.error}
      </StateMessage>
    );
  } else if (!list) {
    body = <Skeleton lines={5} />;
  } else if (list.length === 0) {
    body = filters.state ? (
      <StateMessage kind="empty" title={filters.state === "dead" ? "No dead letters" : `No ${filters.state} notifications`} action={<button type="button" className="btn" onClick={() => setFilters({})}>Show all</button>}>
        {filters.state === "dead" ? "Every notification was delivered or is still on its way." : "Choose another state."}
      </StateMessage>
    ) : (
      <StateMessage kind="empty" title="No notifications yet" action={<Link className="btn" href="/alerts/rules">See the rules</Link>}>
        A notification is written here when an alert fires or resolves, one for each sink of its rule.
      </StateMessage>
    );
  } else {
    body = (
      <>
        <div className="table-scroll panel panel-flush">
          <table className="data-table notifications-table">
            <caption className="visually-hidden">Notifications, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Decided</th>
                <th scope="col">Alert</th>
                <th scope="col">Sink</th>
                <th scope="col">Outcome</th>
                {editor && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.map((n) => (
                <tr key={n.id} data-notification={n.id} data-state={n.state} className={n.state === "dead" ? "ntf-dead" : undefined}>
                  <td>
                    <NotificationBadge n={n} />
                  </td>
                  <td className="nowrap">
                    <PreciseTime iso={n.created_at} />
                  </td>
                  <td className="ntf-alert">
                    <AlertStateBadge state={n.status} />{" "}
                    {n.alert_id ? (
                      <Link href={`/alerts/${encodeURIComponent(n.alert_id)}`} className="run-link">
                        {n.rule_name || n.rule_id}
                      </Link>
                    ) : (
                      <span>{n.rule_name || n.rule_id}</span>
                    )}
                    {n.title && <div className="muted small ntf-title">{n.title}</div>}
                  </td>
                  <td>
                    <SinkName n={n} />
                  </td>
                  <td>
                    <NotificationDelivery n={n} />
                  </td>
                  {editor && <td className="row-actions">{n.state === "dead" && <RetryButton n={n} busy={busy === n.id} onRetry={(x) => void retry(x)} />}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {olderError && (
          <p className="form-alert" role="alert">
            {olderError}
          </p>
        )}
        {next && (
          <div className="load-more">
            <button type="button" className="btn" onClick={() => void loadOlder()} disabled={olderBusy}>
              {olderBusy ? "Loading…" : "Show older notifications"}
            </button>
          </div>
        )}
      </>
    );
  }

  return (
    <>
      <AlertsHead current="notifications" live={live} title="Notifications" lead="Every notification the rules decided, one per sink: delivered, on its way (with retries), or given up as a dead letter." />
      <RetryResult result={result} />
      {dead > 0 && filters.state !== "dead" && (
        <div className="ntf-dead-banner" role="note">
          <strong>
            {dead} dead letter{dead === 1 ? "" : "s"}
          </strong>{" "}
          — a sink refused {dead === 1 ? "a notification" : "notifications"} for good.{" "}
          <button type="button" className="btn btn-small" onClick={() => setFilters({ state: "dead" })}>
            Show dead letters
          </button>
        </div>
      )}
      <div className="filter-bar panel" role="search" aria-label="Filter notifications">
        <div className="filter">
          <label htmlFor="notification-state">Delivery state</label>
          <select id="notification-state" value={filters.state ?? ""} onChange={(e) => setFilters({ state: e.target.value || undefined })}>
            <option value="">All states</option>
            {NOTIFICATION_STATES.map((s) => (
              <option key={s} value={s}>
                {s === "dead" ? "Dead letters" : s[0]!.toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div aria-busy={first.loading || undefined} className="runs-body">
        {body}
      </div>
    </>
  );
}
