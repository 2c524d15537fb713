import { Fragment, useCallback, useEffect, useMemo, useState } from "react";
import { errorMessage } from "../api/client";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { StateMessage } from "../components/States";
import { useTitle } from "../router";
import { AlertStateBadge, Labels, SeverityBadge, Time, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { alertsRequest, alertTimeline, heldReasons, isEditor, notificationPhase, notificationsRequest, ruleIdOfAlert } from "./model";
import { NotificationBadge, NotificationDelivery, PENDING_REFRESH_MS, PreciseTime, RetryButton, RetryResult, SinkName, useRetryNotification } from "./Notifications";
import type { Alert, AlertNotification, NotificationPage } from "./types";

/** How many of an alert's notifications its timeline shows (the newest). */
const TIMELINE_NOTIFICATIONS = 100;

function Crumbs() {
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/alerts">← Alerts</Link>
    </nav>
  );
}

/** One alert with the timeline of its state transitions and notifications; editors acknowledge it and retry its dead letters. */
export function AlertDetail({ id }: { id: string }) {
  const { client, me } = useSession();
  // There is no GET of one alert: read the rule's alerts and pick this one.
  const alerts = useResource<{ alerts: Alert[] }>(alertsRequest({ rule_id: ruleIdOfAlert(id) }));
  const fingerprint = id.slice(ruleIdOfAlert(id).length + 1);
  // Deliveries are not announced on the event stream: while one is on its
  // way, look again every few seconds.
  const [inFlight, setInFlight] = useState(false);
  const notifications = useResource<NotificationPage>(fingerprint ? notificationsRequest({ rule_id: ruleIdOfAlert(id), fingerprint, limit: TIMELINE_NOTIFICATIONS }) : null, {
    refreshMs: inFlight ? PENDING_REFRESH_MS : undefined,
  });
  const ntfs = notifications.data?.notifications;
  useEffect(() => setInFlight(!!ntfs?.some((n) => n.state === "pending")), [ntfs]);
  const reloadNotifications = notifications.reload;
  const { retry, busy: retrying, result: retryResult } = useRetryNotification(reloadNotifications);
  const found = alerts.data?.alerts.find((a) => a.id === id);
  const [acked, setAcked] = useState<Alert | null>(null);
  const a = acked && found && acked.id === found.id && !found.acknowledged_at ? acked : found;
  const [busy, setBusy] = useState(false);
  const [ackError, setAckError] = useState<string | null>(null);
  useTitle(a ? `${a.rule_name} alert` : "Alert");
  const refresh = useCoalesced(
    useCallback(() => {
      alerts.reload();
      reloadNotifications();
    }, [alerts.reload, reloadNotifications]),
  );
  useAlertChanges(
    useCallback(
      (c) => {
        if (!c.kind || c.alert_id === id || c.rule_id === ruleIdOfAlert(id) || c.kind === "silence") refresh();
      },
      [id, refresh],
    ),
  );
  const history = a?.history;
  const timeline = useMemo(() => alertTimeline(history ?? [], ntfs ?? []), [history, ntfs]);

  if (alerts.error && !alerts.data) {
    return (
      <>
        <Crumbs />
        <StateMessage kind="error" title="Could not load the alert" action={<button type="button" className="btn" onClick={alerts.reload}>Retry</button>}>
          {alerts.error}
        </StateMessage>
      </>
    );
  }
  if (!alerts.data) {
    return (
      <>
        <Crumbs />
        <StateMessage kind="loading" title="Loading the alert…" />
      </>
    );
  }
  if (!a) {
    return (
      <>
        <Crumbs />
        <StateMessage kind="empty" title="This alert is not current" action={<Link className="btn" href="/alerts">Back to alerts</Link>}>
          It may have been cleared, or its rule deleted.
        </StateMessage>
      </>
    );
  }

  const ack = async () => {
    setBusy(true);
    setAckError(null);
    try {
      setAcked(await client.post<Alert>(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`));
      alerts.reload();
    } catch (e) {
      setAckError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const editor = isEditor(me?.role);
  const canAck = editor && (a.state === "pending" || a.state === "firing") && !a.acknowledged_at;
  const who = a.acknowledged_by && a.acknowledged_by === me?.user.id ? "you" : a.acknowledged_by;

  return (
    <>
      <Crumbs />
      <div className="page-head">
        <div>
          <h1>
            {a.rule_name || a.rule_id} <AlertStateBadge state={a.state} /> <SeverityBadge severity={a.severity} />
          </h1>
          <p className="muted">
            Rule <Link href={`/alerts/rules/${encodeURIComponent(a.rule_id)}`}>{a.rule_name || a.rule_id}</Link> · series <code>{a.fingerprint}</code>
          </p>
        </div>
        <div className="page-head-side">
          {canAck && (
            <button type="button" className="btn btn-primary" onClick={ack} disabled={busy}>
              {busy ? "Acknowledging…" : "Acknowledge"}
            </button>
          )}
        </div>
      </div>
      {ackError && (
        <p className="form-alert" role="alert">
          {ackError}
        </p>
      )}
      <section className="panel alert-facts" aria-label="Alert">
        <dl className="facts">
          <dt>Labels</dt>
          <dd>
            <Labels labels={a.labels} />
          </dd>
          <dt>Value</dt>
          <dd>{a.value || "—"}</dd>
          <dt>In this state since</dt>
          <dd>
            <Time iso={a.since} />
          </dd>
          <dt>Active since</dt>
          <dd>
            <Time iso={a.active_since} />
          </dd>
          <dt>Last evaluated</dt>
          <dd>
            <Time iso={a.last_eval_at} />
          </dd>
          <dt>Acknowledged</dt>
          <dd data-testid="ack">
            {a.acknowledged_at ? (
              <>
                by <strong>{who}</strong> at <Time iso={a.acknowledged_at} />
              </>
            ) : (
              "not yet"
            )}
          </dd>
        </dl>
      </section>
      {a.held_status && <HeldNotice alert={a} />}
      <section className="panel" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <p className="muted small">State changes and the notifications they sent, newest first.</p>
        <RetryResult result={retryResult} />
        {notifications.error && (
          <p className="form-alert" role="alert">
            Could not load the notifications: {notifications.error}{" "}
            <button type="button" className="btn btn-small" onClick={reloadNotifications}>
              Retry
            </button>
          </p>
        )}
        {timeline.length === 0 ? (
          <StateMessage kind="empty" compact title="No transitions recorded yet" />
        ) : (
          <ol className="alert-timeline">
            {timeline.map((e) =>
              e.kind === "transition" ? (
                <li key={`t-${e.transition.seq}-${e.at}-${e.transition.to}`} data-kind="transition" data-to={e.transition.to}>
                  <PreciseTime iso={e.at} />{" "}
                  <span>
                    <AlertStateBadge state={e.transition.from || "normal"} /> → <AlertStateBadge state={e.transition.to} />
                  </span>
                  {e.transition.value && <span className="muted small"> value {e.transition.value}</span>}
                  {e.transition.reason && <div className="muted small">{e.transition.reason}</div>}
                </li>
              ) : (
                <NotificationStep key={`n-${e.notification.id}`} n={e.notification} canRetry={editor} busy={retrying === e.notification.id} onRetry={(n) => void retry(n)} />
              ),
            )}
          </ol>
        )}
        {ntfs && ntfs.length >= TIMELINE_NOTIFICATIONS && (
          <p className="muted small">
            Older notifications: <Link href="/alerts/notifications">all notifications</Link>.
          </p>
        )}
      </section>
    </>
  );
}

/**
 * "The firing notification is held back: silence 01J…; it is sent when
 * this ends.": what holds it, linked to where it is ended (the silences,
 * or the sources for an unhealthy one).
 */
function HeldNotice({ alert }: { alert: Pick<Alert, "held_status" | "held_by"> }) {
  const reasons = heldReasons(alert);
  return (
    <p className="notice held-notice" role="note" data-held={alert.held_status}>
      The {alert.held_status === "resolved" ? "resolved" : "firing"} notification is held back
      {reasons.length > 0 && ": "}
      {reasons.map((r, i) => (
        <Fragment key={i}>
          {i > 0 && "; "}
          {r.kind === "silence" ? (
            <Link href="/alerts/silences" data-silence={r.id}>
              silence <code>{r.id}</code>
            </Link>
          ) : r.kind === "inhibited" ? (
            <Link href="/sources">{r.text}</Link>
          ) : (
            r.text
          )}
        </Fragment>
      ))}
      ; it is sent when {reasons.length > 1 ? "these end" : "this ends"}.
    </p>
  );
}

/** A notification in the timeline: what it announced, to which sink, and how its delivery went. */
function NotificationStep({ n, canRetry, busy, onRetry }: { n: AlertNotification; canRetry: boolean; busy: boolean; onRetry: (n: AlertNotification) => void }) {
  return (
    <li data-kind="notification" data-notification={n.id} data-state={n.state} data-phase={notificationPhase(n)} className={`ntf-step${n.state === "dead" ? " ntf-dead" : ""}`}>
      <PreciseTime iso={n.created_at} /> <NotificationBadge n={n} />{" "}
      <span>
        {n.status === "resolved" ? "Resolved" : "Firing"} notification to <SinkName n={n} />
      </span>
      <div className="small">
        <NotificationDelivery n={n} />
      </div>
      {canRetry && n.state === "dead" && (
        <div className="ntf-step-actions">
          <RetryButton n={n} busy={busy} onRetry={onRetry} />
        </div>
      )}
    </li>
  );
}
