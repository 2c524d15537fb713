import { useCallback, useRef } from "react";
import { useEvents, type EventStatus, type PuodEvent } from "../api/events";

// Live refresh of the alerting pages: the API publishes alert.changed
// (payload {kind: rule|silence|alert, rule_id, silence_id, alert_id,
// deleted}) when a rule or silence is written or an alert changes. The one
// place these pages meet the event stream, so tests replace just this hook.

export interface AlertChange {
  kind?: "rule" | "silence" | "alert" | (string & {});
  rule_id?: string;
  silence_id?: string;
  alert_id?: string;
  deleted?: boolean;
}

/** Calls onChange for each alert.changed event (and on "reset": events were missed). */
export function useAlertChanges(onChange: (c: AlertChange) => void): EventStatus | undefined {
  const ref = useRef(onChange);
  ref.current = onChange;
  return useEvents(
    useCallback((e: PuodEvent) => {
      if (e.topic === "reset") return ref.current({});
      if (e.topic !== "alert.changed") return;
      ref.current(e.payload && typeof e.payload === "object" ? (e.payload as AlertChange) : {});
    }, []),
  );
}
