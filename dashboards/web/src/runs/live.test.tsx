import { renderHook } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { PuodEvent } from "../api/events";
import { useRunChanges } from "./live";

const stream = vi.hoisted(() => ({ handler: null as ((e: PuodEvent) => void) | null }));
vi.mock("../api/events", () => ({
  useEvents(fn: (e: PuodEvent) => void) {
    stream.handler = fn;
  },
}));

describe("useRunChanges", () => {
  it("passes run.changed events on with their tags and payload, and nothing else", () => {
    const seen = vi.fn();
    renderHook(() => useRunChanges(seen));
    stream.handler!({ id: "1", topic: "dashboard.changed", time: "", tags: ["dashboards"], payload: {} });
    stream.handler!({ id: "2", topic: "run.changed", time: "", tags: ["runs", "source:s1", "pipeline:p1"], payload: { run_id: "r1", state: "failed" } });
    stream.handler!({ id: "3", topic: "run.changed", time: "", tags: undefined as unknown as string[], payload: null });
    expect(seen.mock.calls).toEqual([[{ tags: ["runs", "source:s1", "pipeline:p1"], payload: { run_id: "r1", state: "failed" } }], [{ tags: [], payload: {} }]]);
  });
});
