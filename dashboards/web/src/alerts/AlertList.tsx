import { useCallback, useMemo } from "react";
import { useResource } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { navigate, useSearch, useTitle } from "../router";
import { AlertsHead, AlertStateBadge, HeldChip, Labels, SeverityBadge, Time, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { ALERT_STATES, alertFiltersToSearch, alertsRequest, parseAlertFilters, type AlertFilters } from "./model";
import type { Alert, AlertRule } from "./types";

export function AlertList() {
  useTitle("Alerts");
  const search = useSearch();
  const filters = useMemo(() => parseAlertFilters(search), [search]);
  const alerts = useResource<{ alerts: Alert[] }>(alertsRequest(filters));
  const rules = useResource<{ rules: AlertRule[] }>("/api/v1/alert-rules");
  const setFilters = useCallback((f: AlertFilters) => navigate(`/alerts${alertFiltersToSearch(f)}`), []);
  const refresh = useCoalesced(alerts.reload);
  const live = useAlertChanges(useCallback(() => refresh(), [refresh]));
  const filtered = !!(filters.state || filters.rule_id);
  const list = alerts.data?.alerts;

  let body;
  if (alerts.error && !list) {
    body = (
      <StateMessage kind="error" title="Could not load the alerts" action={<button type="button" className="btn" onClick={alerts.reload}>Retry</button>}>
        {alerts.error}
      </StateMessage>
    );
  } else if (!list) {
    body = <Skeleton lines={5} />;
  } else if (list.length === 0) {
    body = filtered ? (
      <StateMessage kind="empty" title="No alerts match these filters" action={<button type="button" className="btn" onClick={() => setFilters({})}>Clear filters</button>}>
        Choose another state or rule.
      </StateMessage>
    ) : (
      <StateMessage kind="empty" title="No alerts" action={<Link className="btn" href="/alerts/rules">See the rules</Link>}>
        Nothing is pending or firing. Alerts appear here when a rule's condition holds.
      </StateMessage>
    );
  } else {
    body = (
      <div className="table-scroll panel panel-flush">
        <table className="data-table alerts-table">
          <caption className="visually-hidden">Alerts, latest change first</caption>
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Rule</th>
              <th scope="col">Severity</th>
              <th scope="col">Labels</th>
              <th scope="col">Active since</th>
              <th scope="col" className="num">
                Value
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.id} data-alert={a.id} data-state={a.state}>
                <td>
                  <AlertStateBadge state={a.state} />
                  {a.held_status && (
                    <>
                      {" "}
                      <HeldChip alert={a} />
                    </>
                  )}
                  {a.acknowledged_at && <span className="muted small ack-mark"> acknowledged</span>}
                </td>
                <td>
                  <Link href={`/alerts/${encodeURIComponent(a.id)}`} className="run-link">
                    {a.rule_name || a.rule_id}
                  </Link>
                </td>
                <td>
                  <SeverityBadge severity={a.severity} />
                </td>
                <td>
                  <Labels labels={a.labels} />
                </td>
                <td className="nowrap">
                  <Time iso={a.active_since ?? a.since} />
                </td>
                <td className="num">{a.value || <span className="null">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <>
      <AlertsHead current="alerts" live={live} title="Alerts" lead="What the alert rules found: pending, firing and recently resolved. Filters are in the address." />
      <div className="filter-bar panel" role="search" aria-label="Filter alerts">
        <div className="filter">
          <label htmlFor="alert-state">State</label>
          <select id="alert-state" value={filters.state ?? ""} onChange={(e) => setFilters({ ...filters, state: e.target.value || undefined })}>
            <option value="">All states</option>
            {ALERT_STATES.map((s) => (
              <option key={s} value={s}>
                {s[0]!.toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </div>
        <div className="filter">
          <label htmlFor="alert-rule">Rule</label>
          <select id="alert-rule" value={filters.rule_id ?? ""} onChange={(e) => setFilters({ ...filters, rule_id: e.target.value || undefined })}>
            <option value="">All rules</option>
            {filters.rule_id && !rules.data?.rules.some((r) => r.id === filters.rule_id) && <option value={filters.rule_id}>{filters.rule_id}</option>}
            {rules.data?.rules.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
        {filtered && (
          <button type="button" className="btn btn-ghost filter-clear" onClick={() => setFilters({})}>
            Clear filters
          </button>
        )}
      </div>
      <div aria-busy={alerts.loading || undefined} className="runs-body">
        {body}
      </div>
    </>
  );
}
