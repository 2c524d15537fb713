package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/puod/puod/sdk"
)

// Slack's limits (apis/slack.md). Lengths are counted in UTF-16 code units,
// the stricter of the plausible ways Slack counts characters.
const (
	maxText           = 40000 // top-level text (Slack truncates beyond)
	maxBlocks         = 50
	maxHeader         = 150
	maxSectionText    = 3000
	maxFields         = 10
	maxFieldText      = 2000
	maxContextText    = 2000 // per context element (kept conservative)
	maxButtonText     = 75
	maxButtonURL      = 3000
	maxBlockID        = 255
	maxButtons        = 5 // Slack allows 25; more than a few is noise
	maxAnnotationLine = 500
	ellipsis          = "…"
)

// message is a chat.postMessage / incoming-webhook body.
type message struct {
	Channel        string       `json:"channel,omitempty"`
	Text           string       `json:"text"`
	Blocks         []block      `json:"blocks,omitempty"`
	Attachments    []attachment `json:"attachments,omitempty"`
	ThreadTS       string       `json:"thread_ts,omitempty"`
	ReplyBroadcast bool         `json:"reply_broadcast,omitempty"`
	UnfurlLinks    bool         `json:"unfurl_links"`
	UnfurlMedia    bool         `json:"unfurl_media"`
	Metadata       *metadata    `json:"metadata,omitempty"`
}

type attachment struct {
	Color    string  `json:"color"`
	Fallback string  `json:"fallback,omitempty"`
	Blocks   []block `json:"blocks"`
}

// metadata is Slack message metadata (chat.postMessage only): stored with
// the message, readable by apps (conversations.history with
// include_all_metadata), never shown to people. Slack does not de-duplicate
// on it.
type metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

type text struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type button struct {
	Type     string `json:"type"`
	Text     text   `json:"text"`
	URL      string `json:"url"`
	ActionID string `json:"action_id"`
	Style    string `json:"style,omitempty"`
}

type block struct {
	Type     string `json:"type"`
	BlockID  string `json:"block_id,omitempty"`
	Text     *text  `json:"text,omitempty"`
	Fields   []text `json:"fields,omitempty"`
	Elements []any  `json:"elements,omitempty"`
}

// severityStyle is how a severity looks: an emoji for the text and header,
// a colour for the attachment bar.
type severityStyle struct{ emoji, color string }

var severities = map[string]severityStyle{
	"critical": {":red_circle:", "#E01E5A"},
	"error":    {":large_orange_circle:", "#E8912D"},
	"high":     {":large_orange_circle:", "#E8912D"},
	"warning":  {":large_yellow_circle:", "#ECB22E"},
	"medium":   {":large_yellow_circle:", "#ECB22E"},
	"info":     {":large_blue_circle:", "#36C5F0"},
	"low":      {":large_blue_circle:", "#36C5F0"},
}

var (
	resolvedStyle = severityStyle{":large_green_circle:", "#2EB67D"}
	unknownStyle  = severityStyle{":white_circle:", "#9E9EA6"}
)

func styleOf(n sdk.Notification) severityStyle {
	if n.Status == sdk.NotificationResolved {
		return resolvedStyle
	}
	if s, ok := severities[strings.ToLower(strings.TrimSpace(n.Severity))]; ok {
		return s
	}
	return unknownStyle
}

// buildMessage turns a notification into a Slack message: a header with
// the severity's emoji, the summary, the facts as two-column fields, the
// annotations, a context line naming the alert, and buttons for its links.
// Every text is escaped and truncated to Slack's limits: a long value never
// makes Slack refuse the message.
func buildMessage(n sdk.Notification, layout string) message {
	if len(n.Alerts) > 0 {
		return buildGroupMessage(n, layout)
	}
	resolved := n.Status == sdk.NotificationResolved
	st := styleOf(n)
	title := strings.TrimSpace(n.Title)
	if title == "" {
		title = strings.TrimSpace(n.RuleName)
	}
	if title == "" {
		title = "PUOD alert"
	}
	if resolved {
		title = trimResolvedPrefix(title)
	}

	var headline string
	if resolved {
		headline = st.emoji + " Resolved: " + title
	} else {
		headline = st.emoji + " " + title
	}
	header := block{Type: "header", Text: &text{Type: "plain_text", Text: fitPlain(headline, maxHeader), Emoji: true}}

	var body []block
	summary := strings.TrimSpace(n.Summary)
	if summary == "" {
		summary = strings.TrimSpace(n.Annotations["summary"])
	}
	if summary == "" {
		summary = defaultSummary(n)
	}
	lead := ""
	if resolved {
		lead = "*Resolved*: "
	}
	body = append(body, block{Type: "section", Text: &text{Type: "mrkdwn", Text: lead + fitEscaped(summary, maxSectionText-length(lead))}})

	if f := fields(n); len(f) > 0 {
		body = append(body, block{Type: "section", Fields: f})
	}
	if s := annotationsText(n.Annotations); s != "" {
		body = append(body, block{Type: "section", Text: &text{Type: "mrkdwn", Text: s}})
	}
	body = append(body, block{Type: "context", BlockID: blockID(n.ID), Elements: contextElements(n)})
	if b := buttons(n.Links); len(b) > 0 {
		body = append(body, block{Type: "actions", BlockID: "puod_alert_actions", Elements: b})
	}

	return assemble(fallbackText(n, st, title), header, body, st, layout)
}

// assemble lays a message out: the header, then the body at the top level
// (layout blocks) or in an attachment with the severity's colour bar.
func assemble(text string, header block, body []block, st severityStyle, layout string) message {
	m := message{Text: text, UnfurlLinks: false, UnfurlMedia: false}
	switch layout {
	case layoutAttachmnt:
		m.Blocks = []block{header}
		m.Attachments = []attachment{{Color: st.color, Blocks: capBlocks(body, maxBlocks-1)}}
	default:
		m.Blocks = capBlocks(append([]block{header}, body...), maxBlocks)
	}
	return m
}

// maxGroupAlerts is how many alerts a group message lists one by one
// (a section each); the rest are counted.
const maxGroupAlerts = 40

// buildGroupMessage renders a group message: a header with the group's
// title, one section per alert (status, pipeline, value vs threshold, run,
// when, and its links inline), a count of those left out, and the
// group's id.
func buildGroupMessage(n sdk.Notification, layout string) message {
	st := styleOf(n)
	title := strings.TrimSpace(n.Title)
	if title == "" {
		title = fmt.Sprintf("%d alerts", len(n.Alerts))
	}
	header := block{Type: "header", Text: &text{Type: "plain_text", Text: fitPlain(st.emoji+" "+title, maxHeader), Emoji: true}}
	var body []block
	for i, a := range n.Alerts {
		if i == maxGroupAlerts {
			more := fmt.Sprintf("… and %d more alerts in this group (see PUOD).", len(n.Alerts)-maxGroupAlerts)
			body = append(body, block{Type: "context", Elements: []any{text{Type: "mrkdwn", Text: more}}})
			break
		}
		body = append(body, block{Type: "section", Text: &text{Type: "mrkdwn", Text: alertLine(a)}})
	}
	body = append(body, block{Type: "context", BlockID: blockID(n.ID), Elements: contextElements(n)})

	var fb strings.Builder
	fb.WriteString(st.emoji + " " + title)
	for i, a := range n.Alerts {
		if i == maxGroupAlerts {
			fmt.Fprintf(&fb, "\n… and %d more", len(n.Alerts)-maxGroupAlerts)
			break
		}
		fb.WriteString("\n" + alertSubject(a))
	}
	return assemble(fitEscaped(fb.String(), maxText), header, body, st, layout)
}

// alertSubject is one alert in a line of plain text.
func alertSubject(a sdk.Notification) string {
	s := string(a.Status) + ": "
	switch {
	case a.PipelineName != "":
		s += a.PipelineName
	default:
		s += a.Title
	}
	if a.Value != "" && a.Threshold != "" {
		s += " (" + a.Value + ", threshold " + a.Threshold + ")"
	}
	return s
}

// alertLine is one alert of a group message in mrkdwn.
func alertLine(a sdk.Notification) string {
	st := styleOf(a)
	subject := a.PipelineName
	if subject == "" {
		subject = a.Title
	}
	parts := []string{st.emoji + " *" + fitEscaped(subject, 300) + "* `" + string(a.Status) + "`"}
	switch {
	case a.Value != "" && a.Threshold != "":
		parts = append(parts, fitEscaped(a.Value, 100)+" (threshold "+fitEscaped(a.Threshold, 100)+")")
	case a.Value != "":
		parts = append(parts, fitEscaped(a.Value, 100))
	}
	if a.RunExternalID != "" {
		parts = append(parts, "run "+fitEscaped(a.RunExternalID, 200))
	}
	if a.Status == sdk.NotificationResolved && !a.EndsAt.IsZero() {
		parts = append(parts, "ended "+slackDate(a.EndsAt))
	} else if !a.StartsAt.IsZero() {
		parts = append(parts, "since "+slackDate(a.StartsAt))
	}
	line := strings.Join(parts, " · ")
	var links []string
	for _, l := range a.Links {
		u, ok := linkURL(l.URL)
		if !ok || length(u) > maxButtonURL {
			continue
		}
		label := strings.TrimSpace(l.Title)
		if label == "" {
			label = "link"
		}
		links = append(links, "<"+u+"|"+fitEscaped(label, maxButtonText)+">")
	}
	if len(links) > 0 {
		if l := "\n" + strings.Join(links, " · "); length(line+l) <= maxSectionText {
			line += l
		}
	}
	return fitRaw(line, maxSectionText)
}

// trimResolvedPrefix drops a "Resolved:" the host already put in the title,
// so the header does not say it twice.
func trimResolvedPrefix(title string) string {
	lower := strings.ToLower(title)
	for _, p := range []string{"resolved:", "resolved -", "[resolved]"} {
		if strings.HasPrefix(lower, p) {
			if t := strings.TrimSpace(title[len(p):]); t != "" {
				return t
			}
		}
	}
	return title
}

func defaultSummary(n sdk.Notification) string {
	what := n.RuleName
	if what == "" {
		what = "the alert"
	}
	switch {
	case n.Status == sdk.NotificationResolved && n.PipelineName != "":
		return fmt.Sprintf("%s is back to normal for %s.", what, n.PipelineName)
	case n.Status == sdk.NotificationResolved:
		return fmt.Sprintf("%s is back to normal.", what)
	case n.PipelineName != "":
		return fmt.Sprintf("%s fired for %s.", what, n.PipelineName)
	}
	return fmt.Sprintf("%s fired.", what)
}

// fields are the facts, rendered in two columns: at most ten.
func fields(n sdk.Notification) []text {
	var out []text
	add := func(label, value string, escape bool) {
		if strings.TrimSpace(value) == "" || len(out) == maxFields {
			return
		}
		prefix := "*" + label + "*\n"
		budget := maxFieldText - length(prefix)
		if escape {
			value = fitEscaped(value, budget)
		} else {
			value = fitRaw(value, budget)
		}
		out = append(out, text{Type: "mrkdwn", Text: prefix + value})
	}
	if n.Status == sdk.NotificationResolved {
		add("Status", "`resolved`", false)
	}
	if n.Severity != "" {
		add("Severity", "`"+escape(strings.ReplaceAll(n.Severity, "`", "'"))+"`", false)
	}
	add("Pipeline", n.PipelineName, true)
	add("Run", n.RunExternalID, true)
	switch {
	case n.Value != "" && n.Threshold != "":
		add("Value", escape(n.Value)+" (threshold "+escape(n.Threshold)+")", false)
	case n.Value != "":
		add("Value", n.Value, true)
	case n.Threshold != "":
		add("Threshold", n.Threshold, true)
	}
	if !n.StartsAt.IsZero() {
		add("Started", slackDate(n.StartsAt), false)
	}
	if !n.EndsAt.IsZero() {
		add("Ended", slackDate(n.EndsAt), false)
		if !n.StartsAt.IsZero() && n.EndsAt.After(n.StartsAt) {
			add("Lasted", n.EndsAt.Sub(n.StartsAt).Round(time.Second).String(), true)
		}
	}
	add("Rule", n.RuleName, true)
	return out
}

// annotationsText lists the annotations (summary excluded: it leads the
// message) as "*key*: value" lines; a URL value becomes a link.
func annotationsText(ann map[string]string) string {
	keys := make([]string, 0, len(ann))
	for k, v := range ann {
		if k != "summary" && strings.TrimSpace(v) != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strings.TrimSpace(ann[k])
		var line string
		if u, ok := linkURL(v); ok && length(u) <= maxButtonURL {
			line = "*" + fitEscaped(k, 100) + "*: <" + u + "|" + fitEscaped(shortURL(v), 200) + ">"
		} else {
			line = "*" + fitEscaped(k, 100) + "*: " + fitEscaped(v, maxAnnotationLine)
		}
		sep := ""
		if b.Len() > 0 {
			sep = "\n"
		}
		if length(b.String())+length(sep+line) > maxSectionText-length("\n"+ellipsis) {
			b.WriteString("\n" + ellipsis)
			break
		}
		b.WriteString(sep + line)
	}
	return b.String()
}

func contextElements(n sdk.Notification) []any {
	verb, at := "fired", n.StartsAt
	if n.Status == sdk.NotificationResolved {
		verb, at = "resolved", n.EndsAt
	}
	s := "PUOD alert `" + fitEscaped(strings.ReplaceAll(n.ID, "`", "'"), 200) + "` " + verb
	if !at.IsZero() {
		s += " " + slackDateLong(at)
	}
	out := []any{text{Type: "mrkdwn", Text: fitRaw(s, maxContextText)}}
	if len(n.Labels) > 0 {
		keys := make([]string, 0, len(n.Labels))
		for k := range n.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+n.Labels[k])
		}
		out = append(out, text{Type: "mrkdwn", Text: fitEscaped(strings.Join(parts, "  "), maxContextText)})
	}
	return out
}

// buttons turn the notification's links into link buttons. A link whose
// title mentions PUOD is the button to the run in PUOD (primary style,
// action_id open_puod_run); the first other link is the vendor's run
// (open_vendor_run). A link whose URL is not http(s) or is longer than
// Slack allows is left out: a cut URL would be a broken link.
func buttons(links []sdk.Link) []any {
	var out []any
	vendorSeen := false
	ids := map[string]bool{}
	for i, l := range links {
		if len(out) == maxButtons {
			break
		}
		u, ok := linkURL(l.URL)
		if !ok || length(u) > maxButtonURL {
			continue
		}
		label := strings.TrimSpace(l.Title)
		b := button{Type: "button", URL: u}
		switch {
		case strings.Contains(strings.ToLower(label), "puod"):
			b.ActionID, b.Style = "open_puod_run", "primary"
			if label == "" || strings.EqualFold(label, "puod") {
				label = "Open in PUOD"
			}
		case !vendorSeen:
			vendorSeen = true
			b.ActionID = "open_vendor_run"
		default:
			b.ActionID = fmt.Sprintf("open_link_%d", i+1)
		}
		if ids[b.ActionID] {
			b.ActionID = fmt.Sprintf("open_link_%d", i+1)
		}
		ids[b.ActionID] = true
		if label == "" {
			label = "Open link"
		}
		b.Text = text{Type: "plain_text", Text: fitPlain(label, maxButtonText)}
		out = append(out, b)
	}
	return out
}

// fallbackText is the top-level text: the notification line on phones, the
// message in clients that do not render blocks (and for screen readers):
// the headline, then the summary.
func fallbackText(n sdk.Notification, st severityStyle, title string) string {
	var b strings.Builder
	b.WriteString(st.emoji + " ")
	if n.Status == sdk.NotificationResolved {
		b.WriteString("Resolved: ")
	} else if n.Severity != "" {
		b.WriteString("[" + strings.ToUpper(n.Severity) + "] ")
	}
	b.WriteString(title)
	if n.PipelineName != "" {
		b.WriteString(" - " + n.PipelineName)
	}
	if n.RunExternalID != "" {
		b.WriteString(" run " + n.RunExternalID)
	}
	if n.Value != "" && n.Threshold != "" {
		b.WriteString(" (" + n.Value + ", threshold " + n.Threshold + ")")
	}
	if s := strings.TrimSpace(n.Summary); s != "" {
		b.WriteString("\n" + s)
	}
	return fitEscaped(b.String(), maxText)
}

// blockID carries the notification id in the message itself, on both
// transports, so a message found in a channel can be traced to its
// notification. Ids that do not fit are hashed.
func blockID(id string) string {
	const prefix = "puod_alert:"
	if id == "" {
		return ""
	}
	if length(prefix+id) <= maxBlockID {
		return prefix + id
	}
	sum := sha256.Sum256([]byte(id))
	return prefix + "sha256:" + hex.EncodeToString(sum[:])
}

func capBlocks(bs []block, limit int) []block {
	if len(bs) <= limit {
		return bs
	}
	return bs[:limit]
}

// --- text helpers ---

// escape escapes the three characters mrkdwn reserves.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// length counts UTF-16 code units.
func length(s string) int { return len(utf16.Encode([]rune(s))) }

// fitEscaped escapes s and, when the result exceeds limit, cuts s (before
// escaping, so an escape sequence is never split) and ends it with an
// ellipsis.
func fitEscaped(s string, limit int) string {
	if e := escape(s); length(e) <= limit {
		return e
	}
	budget := limit - length(ellipsis)
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := escape(string(r))
		n := length(piece)
		if used+n > budget {
			break
		}
		b.WriteString(piece)
		used += n
	}
	return b.String() + ellipsis
}

// fitRaw cuts already-formatted text. Callers use it only where the text
// has no markup near its end that a cut could break.
func fitRaw(s string, limit int) string {
	if length(s) <= limit {
		return s
	}
	budget := limit - length(ellipsis)
	var b strings.Builder
	used := 0
	for _, r := range s {
		n := len(utf16.Encode([]rune{r}))
		if used+n > budget {
			break
		}
		b.WriteRune(r)
		used += n
	}
	return b.String() + ellipsis
}

// fitPlain is for plain_text objects, which Slack shows literally.
func fitPlain(s string, limit int) string { return fitRaw(s, limit) }

// linkURL accepts absolute http(s) URLs and returns them with the
// characters mrkdwn reserves escaped.
func linkURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(s), true
}

func shortURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Host + u.EscapedPath()
}

// slackDate renders t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func slackDateLong(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}
