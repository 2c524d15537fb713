import { describe, expect, it } from "vitest";
import { eventMatches, filtersToSearch, fromLocalInput, parseFilters, runsRequest, toLocalInput } from "./filters";

describe("run filters", () => {
  it("round-trip through the URL in a stable order, dropping empty values", () => {
    const f = parseFilters("?q=%20vendas%20&state=failed&source=s1&pipeline=&range=24h");
    expect(f).toEqual({ source: "s1", state: "failed", range: "24h", q: "vendas" });
    expect(filtersToSearch(f)).toBe("?source=s1&state=failed&range=24h&q=vendas");
    expect(filtersToSearch({})).toBe("");
  });

  it("let a relative range win over custom bounds", () => {
    expect(parseFilters("?range=7d&from=2026-01-01T00:00:00Z")).toEqual({ range: "7d" });
    expect(parseFilters("?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z")).toEqual({ from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" });
  });

  it("become the GET /api/v1/runs parameters, with a relative range resolved at request time", () => {
    const now = Date.parse("2026-03-10T12:00:00Z");
    const url = new URL(runsRequest({ source: "s 1", pipeline: "p1", state: "failed", range: "1h", q: "oom" }, { now, cursor: "abc", limit: 20 }), "http://x");
    expect(url.pathname).toBe("/api/v1/runs");
    expect(Object.fromEntries(url.searchParams)).toEqual({ source: "s 1", pipeline: "p1", state: "failed", from: "2026-03-10T11:00:00.000Z", q: "oom", limit: "20", cursor: "abc" });
    // Custom bounds go as they are; no parameter the API lacks is invented.
    const custom = new URL(runsRequest({ from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" }), "http://x");
    expect([...custom.searchParams.keys()]).toEqual(["from", "to", "limit"]);
    expect(runsRequest({})).toBe("/api/v1/runs?limit=50");
  });

  it("convert datetime-local values to UTC and back", () => {
    const iso = fromLocalInput("2026-03-10T08:30");
    expect(iso).toBe(new Date("2026-03-10T08:30").toISOString());
    expect(toLocalInput(iso)).toBe("2026-03-10T08:30");
    expect(fromLocalInput("")).toBeUndefined();
    expect(toLocalInput("nonsense")).toBe("");
  });

  it("match run.changed events by their source and pipeline tags", () => {
    const tags = ["runs", "source:s1", "pipeline:p1"];
    expect(eventMatches(tags, {})).toBe(true);
    expect(eventMatches(tags, { source: "s1", state: "failed" })).toBe(true);
    expect(eventMatches(tags, { source: "s2" })).toBe(false);
    expect(eventMatches(tags, { source: "s1", pipeline: "p2" })).toBe(false);
  });
});
