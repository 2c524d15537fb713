package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
)

// firingBlocks is the message for firing(): the shape of the reference
// fixture (block-kit-alert-example.json).
const firingBlocks = `[
  {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: ETL_Vendas took 7m12s", "emoji": true}},
  {"type": "section", "text": {"type": "mrkdwn", "text": "Run 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold."}},
  {"type": "section", "fields": [
    {"type": "mrkdwn", "text": "*Severity*\n` + "`critical`" + `"},
    {"type": "mrkdwn", "text": "*Pipeline*\nETL_Vendas"},
    {"type": "mrkdwn", "text": "*Run*\n1102044718239904"},
    {"type": "mrkdwn", "text": "*Value*\n7m12s (threshold 5m)"},
    {"type": "mrkdwn", "text": "*Started*\n<!date^1794886369^{date_short} {time}|2026-11-17 03:32 UTC>"},
    {"type": "mrkdwn", "text": "*Rule*\nETL_Vendas slower than 5m"}
  ]},
  {"type": "section", "text": {"type": "mrkdwn", "text": "*owner*: squad &lt;vendas&gt; &amp; co\n*runbook*: <https://wiki.example.com/runbooks/etl-vendas|wiki.example.com/runbooks/etl-vendas>"}},
  {"type": "context", "block_id": "puod_alert:ntf_01", "elements": [
    {"type": "mrkdwn", "text": "PUOD alert ` + "`ntf_01`" + ` fired <!date^1794886369^{date_short_pretty} at {time}|2026-11-17 03:32 UTC>"},
    {"type": "mrkdwn", "text": "team=dados"}
  ]},
  {"type": "actions", "block_id": "puod_alert_actions", "elements": [
    {"type": "button", "text": {"type": "plain_text", "text": "Open run in Databricks"}, "url": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904", "action_id": "open_vendor_run"},
    {"type": "button", "text": {"type": "plain_text", "text": "Open in PUOD"}, "url": "http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904", "action_id": "open_puod_run", "style": "primary"}
  ]}
]`

// resolvedBlocks is the matching resolved message: green, "Resolved" in the
// header (once, though the title already said it), status, end time and
// how long the alert lasted.
const resolvedBlocks = `[
  {"type": "header", "text": {"type": "plain_text", "text": ":large_green_circle: Resolved: ETL_Vendas took 7m12s", "emoji": true}},
  {"type": "section", "text": {"type": "mrkdwn", "text": "*Resolved*: ETL_Vendas run 1102044718239999 finished in 3m05s."}},
  {"type": "section", "fields": [
    {"type": "mrkdwn", "text": "*Status*\n` + "`resolved`" + `"},
    {"type": "mrkdwn", "text": "*Severity*\n` + "`critical`" + `"},
    {"type": "mrkdwn", "text": "*Pipeline*\nETL_Vendas"},
    {"type": "mrkdwn", "text": "*Run*\n1102044718239904"},
    {"type": "mrkdwn", "text": "*Value*\n7m12s (threshold 5m)"},
    {"type": "mrkdwn", "text": "*Started*\n<!date^1794886369^{date_short} {time}|2026-11-17 03:32 UTC>"},
    {"type": "mrkdwn", "text": "*Ended*\n<!date^1794888889^{date_short} {time}|2026-11-17 04:14 UTC>"},
    {"type": "mrkdwn", "text": "*Lasted*\n42m0s"},
    {"type": "mrkdwn", "text": "*Rule*\nETL_Vendas slower than 5m"}
  ]},
  {"type": "section", "text": {"type": "mrkdwn", "text": "*owner*: squad &lt;vendas&gt; &amp; co\n*runbook*: <https://wiki.example.com/runbooks/etl-vendas|wiki.example.com/runbooks/etl-vendas>"}},
  {"type": "context", "block_id": "puod_alert:ntf_02", "elements": [
    {"type": "mrkdwn", "text": "PUOD alert ` + "`ntf_02`" + ` resolved <!date^1794888889^{date_short_pretty} at {time}|2026-11-17 04:14 UTC>"},
    {"type": "mrkdwn", "text": "team=dados"}
  ]},
  {"type": "actions", "block_id": "puod_alert_actions", "elements": [
    {"type": "button", "text": {"type": "plain_text", "text": "Open run in Databricks"}, "url": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904", "action_id": "open_vendor_run"},
    {"type": "button", "text": {"type": "plain_text", "text": "Open in PUOD"}, "url": "http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904", "action_id": "open_puod_run", "style": "primary"}
  ]}
]`

const resolvedText = ":large_green_circle: Resolved: ETL_Vendas took 7m12s - ETL_Vendas run 1102044718239904 (7m12s, threshold 5m)\nETL_Vendas run 1102044718239999 finished in 3m05s."

func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		pretty, _ := json.MarshalIndent(g, "", "  ")
		t.Errorf("%s:\n got %s\nwant %s", what, pretty, want)
	}
}

// TestMessage_blocks posts the firing and the resolved message through both
// transports and both layouts, and checks the blocks Slack received.
func TestMessage_blocks(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		bot    bool
		layout string
		n      sdk.Notification
		want   string
		text   string
		color  string
	}{
		{"firing webhook", false, "blocks", firing(), firingBlocks, ":red_circle: [CRITICAL] ETL_Vendas took 7m12s - ETL_Vendas run 1102044718239904 (7m12s, threshold 5m)\nRun 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold.", ""},
		{"firing bot", true, "blocks", firing(), firingBlocks, ":red_circle: [CRITICAL] ETL_Vendas took 7m12s - ETL_Vendas run 1102044718239904 (7m12s, threshold 5m)\nRun 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold.", ""},
		{"resolved webhook", false, "blocks", resolved(), resolvedBlocks, resolvedText, ""},
		{"resolved bot", true, "blocks", resolved(), resolvedBlocks, resolvedText, ""},
		{"firing attachment", false, "attachment", firing(), firingBlocks, ":red_circle: [CRITICAL] ETL_Vendas took 7m12s - ETL_Vendas run 1102044718239904 (7m12s, threshold 5m)\nRun 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold.", "#E01E5A"},
		{"resolved attachment", true, "attachment", resolved(), resolvedBlocks, resolvedText, "#2EB67D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.sl.Reset()
			layout := `"layout": "` + tc.layout + `"`
			cfg, secrets := e.webhookConfig(layout)
			if tc.bot {
				cfg, secrets = e.botConfig(layout)
			}
			id := e.configure(t, cfg, secrets)
			if res := e.notify(t, id, tc.n); res.Outcome != sdk.Delivered {
				t.Fatalf("%+v", res)
			}
			msgs := e.sl.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if m.Text != tc.text {
				t.Errorf("text %q, want %q", m.Text, tc.text)
			}
			if tc.color == "" {
				jsonEqual(t, "blocks", m.Blocks, tc.want)
				if len(m.Attachments) != 0 {
					t.Errorf("attachments %s in the blocks layout", m.Attachments)
				}
				return
			}
			// The attachment layout: the header at the top, the rest in an
			// attachment with the severity's colour.
			var all []json.RawMessage
			_ = json.Unmarshal([]byte(tc.want), &all)
			header, _ := json.Marshal(all[:1])
			rest, _ := json.Marshal(all[1:])
			jsonEqual(t, "blocks", m.Blocks, string(header))
			var atts []struct {
				Color  string          `json:"color"`
				Blocks json.RawMessage `json:"blocks"`
			}
			if err := json.Unmarshal(m.Attachments, &atts); err != nil || len(atts) != 1 {
				t.Fatalf("attachments %s: %v", m.Attachments, err)
			}
			if atts[0].Color != tc.color {
				t.Errorf("colour %s, want %s", atts[0].Color, tc.color)
			}
			jsonEqual(t, "attachment blocks", atts[0].Blocks, string(rest))
		})
	}
}

func TestMessage_severity(t *testing.T) {
	for _, tc := range []struct {
		severity string
		status   sdk.NotificationStatus
		emoji    string
		color    string
	}{
		{"critical", sdk.NotificationFiring, ":red_circle:", "#E01E5A"},
		{"CRITICAL", sdk.NotificationFiring, ":red_circle:", "#E01E5A"},
		{"error", sdk.NotificationFiring, ":large_orange_circle:", "#E8912D"},
		{"warning", sdk.NotificationFiring, ":large_yellow_circle:", "#ECB22E"},
		{"info", sdk.NotificationFiring, ":large_blue_circle:", "#36C5F0"},
		{"", sdk.NotificationFiring, ":white_circle:", "#9E9EA6"},
		{"sev-unknown", sdk.NotificationFiring, ":white_circle:", "#9E9EA6"},
		{"critical", sdk.NotificationResolved, ":large_green_circle:", "#2EB67D"},
	} {
		n := firing()
		n.Severity, n.Status = tc.severity, tc.status
		m := buildMessage(n, layoutAttachmnt)
		if !strings.HasPrefix(m.Blocks[0].Text.Text, tc.emoji+" ") || !strings.HasPrefix(m.Text, tc.emoji+" ") {
			t.Errorf("%s/%s: header %q text %q, want emoji %s", tc.severity, tc.status, m.Blocks[0].Text.Text, m.Text, tc.emoji)
		}
		if m.Attachments[0].Color != tc.color {
			t.Errorf("%s/%s: colour %s, want %s", tc.severity, tc.status, m.Attachments[0].Color, tc.color)
		}
	}
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// TestMessage_truncation sends a notification far over every Slack limit
// through both transports: Slack (the simulator checks the limits) accepts
// it, and every cut text ends with an ellipsis.
func TestMessage_truncation(t *testing.T) {
	e := newEnv(t)
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	n := firing()
	n.Title = long("Título <muito> longo 🚨 ", 30)            // > 150 in the header
	n.Summary = long("stack & trace <at> line 42 😱\n", 3000) // > 40,000 and > 3,000, with escapes
	n.PipelineName = long("pipeline_", 400)                  // > 2,000 in a field
	n.Value = long("9", 5000)
	n.Threshold = long("5", 5000)
	n.Annotations = map[string]string{}
	for i := 0; i < 40; i++ {
		n.Annotations[string(rune('a'+i%26))+long("k", i)] = long("annotation & value ", 100)
	}
	n.Labels = map[string]string{"big": long("label", 1000)}
	n.ID = long("id", 200) // block_id over 255: hashed
	n.Links = []sdk.Link{
		{Title: long("Open the vendor run ", 10), URL: "https://vendor.example.com/run?x=" + long("a", 4000)}, // URL > 3,000: left out
		{Title: "ftp", URL: "ftp://vendor.example.com/run"},                                                   // not http(s): left out
	}
	for i := 0; i < 30; i++ {
		n.Links = append(n.Links, sdk.Link{Title: "Link " + long("x", 100), URL: "https://vendor.example.com/runs/" + long("r", 10)})
	}
	n.Links = append(n.Links, sdk.Link{Title: "Open in PUOD", URL: "http://127.0.0.1:8080/runs/x"})

	for _, bot := range []bool{false, true} {
		e.sl.Reset()
		cfg, secrets := e.webhookConfig("")
		if bot {
			cfg, secrets = e.botConfig("")
		}
		id := e.configure(t, cfg, secrets)
		if res := e.notify(t, id, n); res.Outcome != sdk.Delivered {
			t.Fatalf("bot=%v: %+v", bot, res)
		}
		msgs := e.sl.Messages()
		if len(msgs) != 1 {
			t.Fatalf("bot=%v: %d messages", bot, len(msgs))
		}
		m := msgs[0]
		if m.Truncated || utf16Len(m.Text) > maxText || !strings.HasSuffix(m.Text, "…") {
			t.Errorf("bot=%v: text of %d units (truncated by slack: %v), want ≤ %d ending with …", bot, utf16Len(m.Text), m.Truncated, maxText)
		}
		if probs := slacksim.ValidateBlocks(m.Blocks); probs != nil {
			t.Errorf("bot=%v: blocks over Slack's limits: %v", bot, probs)
		}
	}

	m := buildMessage(n, layoutBlocks)
	if got := m.Blocks[0].Text.Text; utf16Len(got) > maxHeader || !strings.HasSuffix(got, "…") {
		t.Errorf("header %d units: %q", utf16Len(got), got)
	}
	if got := m.Blocks[1].Text.Text; utf16Len(got) > maxSectionText || !strings.HasSuffix(got, "…") || strings.Contains(got, "<at>") {
		t.Errorf("summary %d units, escaped and cut: %q…", utf16Len(got), got[:80])
	}
	for _, f := range m.Blocks[2].Fields {
		if utf16Len(f.Text) > maxFieldText {
			t.Errorf("field of %d units", utf16Len(f.Text))
		}
	}
	if got := m.Blocks[3].Text.Text; utf16Len(got) > maxSectionText || !strings.HasSuffix(got, "\n…") {
		t.Errorf("annotations %d units, want ≤ %d ending with an ellipsis line", utf16Len(got), maxSectionText)
	}
	if id := m.Blocks[4].BlockID; len(id) > maxBlockID || !strings.HasPrefix(id, "puod_alert:sha256:") {
		t.Errorf("block_id %q", id)
	}
	actions := m.Blocks[5].Elements
	if len(actions) != maxButtons {
		t.Fatalf("%d buttons, want %d", len(actions), maxButtons)
	}
	for _, a := range actions {
		b := a.(button)
		if len(b.URL) > maxButtonURL || !strings.HasPrefix(b.URL, "https://vendor.example.com/runs/") || utf16Len(b.Text.Text) > maxButtonText {
			t.Errorf("button %q → %q", b.Text.Text, b.URL)
		}
	}
}

// TestMessage_escaping: vendor text cannot mention @channel or forge links.
func TestMessage_escaping(t *testing.T) {
	n := firing()
	n.Summary = "<!channel> see <https://evil.example|your bank> & pay"
	n.PipelineName = "etl <!here>"
	m := buildMessage(n, layoutBlocks)
	data, _ := encode(m)
	for _, bad := range []string{"<!channel>", "<!here>", "<https://evil.example"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("message holds %q unescaped: %s", bad, data)
		}
	}
	if !strings.Contains(m.Blocks[1].Text.Text, "&lt;!channel&gt; see &lt;https://evil.example|your bank&gt; &amp; pay") {
		t.Errorf("summary %q", m.Blocks[1].Text.Text)
	}
}

func TestMessage_minimal(t *testing.T) {
	// Only an id and a status: still a valid message with a title.
	for _, st := range []sdk.NotificationStatus{sdk.NotificationFiring, sdk.NotificationResolved} {
		m := buildMessage(sdk.Notification{ID: "n1", Status: st}, layoutBlocks)
		data, _ := json.Marshal(m.Blocks)
		if probs := slacksim.ValidateBlocks(data); probs != nil {
			t.Errorf("%s: %v", st, probs)
		}
		if m.Text == "" || !strings.Contains(m.Blocks[0].Text.Text, "PUOD alert") {
			t.Errorf("%s: text %q header %q", st, m.Text, m.Blocks[0].Text.Text)
		}
		for _, b := range m.Blocks {
			if b.Type == "actions" {
				t.Errorf("%s: actions block without links", st)
			}
		}
	}
}

// TestMessage_group: a group message (through the plugin, both transports)
// lists each alert with its status, value and links, stays within Slack's
// limits with many alerts, and names the ones it leaves out.
func TestMessage_group(t *testing.T) {
	e := newEnv(t)
	group := func(count int) sdk.Notification {
		g := sdk.Notification{ID: "group-1", Status: sdk.NotificationFiring, RuleID: "rule-etl", RuleName: "ETL slower than 5m",
			Severity: "critical", Title: "2 firing, 1 resolved: ETL slower than 5m", GroupKey: "rule-etl",
			Labels: map[string]string{"team": "dados"}}
		for i := range count {
			a := firing()
			a.ID = "ntf_" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
			a.PipelineName = "ETL_" + string(rune('A'+i%26)) + strings.Repeat("z", i/26)
			if i == 2 {
				a.Status, a.EndsAt = sdk.NotificationResolved, a.StartsAt.Add(time.Hour)
			}
			g.Alerts = append(g.Alerts, a)
		}
		return g
	}
	for _, bot := range []bool{false, true} {
		e.sl.Reset()
		cfg, secrets := e.webhookConfig("")
		if bot {
			cfg, secrets = e.botConfig("")
		}
		id := e.configure(t, cfg, secrets)
		for _, count := range []int{3, 120} {
			if res := e.notify(t, id, group(count)); res.Outcome != sdk.Delivered {
				t.Fatalf("bot=%v, %d alerts: %+v", bot, count, res)
			}
		}
		msgs := e.sl.Messages()
		if len(msgs) != 2 {
			t.Fatalf("bot=%v: %d messages, want one per group message", bot, len(msgs))
		}
		small, big := msgs[0], msgs[1]
		for _, want := range []string{"ETL_A", "ETL_B", "ETL_C", "7m12s (threshold 5m)", "Open in PUOD", "`resolved`"} {
			if !strings.Contains(string(small.Blocks), want) {
				t.Errorf("bot=%v: group message lacks %q: %s", bot, want, small.Blocks)
			}
		}
		if !strings.Contains(small.Text, "ETL_C") || !strings.Contains(small.Text, "2 firing, 1 resolved") {
			t.Errorf("bot=%v: fallback text %q does not list the alerts", bot, small.Text)
		}
		if probs := slacksim.ValidateBlocks(big.Blocks); probs != nil {
			t.Errorf("bot=%v: 120-alert message over Slack's limits: %v", bot, probs)
		}
		if !strings.Contains(string(big.Blocks), "and 80 more alerts") {
			t.Errorf("bot=%v: the alerts left out are not counted", bot)
		}
	}
}
