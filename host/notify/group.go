package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	"github.com/puod/puod/sdk"
)

var severityRank = map[string]int{"info": 1, "warning": 2, "critical": 3}

// Group turns the notifications of one group's batch (in decision order)
// into the message the sink receives; alerts[i] identifies the alert
// notification i is about (rule and series). One notification is sent as
// it is, with its own id. Several make a group message whose Alerts are
// the notifications, one per alert: when an alert has several (its
// firing, then its resolve), only its latest counts, as the message tells
// the state now. The group message's id is derived from those it carries.
func Group(ns []sdk.Notification, alerts []string) sdk.Notification {
	ns = latestPerAlert(ns, alerts)
	if len(ns) == 1 {
		return ns[0]
	}
	first := ns[0]
	g := sdk.Notification{
		Status: sdk.NotificationResolved, RuleID: first.RuleID, RuleName: first.RuleName,
		GroupKey: first.GroupKey, Labels: maps.Clone(first.Labels), StartsAt: first.StartsAt,
	}
	firing := 0
	ids := make([]string, 0, len(ns))
	for _, n := range ns {
		ids = append(ids, n.ID)
		if n.Status == sdk.NotificationFiring {
			firing++
			g.Status = sdk.NotificationFiring
		}
		if severityRank[n.Severity] > severityRank[g.Severity] {
			g.Severity = n.Severity
		}
		if !n.StartsAt.IsZero() && (g.StartsAt.IsZero() || n.StartsAt.Before(g.StartsAt)) {
			g.StartsAt = n.StartsAt
		}
		if n.RuleID != g.RuleID {
			g.RuleID, g.RuleName = "", ""
		}
		for k, v := range g.Labels {
			if n.Labels[k] != v {
				delete(g.Labels, k)
			}
		}
		a := n
		a.Alerts = nil
		g.Alerts = append(g.Alerts, a)
	}
	h := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
	g.ID = "group-" + hex.EncodeToString(h[:16])
	name := g.RuleName
	if name == "" {
		name = "alerts"
	}
	g.Title = fmt.Sprintf("%s: %s", countText(firing, len(ns)-firing), name)
	g.Summary = summaryOf(g.Alerts)
	return g
}

// latestPerAlert keeps, for each alert, its latest notification, at the
// position of that latest one.
func latestPerAlert(ns []sdk.Notification, alerts []string) []sdk.Notification {
	if len(ns) < 2 {
		return ns
	}
	last := map[string]int{}
	for i := range ns {
		last[alerts[i]] = i
	}
	out := make([]sdk.Notification, 0, len(last))
	for i, n := range ns {
		if last[alerts[i]] == i {
			out = append(out, n)
		}
	}
	return out
}

func countText(firing, resolved int) string {
	switch {
	case resolved == 0:
		return fmt.Sprintf("%d firing", firing)
	case firing == 0:
		return fmt.Sprintf("%d resolved", resolved)
	}
	return fmt.Sprintf("%d firing, %d resolved", firing, resolved)
}

// summaryOf lists the alerts' subjects for sinks that show only a text.
func summaryOf(alerts []sdk.Notification) string {
	const show = 10
	var lines []string
	for i, a := range alerts {
		if i == show {
			lines = append(lines, fmt.Sprintf("… and %d more", len(alerts)-show))
			break
		}
		subject := a.PipelineName
		if subject == "" {
			subject = a.Title
		}
		lines = append(lines, fmt.Sprintf("%s: %s", a.Status, subject))
	}
	return strings.Join(lines, "\n")
}
