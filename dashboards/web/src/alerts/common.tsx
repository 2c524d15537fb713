import { useCallback, useEffect, useRef, type ReactNode } from "react";
import type { EventStatus } from "../api/events";
import { Link } from "../components/Link";
import { formatTime } from "../viz/format";
import { heldText } from "./model";
import type { Alert } from "./types";

const stateTone: Record<string, string> = { firing: "bad", pending: "warn", resolved: "good", normal: "muted" };
const severityTone: Record<string, string> = { critical: "bad", warning: "warn", info: "info" };
const silenceTone: Record<string, string> = { active: "info", pending: "warn", expired: "muted" };

/** A word in a coloured pill: the word carries the meaning, the colour only helps. */
export function Pill({ tone, value, kind }: { tone: string; value: string; kind: string }) {
  return (
    <span className={`badge badge-${tone}`} data-state={value} data-kind={kind}>
      <span className="badge-dot" aria-hidden="true" />
      {value}
    </span>
  );
}

export const AlertStateBadge = ({ state }: { state: string }) => <Pill kind="alert-state" tone={stateTone[state] ?? "muted"} value={state} />;
export const SeverityBadge = ({ severity }: { severity: string }) => <Pill kind="severity" tone={severityTone[severity] ?? "muted"} value={severity} />;
export const SilenceBadge = ({ status }: { status: string }) => <Pill kind="silence" tone={silenceTone[status] ?? "muted"} value={status} />;

/** "held": a notification of the alert is held back by a silence or an unhealthy source; the tooltip says which. */
export function HeldChip({ alert }: { alert: Pick<Alert, "held_status" | "held_by"> }) {
  const text = heldText(alert);
  return (
    <span className="badge badge-muted held-chip" data-kind="held" data-held={alert.held_status} title={text}>
      held<span className="visually-hidden">: {text}</span>
    </span>
  );
}

export function Labels({ labels }: { labels: Record<string, string> | undefined }) {
  const e = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (e.length === 0) return <span className="null">—</span>;
  return (
    <ul className="chips alert-labels" aria-label="Labels">
      {e.map(([k, v]) => (
        <li key={k} className="chip">
          {k}={v}
        </li>
      ))}
    </ul>
  );
}

export function Time({ iso }: { iso?: string }) {
  if (!iso) return <span className="null">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

type Section = "alerts" | "rules" | "silences" | "notifications";

export function AlertsHead({ current, live, title, lead, action }: { current: Section; live?: EventStatus; title: string; lead: ReactNode; action?: ReactNode }) {
  return (
    <div className="page-head">
      <div>
        <h1>{title}</h1>
        <p className="muted">{lead}</p>
      </div>
      <div className="page-head-side">
        {live && (
          <span className={`live live-${live}`} role="status" title={live === "open" ? "Changes appear without a reload" : "Live updates reconnect by themselves"}>
            {live === "open" ? "Live" : live === "connecting" ? "Connecting…" : "Live updates paused"}
          </span>
        )}
        <nav className="view-tabs" aria-label="Alerting views">
          <Link href="/alerts" aria-current={current === "alerts" ? "page" : undefined}>
            Alerts
          </Link>
          <Link href="/alerts/rules" aria-current={current === "rules" ? "page" : undefined}>
            Rules
          </Link>
          <Link href="/alerts/silences" aria-current={current === "silences" ? "page" : undefined}>
            Silences
          </Link>
          <Link href="/alerts/notifications" aria-current={current === "notifications" ? "page" : undefined}>
            Notifications
          </Link>
        </nav>
        {action}
      </div>
    </div>
  );
}

/** Live updates come in bursts: re-read at most once a second. */
export function useCoalesced(fn: () => void, ms = 1000): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  }, [ms]);
}
