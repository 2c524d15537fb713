package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/puod/puod/sdk"
)

// Limits that keep a message readable and well under any server's size
// limit, whatever the notification holds.
const (
	maxSubjectTitle = 200  // runes of the title in the subject
	maxText         = 4000 // runes of a summary or annotation
	maxValue        = 500  // runes of a fact (pipeline, run, value…)
	maxAlerts       = 100  // alerts listed in one group message
	maxLinks        = 10   // links per alert
	maxURL          = 2000 // bytes of a link; longer ones are left out
	maxLabels       = 50   // labels listed per alert
	ellipsis        = "…"
	timeLayout      = "2006-01-02 15:04:05 MST"
	maxHeaderValue  = 200 // runes of an X-PUOD-* header value
	maxMessageIDID  = 100 // notification id bytes kept readable in Message-ID
	boundaryHashLen = 32
)

// view is the one data structure both bodies are rendered from: the HTML
// and the plain-text templates read the same fields, so the two versions
// cannot say different things.
type view struct {
	Subject  string
	Status   string // FIRING or RESOLVED
	Resolved bool
	Severity string
	Color    string
	Headline string
	Summary  string
	// Group is true for a group notification; Alerts then lists each alert
	// with its own title and summary. A single alert has one element in
	// Alerts, whose title and summary are the headline's.
	Group  bool
	Counts string // "3 firing, 1 resolved"
	Rule   string
	Labels []pair // the alert's labels, or those the group's alerts share
	Alerts []alertView
	More   int // alerts left out of a long group
	ID     string
}

type alertView struct {
	Status      string
	Resolved    bool
	Severity    string
	Color       string
	Title       string
	Summary     string
	Facts       []pair
	Annotations []pair
	Links       []link
	Labels      []pair
}

type pair struct {
	Key, Value string
	URL        string // set when Value is a link
}

type link struct {
	Title, URL string
	PUOD       bool // the link to the run in PUOD (shown first, as the main button)
}

var severityColors = map[string]string{
	"critical": "#E01E5A",
	"error":    "#E8912D",
	"high":     "#E8912D",
	"warning":  "#ECB22E",
	"medium":   "#ECB22E",
	"info":     "#36C5F0",
	"low":      "#36C5F0",
}

const (
	resolvedColor = "#2EB67D"
	unknownColor  = "#9E9EA6"
)

func colorOf(status sdk.NotificationStatus, severity string) string {
	if status == sdk.NotificationResolved {
		return resolvedColor
	}
	if c, ok := severityColors[strings.ToLower(strings.TrimSpace(severity))]; ok {
		return c
	}
	return unknownColor
}

func statusWord(s sdk.NotificationStatus) string {
	if s == sdk.NotificationResolved {
		return "RESOLVED"
	}
	return "FIRING"
}

// buildView turns a notification (single or group) into the view.
func buildView(n sdk.Notification, subjectPrefix string) view {
	v := view{
		Status:   statusWord(n.Status),
		Resolved: n.Status == sdk.NotificationResolved,
		Severity: clean(n.Severity, 40),
		Color:    colorOf(n.Status, n.Severity),
		Rule:     clean(n.RuleName, maxValue),
		ID:       clean(n.ID, maxValue),
		Group:    len(n.Alerts) > 0,
	}
	if v.Group {
		alerts := n.Alerts
		firing := 0
		for _, a := range alerts {
			if a.Status != sdk.NotificationResolved {
				firing++
			}
		}
		v.Counts = counts(firing, len(alerts)-firing)
		if len(alerts) > maxAlerts {
			v.More = len(alerts) - maxAlerts
			alerts = alerts[:maxAlerts]
		}
		for _, a := range alerts {
			if a.RuleName == "" {
				a.RuleName = n.RuleName
			}
			av := buildAlert(a, true)
			// What the group already says is not repeated per alert.
			if a.RuleName == n.RuleName {
				av.Facts = slices.DeleteFunc(av.Facts, func(p pair) bool { return p.Key == "Rule" })
			}
			av.Labels = slices.DeleteFunc(av.Labels, func(p pair) bool {
				v, ok := n.Labels[p.Key]
				return ok && clean(v, maxValue) == p.Value
			})
			v.Alerts = append(v.Alerts, av)
		}
		v.Headline = titleOf(n)
		if v.Headline == "" {
			v.Headline = v.Counts
			if v.Rule != "" {
				v.Headline += " · " + v.Rule
			}
		}
		v.Summary = clean(n.Summary, maxText)
		v.Labels = labelPairs(n.Labels)
	} else {
		av := buildAlert(n, false)
		v.Headline = av.Title
		v.Summary = av.Summary
		v.Labels = av.Labels
		av.Labels = nil
		v.Alerts = []alertView{av}
	}
	v.Subject = subject(subjectPrefix, v.Status, v.Severity, v.Headline)
	return v
}

func counts(firing, resolved int) string {
	switch {
	case resolved == 0:
		return fmt.Sprintf("%d firing", firing)
	case firing == 0:
		return fmt.Sprintf("%d resolved", resolved)
	}
	return fmt.Sprintf("%d firing, %d resolved", firing, resolved)
}

// subject is "[prefix] [FIRING] critical · title".
func subject(prefix, status, severity, title string) string {
	var b strings.Builder
	if p := clean(prefix, 100); p != "" {
		b.WriteString(p + " ")
	}
	b.WriteString("[" + status + "] ")
	if severity != "" {
		b.WriteString(severity + " · ")
	}
	if title == "" {
		title = "PUOD alert"
	}
	b.WriteString(truncate(title, maxSubjectTitle))
	return b.String()
}

// titleOf is the notification's title, without a "Resolved:" the status
// already says, or its rule's name.
func titleOf(n sdk.Notification) string {
	t := clean(n.Title, maxText)
	if n.Status == sdk.NotificationResolved {
		t = trimResolvedPrefix(t)
	}
	if t == "" {
		t = clean(n.RuleName, maxValue)
	}
	return t
}

func buildAlert(n sdk.Notification, inGroup bool) alertView {
	a := alertView{
		Status:   statusWord(n.Status),
		Resolved: n.Status == sdk.NotificationResolved,
		Severity: clean(n.Severity, 40),
		Color:    colorOf(n.Status, n.Severity),
		Title:    titleOf(n),
	}
	if a.Title == "" {
		a.Title = "PUOD alert"
	}
	a.Summary = clean(n.Summary, maxText)
	if a.Summary == "" {
		a.Summary = clean(n.Annotations["summary"], maxText)
	}
	if a.Summary == "" && !inGroup {
		a.Summary = defaultSummary(n)
	}
	add := func(key, value string) {
		if value = clean(value, maxValue); value != "" {
			a.Facts = append(a.Facts, pair{Key: key, Value: value})
		}
	}
	if !inGroup {
		// In a group, each alert's heading says its status and severity.
		add("Severity", n.Severity)
	}
	add("Rule", n.RuleName)
	add("Pipeline", n.PipelineName)
	add("Run", n.RunExternalID)
	switch {
	case n.Value != "" && n.Threshold != "":
		add("Value", clean(n.Value, maxValue)+" (threshold "+clean(n.Threshold, maxValue)+")")
	case n.Value != "":
		add("Value", n.Value)
	case n.Threshold != "":
		add("Threshold", n.Threshold)
	}
	if !n.StartsAt.IsZero() {
		add("Started", n.StartsAt.UTC().Format(timeLayout))
	}
	if !n.EndsAt.IsZero() {
		add("Ended", n.EndsAt.UTC().Format(timeLayout))
		if !n.StartsAt.IsZero() && n.EndsAt.After(n.StartsAt) {
			add("Lasted", n.EndsAt.Sub(n.StartsAt).Round(time.Second).String())
		}
	}
	a.Annotations = annotationPairs(n.Annotations)
	a.Links = links(n.Links)
	a.Labels = labelPairs(n.Labels)
	return a
}

// trimResolvedPrefix drops a "Resolved:" the host already put in the title.
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
	what := clean(n.RuleName, maxValue)
	if what == "" {
		what = "The alert"
	}
	pipeline := clean(n.PipelineName, maxValue)
	switch {
	case n.Status == sdk.NotificationResolved && pipeline != "":
		return fmt.Sprintf("%s is back to normal for %s.", what, pipeline)
	case n.Status == sdk.NotificationResolved:
		return fmt.Sprintf("%s is back to normal.", what)
	case pipeline != "":
		return fmt.Sprintf("%s fired for %s.", what, pipeline)
	}
	return fmt.Sprintf("%s fired.", what)
}

// annotationPairs lists the annotations but the summary (it leads the
// alert), sorted by key; a URL value becomes a link.
func annotationPairs(ann map[string]string) []pair {
	var out []pair
	for _, k := range sortedKeys(ann) {
		v := clean(ann[k], maxText)
		if k == "summary" || v == "" {
			continue
		}
		p := pair{Key: clean(k, 100), Value: v}
		if u, ok := webURL(ann[k]); ok {
			p.URL = u
		}
		out = append(out, p)
	}
	return out
}

func labelPairs(labels map[string]string) []pair {
	var out []pair
	for _, k := range sortedKeys(labels) {
		if len(out) == maxLabels {
			break
		}
		out = append(out, pair{Key: clean(k, 100), Value: clean(labels[k], maxValue)})
	}
	return out
}

// links keeps the http(s) links; the one to PUOD comes first. A link
// longer than maxURL is left out rather than cut into a broken one.
func links(ls []sdk.Link) []link {
	var out []link
	for _, l := range ls {
		u, ok := webURL(l.URL)
		if !ok {
			continue
		}
		title := clean(l.Title, 100)
		isPUOD := strings.Contains(strings.ToLower(title), "puod")
		if title == "" {
			title = "Open link"
		}
		out = append(out, link{Title: title, URL: u, PUOD: isPUOD})
	}
	slices.SortStableFunc(out, func(a, b link) int {
		switch {
		case a.PUOD && !b.PUOD:
			return -1
		case b.PUOD && !a.PUOD:
			return 1
		}
		return 0
	})
	if len(out) > maxLinks {
		out = out[:maxLinks]
	}
	return out
}

func webURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > maxURL || strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return u.String(), true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// clean trims, drops control characters other than line breaks and tabs
// (and invalid UTF-8), and cuts to max runes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r == '\r' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
	return truncate(s, max)
}

func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + ellipsis
}

// oneLine folds line breaks and tabs into spaces, for headers and headlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

//go:embed templates/alert.txt
var textSource string

//go:embed templates/alert.html
var htmlSource string

var funcs = map[string]any{
	"oneline": oneLine,
	"pad": func(s string, n int) string {
		if d := n - utf8.RuneCountInString(s); d > 0 {
			return s + strings.Repeat(" ", d)
		}
		return s + " "
	},
	"add1": func(i int) int { return i + 1 },
	"indent": func(prefix, s string) string {
		return strings.ReplaceAll(s, "\n", "\n"+prefix)
	},
	// nest passes an alert and the indentation of its lines to a template.
	"nest": func(a alertView, indent string) nested { return nested{A: a, In: indent} },
}

type nested struct {
	A  alertView
	In string
}

var (
	textTemplate = texttemplate.Must(texttemplate.New("alert.txt").Funcs(funcs).Parse(textSource))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("alert.html").Funcs(funcs).Parse(htmlSource))
)

// render renders both bodies from the same view.
func render(v view) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := textTemplate.Execute(&tb, v); err != nil {
		return "", "", fmt.Errorf("render the text body: %w", err)
	}
	if err := htmlTemplate.Execute(&hb, v); err != nil {
		return "", "", fmt.Errorf("render the HTML body: %w", err)
	}
	return tb.String(), hb.String(), nil
}

// email is a message ready for DATA, with what the envelope needs.
type email struct {
	Subject   string
	MessageID string
	Bytes     []byte
}

// buildEmail renders the notification into a complete RFC 5322 message:
// multipart/alternative with the plain text first and the HTML last (the
// preferred version last, RFC 2046), both quoted-printable so no line is
// longer than 76 characters whatever the content.
func buildEmail(n sdk.Notification, cfg Config, now time.Time) (email, error) {
	v := buildView(n, cfg.SubjectPrefix)
	text, html, err := render(v)
	if err != nil {
		return email{}, err
	}
	from := cfg.sender()
	domain := domainOf(from.Address)
	msgID := messageID(n.ID, domain)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	// The boundary is derived from the content, so a retry sends the very
	// same bytes, and no text can contain it by accident.
	sum := sha256.Sum256([]byte(n.ID + "\x00" + text + "\x00" + html))
	if err := mw.SetBoundary("puod-" + hex.EncodeToString(sum[:])[:boundaryHashLen]); err != nil {
		return email{}, err
	}
	for _, part := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", text},
		{"text/html; charset=utf-8", html},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return email{}, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return email{}, err
		}
		if err := qp.Close(); err != nil {
			return email{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return email{}, err
	}

	var h headerWriter
	h.add("From", from.String())
	tos := cfg.recipients()
	list := make([]string, len(tos))
	for i, a := range tos {
		list[i] = a.String()
	}
	// One recipient per line keeps every header line short.
	h.add("To", strings.Join(list, ",\r\n "))
	h.add("Subject", encodeHeader(v.Subject))
	h.add("Date", now.Format(time.RFC1123Z))
	h.add("Message-ID", msgID)
	if ref := threadID(n, domain); ref != "" {
		// Firing and resolved messages of one alert (one group) name the
		// same thread, so mail clients show them together.
		h.add("References", ref)
	}
	h.add("MIME-Version", "1.0")
	h.add("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	// An alert is machine-made: no out-of-office or vacation replies
	// (RFC 3834; Exchange reads the X- header).
	h.add("Auto-Submitted", "auto-generated")
	h.add("X-Auto-Response-Suppress", "All")
	h.add("X-Mailer", "puod-email/"+version)
	h.add("X-PUOD-Notification-ID", encodeHeader(truncate(oneLine(clean(n.ID, maxHeaderValue)), maxHeaderValue)))
	h.add("X-PUOD-Status", strings.ToLower(v.Status))
	if v.Severity != "" {
		h.add("X-PUOD-Severity", encodeHeader(oneLine(v.Severity)))
	}
	h.b.WriteString("\r\n")
	h.b.Write(body.Bytes())
	return email{Subject: v.Subject, MessageID: msgID, Bytes: h.b.Bytes()}, nil
}

type headerWriter struct{ b bytes.Buffer }

func (h *headerWriter) add(name, value string) {
	h.b.WriteString(name + ": " + value + "\r\n")
}

// encodeHeader encodes a header text as RFC 2047 encoded words when it is
// not plain ASCII, one word per line: a long non-ASCII subject stays well
// under the 998-character line limit.
func encodeHeader(s string) string {
	s = oneLine(s)
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s
	}
	return strings.ReplaceAll(enc, "?= =?utf-8?q?", "?=\r\n =?utf-8?q?")
}

var dotAtom = regexp.MustCompile(`^[A-Za-z0-9_+=-]+(\.[A-Za-z0-9_+=-]+)*$`)

// messageID derives the Message-ID from the notification id alone (and
// the sender's domain), so every send of a notification carries the same
// one: a retried message is recognisably the same message, and receivers
// that de-duplicate on Message-ID drop the copy. An id that is not a valid
// dot-atom is hashed.
func messageID(id, domain string) string {
	left := "puod." + id
	if !dotAtom.MatchString(id) || len(id) > maxMessageIDID {
		sum := sha256.Sum256([]byte(id))
		left = "puod.sha256-" + hex.EncodeToString(sum[:20])
	}
	return "<" + left + "@" + domain + ">"
}

// threadID names the thread of an alert's messages: its group key, or its
// rule and pipeline.
func threadID(n sdk.Notification, domain string) string {
	key := n.GroupKey
	if key == "" && n.RuleID != "" {
		key = n.RuleID + "/" + n.PipelineName
	}
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return "<puod.thread-" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

func domainOf(addr string) string {
	d := addr[strings.LastIndex(addr, "@")+1:]
	if d == "" || !validHostName(strings.Trim(d, "[]")) {
		return "puod.invalid"
	}
	return d
}
