package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

var sentAt = time.Date(2026, 11, 17, 3, 33, 0, 0, time.UTC)

func testConfig(t *testing.T, extra string) Config {
	t.Helper()
	raw := `{"host": "smtp.example.com", "from": "PUOD Alerts <alerts@example.com>", "to": ["ops@example.com", "Dados Team <dados@example.com>"]` + extra + `}`
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.withDefaults()
}

func build(t *testing.T, n sdk.Notification, cfg Config) parsed {
	t.Helper()
	m, err := buildEmail(n, cfg, sentAt)
	if err != nil {
		t.Fatal(err)
	}
	return parseMessage(t, m.Bytes)
}

func wantAll(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, text)
		}
	}
}

func TestBuildEmail_firing(t *testing.T) {
	p := build(t, firing(), testConfig(t, ""))
	h := p.Header
	for name, want := range map[string]string{
		"From":                   `"PUOD Alerts" <alerts@example.com>`,
		"Message-Id":             "<puod.ntf_01@example.com>",
		"Mime-Version":           "1.0",
		"Auto-Submitted":         "auto-generated",
		"X-Puod-Notification-Id": "ntf_01",
		"X-Puod-Status":          "firing",
		"X-Puod-Severity":        "critical",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if p.Subject != "[FIRING] critical · ETL_Vendas took 7m12s" {
		t.Errorf("subject %q", p.Subject)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Name != "Dados Team" || to[1].Address != "dados@example.com" {
		t.Errorf("To %v (%v)", to, err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(sentAt) {
		t.Errorf("Date %v (%v), want %v", d, err, sentAt)
	}
	if got := p.Encodings; len(got) != 2 || got[0] != "quoted-printable" || got[1] != "quoted-printable" {
		t.Errorf("transfer encodings %v, want quoted-printable for both parts", got)
	}

	facts := []string{
		"ETL_Vendas took 7m12s",
		"Run 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold.",
		"critical", "ETL_Vendas slower than 5m", "ETL_Vendas", "1102044718239904",
		"7m12s (threshold 5m)", "2026-11-17 03:32:49 UTC", "team=dados", "ntf_01",
	}
	wantAll(t, "text", p.Text, facts...)
	wantAll(t, "text", p.Text,
		"Open in PUOD: http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904",
		"Open run in Databricks: https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904",
		"owner     squad <vendas> & co",
		"runbook   https://wiki.example.com/runbooks/etl-vendas",
		"Value     7m12s (threshold 5m)",
	)
	wantAll(t, "html", p.HTML, facts...)
	wantAll(t, "html", p.HTML,
		`href="http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904"`,
		`href="https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904"`,
		`href="https://wiki.example.com/runbooks/etl-vendas"`,
		"squad &lt;vendas&gt; &amp; co", // escaped, not markup
		"border-left:6px solid #E01E5A", // the severity's colour
	)
	// The PUOD link comes first: it is the main button.
	if strings.Index(p.Text, "Open in PUOD") > strings.Index(p.Text, "Open run in Databricks") {
		t.Errorf("the PUOD link is not first:\n%s", p.Text)
	}
	if strings.Contains(p.Text, "Ended") || strings.Contains(p.HTML, "Ended") {
		t.Errorf("a firing alert has no end")
	}
}

func TestBuildEmail_resolved(t *testing.T) {
	cfg := testConfig(t, "")
	p := build(t, resolved(), cfg)
	if p.Subject != "[RESOLVED] critical · ETL_Vendas took 7m12s" {
		t.Errorf("subject %q (the title's own \"Resolved:\" is dropped, the status says it)", p.Subject)
	}
	for _, body := range []string{p.Text, p.HTML} {
		wantAll(t, "body", body, "RESOLVED", "ETL_Vendas run 1102044718239999 finished in 3m05s.",
			"2026-11-17 04:14:49 UTC", "42m0s", "7m12s (threshold 5m)")
	}
	wantAll(t, "html", p.HTML, "#2EB67D")
	if p.Header.Get("Message-Id") != "<puod.ntf_02@example.com>" || p.Header.Get("X-Puod-Status") != "resolved" {
		t.Errorf("headers %v", p.Header)
	}
	// Firing and resolved share a thread.
	f := build(t, firing(), cfg)
	if ref := p.Header.Get("References"); ref == "" || ref != f.Header.Get("References") {
		t.Errorf("References %q and %q: want the same thread", ref, f.Header.Get("References"))
	}
}

func TestBuildEmail_group(t *testing.T) {
	p := build(t, group(), testConfig(t, `, "subject_prefix": "[PUOD prod]"`))
	if want := "[PUOD prod] [FIRING] critical · 2 firing, 1 resolved — ETL slower than 5 min"; p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		wantAll(t, name, body,
			"2 firing, 1 resolved", "Three ETL pipelines crossed the 5 minute threshold.",
			"ETL_Vendas took 7m12s", "1102044718239904", "7m12s (threshold 5m)",
			"ETL_Compras took 9m01s", "2203", "9m01s (threshold 5m)", "warning",
			"ETL_Estoque took 6m40s", "3301", "ETL_Estoque is back under 5m.",
			"http://127.0.0.1:8080/runs/src_airflow/2203", "ntf_g1",
		)
		// Each alert says its own status.
		if c := strings.Count(body, "RESOLVED"); c != 1 {
			t.Errorf("%s names RESOLVED %d times, want once (the third alert)", name, c)
		}
		if i, j, k := strings.Index(body, "ETL_Vendas took"), strings.Index(body, "ETL_Compras took"), strings.Index(body, "ETL_Estoque took"); i > j || j > k {
			t.Errorf("%s does not list the alerts in order", name)
		}
	}
	wantAll(t, "text", p.Text, "1. [FIRING] critical · ETL_Vendas took 7m12s", "2. [FIRING] warning · ETL_Compras took 9m01s", "3. [RESOLVED] critical · ETL_Estoque took 6m40s")
	if p.Header.Get("Message-Id") != "<puod.ntf_g1@example.com>" {
		t.Errorf("Message-ID %q", p.Header.Get("Message-Id"))
	}
}

func TestBuildEmail_longGroupIsCut(t *testing.T) {
	n := group()
	n.Alerts = nil
	for i := range maxAlerts + 7 {
		a := firing()
		a.ID, a.PipelineName = fmt.Sprintf("a%d", i), fmt.Sprintf("pipeline_%03d", i)
		n.Alerts = append(n.Alerts, a)
	}
	p := build(t, n, testConfig(t, ""))
	for _, body := range []string{p.Text, p.HTML} {
		wantAll(t, "body", body, "pipeline_000", fmt.Sprintf("pipeline_%03d", maxAlerts-1), "and 7 more alerts")
		if strings.Contains(body, fmt.Sprintf("pipeline_%03d", maxAlerts)) {
			t.Errorf("alert %d is listed beyond the limit", maxAlerts)
		}
	}
}

// TestBuildEmail_encoding: non-ASCII subjects are RFC 2047 encoded words,
// and no line exceeds 998 characters whatever the content (parseMessage
// checks every line).
func TestBuildEmail_encoding(t *testing.T) {
	n := firing()
	n.Title = "Relatório de vendas atrasou — São Paulo " + strings.Repeat("ação ", 60)
	n.Summary = strings.Repeat("Uma linha muito longa sem quebras ", 200)
	n.Annotations = map[string]string{"detalhe": strings.Repeat("x", 5000)}
	m, err := buildEmail(n, testConfig(t, `, "subject_prefix": "[PUOD produção]"`), sentAt)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, m.Bytes)
	raw := p.Header.Get("Subject")
	if !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw subject %q is not Q-encoded", raw)
	}
	if !strings.HasPrefix(p.Subject, "[PUOD produção] [FIRING] critical · Relatório de vendas atrasou — São Paulo ação") || !strings.HasSuffix(p.Subject, "…") {
		t.Errorf("decoded subject %q", p.Subject)
	}
	if !bytes.Contains(m.Bytes, []byte("Subject: =?utf-8?q?")) {
		t.Error("subject header is not encoded on the wire")
	}
	wantAll(t, "text", p.Text, "Uma linha muito longa sem quebras", "São Paulo")
	wantAll(t, "html", p.HTML, "São Paulo")
	for i, line := range strings.Split(string(m.Bytes), "\r\n") {
		if len(line) > 200 && !strings.HasPrefix(line, "To: ") {
			t.Errorf("line %d is %d characters: quoted-printable and folded headers keep lines short", i+1, len(line))
		}
	}
}

// TestBuildEmail_stable: the same notification makes the same bytes (but
// the Date), so a retry is the very same message; another id makes
// another Message-ID.
func TestBuildEmail_stable(t *testing.T) {
	cfg := testConfig(t, "")
	a, _ := buildEmail(firing(), cfg, sentAt)
	b, _ := buildEmail(firing(), cfg, sentAt)
	if !bytes.Equal(a.Bytes, b.Bytes) {
		t.Error("two builds of one notification differ")
	}
	other := firing()
	other.ID = "ntf_99"
	c, _ := buildEmail(other, cfg, sentAt)
	if a.MessageID == c.MessageID {
		t.Errorf("two notifications share Message-ID %s", a.MessageID)
	}
}

func TestMessageID_forms(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"ntf_01", "<puod.ntf_01@example.com>"},
		{"01JD3K5V.group-7", "<puod.01JD3K5V.group-7@example.com>"},
		{"rule/series 7", "<puod.sha256-"},
		{"a..b", "<puod.sha256-"},
		{"<evil>@x", "<puod.sha256-"},
		{strings.Repeat("a", 200), "<puod.sha256-"},
	} {
		got := messageID(tc.id, "example.com")
		if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "@example.com>") || strings.Count(got, "@") != 1 {
			t.Errorf("messageID(%q) = %q, want %s…", tc.id, got, tc.want)
		}
		if got != messageID(tc.id, "example.com") {
			t.Errorf("messageID(%q) is not stable", tc.id)
		}
	}
}

// TestBuildEmail_hostileContent: markup in the notification is text, a
// javascript: link is dropped, header injection is impossible.
func TestBuildEmail_hostileContent(t *testing.T) {
	n := firing()
	n.Title = "x\r\nBcc: victim@example.org"
	n.Summary = `<script>alert(1)</script><a href="https://evil.example">click</a>`
	n.Severity = "critical\r\nX-Injected: yes"
	n.Links = []sdk.Link{{Title: "bad", URL: "javascript:alert(1)"}, {Title: "Open in PUOD", URL: "https://puod.example.com/runs/1"}}
	p := build(t, n, testConfig(t, ""))
	if p.Header.Get("Bcc") != "" || p.Header.Get("X-Injected") != "" {
		t.Errorf("a header was injected: %v", p.Header)
	}
	if strings.Contains(p.HTML, "<script>") || strings.Contains(p.HTML, `<a href="https://evil.example">`) {
		t.Errorf("markup from the notification reached the HTML:\n%s", p.HTML)
	}
	if strings.Contains(p.HTML, "javascript:") || strings.Contains(p.Text, "javascript:") {
		t.Error("a javascript: link was kept")
	}
	wantAll(t, "html", p.HTML, "&lt;script&gt;", `href="https://puod.example.com/runs/1"`)
}

func TestBuildEmail_minimal(t *testing.T) {
	p := build(t, sdk.Notification{ID: "n1", Status: sdk.NotificationFiring}, testConfig(t, ""))
	if p.Subject != "[FIRING] PUOD alert" {
		t.Errorf("subject %q", p.Subject)
	}
	wantAll(t, "text", p.Text, "The alert fired.")
}
