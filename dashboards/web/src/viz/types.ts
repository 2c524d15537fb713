import type { Frame } from "./frame";

/** Props every visualization takes: a frame and the card's options. */
export interface VizProps {
  frame: Frame;
  options?: Record<string, unknown>;
  /** Accessible name of the visualization (the card title). */
  title?: string;
}

/** A run picked in a status grid: the frame's row as field name → value. */
export type RowRecord = Record<string, string | number | boolean | null>;
