import { stateClass, stateLabel } from "../viz/palette";

/**
 * A run state in the colours of the status grid (one palette for runs
 * across the app); the word carries the meaning, the colour only helps.
 */
export function RunStateBadge({ state }: { state: string }) {
  return (
    <span className={stateClass(state)} data-state={state}>
      {stateLabel[state] ?? state}
    </span>
  );
}
