import { describe, expect, it } from "vitest";
import { alertTimeline, notificationFiltersToSearch, notificationPhase, notificationsRequest, parseNotificationFilters } from "./model";
import type { AlertNotification, AlertTransition } from "./types";

const tr = (seq: number, from: string, to: string, at: string): AlertTransition => ({ rule_id: "r1", fingerprint: "fp", seq, from, to, at });
const n = (id: string, created_at: string): AlertNotification => ({
  id,
  notification_id: id,
  rule_id: "r1",
  rule_name: "r",
  fingerprint: "fp",
  sink_source_id: "s",
  sink_name: "S",
  group_key: "g",
  status: "firing",
  title: "",
  state: "delivered",
  attempts: 0,
  last_error: "",
  created_at,
});

describe("notification model", () => {
  it("names the delivery phase", () => {
    expect(notificationPhase({ state: "delivered", attempts: 3 })).toBe("sent");
    expect(notificationPhase({ state: "pending", attempts: 0 })).toBe("pending");
    expect(notificationPhase({ state: "pending", attempts: 2 })).toBe("retrying");
    expect(notificationPhase({ state: "dead", attempts: 1 })).toBe("dead");
  });

  it("orders the timeline newest first, a notification above the transition it came from", () => {
    const history = [tr(1, "normal", "pending", "2026-03-10T10:00:00Z"), tr(1, "pending", "firing", "2026-03-10T10:05:00Z"), tr(1, "firing", "resolved", "2026-03-10T10:20:00Z")];
    const got = alertTimeline(history, [n("fire", "2026-03-10T10:05:00Z"), n("late", "2026-03-10T10:30:00Z"), n("res", "2026-03-10T10:20:00Z")]);
    expect(got.map((e) => (e.kind === "transition" ? e.transition.to : e.notification.id))).toEqual(["late", "res", "resolved", "fire", "firing", "pending"]);
    // Transitions at one instant keep their recorded order (latest first).
    const same = alertTimeline([tr(2, "normal", "pending", "2026-03-10T11:00:00Z"), tr(2, "pending", "firing", "2026-03-10T11:00:00Z")], []);
    expect(same.map((e) => (e.kind === "transition" ? e.transition.to : ""))).toEqual(["firing", "pending"]);
    expect(alertTimeline([], [])).toEqual([]);
  });

  it("reads and writes the page's filter and builds the request", () => {
    expect(parseNotificationFilters("?state=dead")).toEqual({ state: "dead" });
    expect(parseNotificationFilters("?state=lost&x=1")).toEqual({});
    expect(notificationFiltersToSearch({ state: "pending" })).toBe("?state=pending");
    expect(notificationFiltersToSearch({})).toBe("");
    expect(notificationsRequest({})).toBe("/api/v1/notifications");
    expect(notificationsRequest({ state: "dead", rule_id: "r 1", fingerprint: "fp", limit: 100, cursor: "c/2" })).toBe("/api/v1/notifications?state=dead&rule_id=r+1&fingerprint=fp&limit=100&cursor=c%2F2");
  });
});
