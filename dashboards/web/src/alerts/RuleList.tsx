import { useCallback } from "react";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { useTitle } from "../router";
import { AlertsHead, SeverityBadge, Time, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { isEditor, KINDS } from "./model";
import type { AlertRule } from "./types";

export function kindLabel(kind: string): string {
  return KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

export function RuleList() {
  useTitle("Alert rules");
  const { me } = useSession();
  const editor = isEditor(me?.role);
  const rules = useResource<{ rules: AlertRule[] }>("/api/v1/alert-rules");
  const refresh = useCoalesced(rules.reload);
  const live = useAlertChanges(
    useCallback(
      (c) => {
        if (!c.kind || c.kind === "rule") refresh();
      },
      [refresh],
    ),
  );
  const list = rules.data?.rules;
  let body;
  if (rules.error && !list) {
    body = (
      <StateMessage kind="error" title="Could not load the alert rules" action={<button type="button" className="btn" onClick={rules.reload}>Retry</button>}>
        {rules.error}
      </StateMessage>
    );
  } else if (!list) {
    body = <Skeleton lines={4} />;
  } else if (list.length === 0) {
    body = (
      <StateMessage kind="empty" title="No alert rules yet" action={editor ? <Link className="btn btn-primary" href="/alerts/rules/new">New rule</Link> : undefined}>
        {editor ? "A rule watches pipelines or metrics and notifies its sinks: “if ETL_Vendas runs longer than 5 minutes, notify Slack”." : "An editor of this profile writes alert rules; rules can also be loaded from rule files."}
      </StateMessage>
    );
  } else {
    body = (
      <div className="table-scroll panel panel-flush">
        <table className="data-table rules-table">
          <caption className="visually-hidden">Alert rules by name</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Condition</th>
              <th scope="col">Severity</th>
              <th scope="col">Sinks</th>
              <th scope="col">Origin</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.id} data-rule={r.id}>
                <th scope="row">
                  <Link href={`/alerts/rules/${encodeURIComponent(r.id)}`} className="run-link">
                    {r.name}
                  </Link>
                  {r.disabled && <span className="muted small"> (disabled)</span>}
                </th>
                <td>{kindLabel(r.kind)}</td>
                <td>
                  <SeverityBadge severity={r.severity} />
                </td>
                <td className="num">{r.sinks?.length ?? 0}</td>
                <td>{r.provisioned ? <span className="chip" title="Loaded from a rule file; read-only here">rule file</span> : "API"}</td>
                <td className="nowrap">
                  <Time iso={r.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <>
      <AlertsHead
        current="rules"
        live={live}
        title="Alert rules"
        lead="When to alert, and whom to notify. Rules from rule files are read-only here."
        action={
          editor && list && list.length > 0 ? (
            <Link className="btn btn-primary" href="/alerts/rules/new">
              New rule
            </Link>
          ) : undefined
        }
      />
      {body}
    </>
  );
}
