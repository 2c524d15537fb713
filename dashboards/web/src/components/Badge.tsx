const tones: Record<string, string> = {
  running: "good",
  ok: "good",
  succeeded: "good",
  starting: "info",
  draining: "info",
  unknown: "muted",
  stopped: "muted",
  backoff: "warn",
  degraded: "warn",
  failed: "bad",
  error: "bad",
};

/** A state word in a coloured pill; the word itself carries the meaning, the colour only helps. */
export function Badge({ state, label }: { state: string; label?: string }) {
  return (
    <span className={`badge badge-${tones[state] ?? "muted"}`} data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {label ?? state}
    </span>
  );
}
