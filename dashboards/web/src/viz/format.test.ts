import { describe, expect, it } from "vitest";
import { formatDurationMs, formatValue } from "./format";

describe("format", () => {
  it.each([
    [450, "450 ms"],
    [1200, "1.2 s"],
    [12500, "12.5 s"],
    [59_000, "59 s"],
    [83_000, "1m 23s"],
    [3_600_000, "1h"],
    [3_900_000, "1h 5m"],
    [90_000_000, "1d 1h"],
  ])("formatDurationMs(%d) = %s", (ms, want) => {
    expect(formatDurationMs(ms)).toBe(want);
  });

  it("formats by field type and unit", () => {
    expect(formatValue({ name: "d", type: "float", unit: "s", values: [] }, 90)).toBe("1m 30s");
    expect(formatValue({ name: "p", type: "float", unit: "percent", values: [] }, 97.456)).toBe("97.46 %");
    expect(formatValue({ name: "n", type: "int", unit: "runs", values: [] }, 3)).toBe("3 runs");
    expect(formatValue({ name: "b", type: "bool", values: [] }, true)).toBe("yes");
    expect(formatValue({ name: "x", type: "string", values: [] }, null)).toBe("—");
  });
});
