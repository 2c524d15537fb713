import { useCallback, useRef } from "react";
import { useEvents, type EventStatus, type PuodEvent } from "../api/events";

// Live refresh of the runs explorer: a run.changed event (tags "runs",
// "source:S", "pipeline:P"; payload {run_id, state, …}) tells the pages to
// re-read what they show. The one place the explorer meets the event
// stream (src/api/events.ts), so tests replace just this hook.

export interface RunChangedPayload {
  source_id?: string;
  pipeline_id?: string;
  run_id?: string;
  state?: string;
}

export interface RunChange {
  tags: string[];
  payload: RunChangedPayload;
}

/** Calls onChange for each run.changed event of the current profile; returns the stream's state. */
export function useRunChanges(onChange: (c: RunChange) => void): EventStatus | undefined {
  const ref = useRef(onChange);
  ref.current = onChange;
  return useEvents(
    useCallback((e: PuodEvent) => {
      if (e.topic !== "run.changed") return;
      const payload = e.payload && typeof e.payload === "object" ? (e.payload as RunChangedPayload) : {};
      ref.current({ tags: Array.isArray(e.tags) ? e.tags : [], payload });
    }, []),
  );
}
