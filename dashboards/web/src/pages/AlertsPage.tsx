import "../runs/runs.css";
import "../alerts/alerts.css";
import { AlertDetail } from "../alerts/AlertDetail";
import { AlertList } from "../alerts/AlertList";
import { NotificationList } from "../alerts/Notifications";
import { RuleEditor } from "../alerts/RuleEditor";
import { RuleList } from "../alerts/RuleList";
import { Silences } from "../alerts/Silences";

/**
 * The alerting pages: /alerts (current alerts), /alerts/<id> (one alert
 * and its timeline), /alerts/rules, /alerts/rules/new, /alerts/rules/<id>,
 * /alerts/silences and /alerts/notifications. Loaded on demand, like the
 * runs explorer.
 */
export default function AlertsPage({ path }: { path: string }) {
  const p = path.replace(/\/+$/, "");
  if (p === "/alerts/rules") return <RuleList />;
  if (p === "/alerts/silences") return <Silences />;
  if (p === "/alerts/notifications") return <NotificationList />;
  const rule = /^\/alerts\/rules\/([^/]+)$/.exec(p);
  if (rule) {
    const id = decodeURIComponent(rule[1]!);
    return id === "new" ? <RuleEditor key="new" id={null} /> : <RuleEditor key={id} id={id} />;
  }
  const alert = /^\/alerts\/([^/]+)$/.exec(p);
  if (alert) {
    const id = decodeURIComponent(alert[1]!);
    return <AlertDetail key={id} id={id} />;
  }
  return <AlertList />;
}
