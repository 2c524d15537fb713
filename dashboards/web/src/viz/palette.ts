// Series colours: distinguishable, and readable on white (>= 3:1).
export const seriesColors = ["#2f6fed", "#e07b00", "#0f9d76", "#c2338a", "#7a5af5", "#8a6d00", "#d64545", "#0b7fa6"];

export function seriesColor(i: number): string {
  return seriesColors[i % seriesColors.length]!;
}

/** Run states (host's normalised set) and their colours and labels. */
export const runStates = ["succeeded", "failed", "timed_out", "running", "queued", "cancelled", "skipped"] as const;

export const stateLabel: Record<string, string> = {
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  running: "Running",
  queued: "Queued",
  cancelled: "Cancelled",
  skipped: "Skipped",
  unknown: "Unknown",
};

export function stateClass(state: unknown): string {
  const s = typeof state === "string" ? state.toLowerCase() : "";
  return `run-state run-${s in stateLabel ? s : "unknown"}`;
}
