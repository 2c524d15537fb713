import { describe, expect, it } from "vitest";
import { addCard, applyLayout, describeChanges, differs, duplicateCard, putBody, rangeLabel, rangeShort, removeCard, type Dashboard } from "./model";

const base: Dashboard = {
  id: "d1",
  slug: "ops",
  title: "Ops",
  time_range: { from: "now-24h", to: "now" },
  cards: [
    { id: "a", type: "puod.success_rate", title: "", options: {}, time_range: null, x: 0, y: 0, w: 3, h: 2 },
    { id: "b", type: "puod.recent_failures", title: "Failures", options: { limit: 5 }, time_range: null, x: 3, y: 0, w: 9, h: 4 },
  ],
  version: 2,
  read_only: false,
  provisioned: false,
};

describe("dashboard model", () => {
  it("adds a card under the last row at its type's default size", () => {
    const { dashboard, card } = addCard(base, { type: "x/t", title: "T", visualization: "table", default_size: { w: 20, h: 3 } }, { options: { k: 1 } });
    expect(card).toMatchObject({ type: "x/t", x: 0, y: 4, w: 12, h: 3, options: { k: 1 }, time_range: null, title: "" });
    expect(dashboard.cards).toHaveLength(3);
    expect(base.cards).toHaveLength(2);
  });

  it("duplicates with a new id and a deep copy of the options; removes by id", () => {
    const d = duplicateCard(base, "b");
    const copy = d.cards[2]!;
    expect(copy.id).not.toBe("b");
    expect(copy).toMatchObject({ title: "Failures", y: 4, w: 9, h: 4, options: { limit: 5 } });
    expect(copy.options).not.toBe(base.cards[1]!.options);
    expect(removeCard(d, "b").cards.map((c) => c.id)).toEqual(["a", copy.id]);
  });

  it("applies a layout and keeps the same object when nothing moved", () => {
    const same = applyLayout(base, base.cards.map(({ id, x, y, w, h }) => ({ id, x, y, w, h })));
    expect(same).toBe(base);
    const moved = applyLayout(base, [{ id: "a", x: 0, y: 4, w: 3, h: 2 }]);
    expect(moved.cards[0]).toMatchObject({ y: 4 });
    expect(differs(base, moved)).toBe(true);
    expect(differs(base, { ...base, version: 9 })).toBe(false);
  });

  it("writes the PUT body with the given version and only the API's card fields", () => {
    const body = putBody({ ...base, cards: [{ ...base.cards[0]!, extra: 1 } as never] }, 7);
    expect(body).toEqual({ slug: "ops", title: "Ops", description: "", time_range: base.time_range, refresh_seconds: 0, cards: [base.cards[0]], version: 7 });
  });

  it("describes another save", () => {
    const theirs: Dashboard = { ...base, title: "Ops 2", cards: [{ ...base.cards[1]!, w: 6, options: { limit: 9 } }, { id: "n", type: "t", title: "New", options: {}, time_range: null, x: 0, y: 9, w: 1, h: 1 }] };
    expect(describeChanges(base, theirs, (c) => c.title || c.type)).toEqual(["Title changed to “Ops 2”.", "Card “Failures”: options, size changed.", "Card “New” added.", "Card “puod.success_rate” removed."]);
  });

  it("labels ranges", () => {
    expect(rangeLabel({ from: "now-7d", to: "now" })).toBe("Last 7 days");
    expect(rangeLabel({ from: "now-2h", to: "now-1h" })).toBe("now-2h → now-1h");
    expect(rangeShort({ from: "now-30d", to: "now" })).toBe("30d");
  });
});
