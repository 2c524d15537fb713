import { useCallback, useState } from "react";
import { errorMessage } from "../api/client";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { StateMessage } from "../components/States";
import { useTitle } from "../router";
import { AlertStateBadge, Labels, SeverityBadge, Time, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { alertsRequest, isEditor, ruleIdOfAlert } from "./model";
import type { Alert } from "./types";

function Crumbs() {
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/alerts">← Alerts</Link>
    </nav>
  );
}

/** One alert with the timeline of its state transitions; editors acknowledge it. */
export function AlertDetail({ id }: { id: string }) {
  const { client, me } = useSession();
  // There is no GET of one alert: read the rule's alerts and pick this one.
  const alerts = useResource<{ alerts: Alert[] }>(alertsRequest({ rule_id: ruleIdOfAlert(id) }));
  const found = alerts.data?.alerts.find((a) => a.id === id);
  const [acked, setAcked] = useState<Alert | null>(null);
  const a = acked && found && acked.id === found.id && !found.acknowledged_at ? acked : found;
  const [busy, setBusy] = useState(false);
  const [ackError, setAckError] = useState<string | null>(null);
  useTitle(a ? `${a.rule_name} alert` : "Alert");
  const refresh = useCoalesced(alerts.reload);
  useAlertChanges(
    useCallback(
      (c) => {
        if (!c.kind || c.alert_id === id || c.rule_id === ruleIdOfAlert(id) || c.kind === "silence") refresh();
      },
      [id, refresh],
    ),
  );

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
  const canAck = isEditor(me?.role) && (a.state === "pending" || a.state === "firing") && !a.acknowledged_at;
  const who = a.acknowledged_by && a.acknowledged_by === me?.user.id ? "you" : a.acknowledged_by;
  const history = [...(a.history ?? [])].sort((x, y) => (y.seq ?? 0) - (x.seq ?? 0) || Date.parse(y.at) - Date.parse(x.at));

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
      <section className="panel" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        {history.length === 0 ? (
          <StateMessage kind="empty" compact title="No transitions recorded yet" />
        ) : (
          <ol className="alert-timeline">
            {history.map((t) => (
              <li key={`${t.seq}-${t.at}`} data-to={t.to}>
                <Time iso={t.at} />{" "}
                <span>
                  <AlertStateBadge state={t.from || "normal"} /> → <AlertStateBadge state={t.to} />
                </span>
                {t.value && <span className="muted small"> value {t.value}</span>}
                {t.reason && <div className="muted small">{t.reason}</div>}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
