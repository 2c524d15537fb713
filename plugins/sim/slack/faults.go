package slacksim

import (
	"embed"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The reference fixtures, copied verbatim from the project's API reference
// (apis/fixtures/slack/).
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

// Fixture returns the content of one reference fixture file, e.g.
// "block-kit-alert-example.json".
func Fixture(name string) ([]byte, error) { return fixtureFS.ReadFile("fixtures/" + name) }

// webhookStatus is the HTTP status of each webhook error code, from the
// reference table (fixture webhook-error-responses.json) plus the codes the
// reference lists without a verified status.
var webhookStatus = func() map[string]int {
	m := map[string]int{
		"user_not_found": 400, "no_service_id": 400, "no_team": 400, "team_disabled": 403,
		"too_many_attachments": 400, "missing_text_or_fallback_or_attachments": 400,
		"ratelimited": 429, "service_unavailable": 503,
	}
	data, err := Fixture("webhook-error-responses.json")
	if err != nil {
		panic("slacksim: embedded fixture missing: " + err.Error())
	}
	var rows []struct {
		Status int    `json:"http_status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal(data, &rows); err != nil {
		panic("slacksim: embedded fixture invalid: " + err.Error())
	}
	for _, r := range rows {
		if r.Body != "ok" {
			m[r.Body] = r.Status
		}
	}
	return m
}()

// Fault is one injected failure. It hits the requests of its Transport
// ("" both), after letting After of them through, Times times (default
// once) or, when Until is set, every request until the server's clock
// reaches Until.
type Fault struct {
	Transport Transport
	// Status is the HTTP status to answer. 0: the status Slack uses for
	// Error on the request's transport (a webhook's table; the Web API
	// answers 200 {"ok":false} except 429 for rate limiting).
	Status int
	// Error is Slack's error code ("channel_not_found", "invalid_payload",
	// "ratelimited"…). Empty: derived from Status (429 ratelimited or
	// rate_limited, 503 service_unavailable, other 5xx rollup_error /
	// internal_error).
	Error string
	// RetryAfter is sent as the Retry-After header (whole seconds, at
	// least 1) when positive.
	RetryAfter time.Duration
	// Hang holds the request without answering until the client gives up
	// (or Server.Close).
	Hang  bool
	After int
	Times int
	Until time.Time
}

// Inject adds a fault. Faults are independent; the first that matches a
// request answers it.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// FailNext makes the next n requests (both transports) answer status:
// 503, 429 or any 5xx, with Retry-After when retryAfter > 0.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.Inject(Fault{Status: status, RetryAfter: retryAfter, Times: n})
}

// RefuseNext makes the next n requests (both transports) answer Slack's
// error code as each transport does: e.g. "channel_not_found" is a webhook's
// 404 and chat.postMessage's 200 {"ok":false,"error":"channel_not_found"}.
func (s *Server) RefuseNext(n int, code string) {
	s.Inject(Fault{Error: code, Times: n})
}

// HangNext makes the next n requests hang until the client gives up.
func (s *Server) HangNext(n int) { s.Inject(Fault{Hang: true, Times: n}) }

// DownUntil makes every request answer status (503, 429…) until the
// server's clock reaches t: an outage in simulated time.
func (s *Server) DownUntil(t time.Time, status int, retryAfter time.Duration) {
	s.Inject(Fault{Status: status, RetryAfter: retryAfter, Until: t})
}

// takeFault returns the fault that answers the next request of transport t.
func (s *Server) takeFault(t Transport) (Fault, bool) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults[:0]
	var hit *Fault
	for _, f := range s.faults {
		switch {
		case !f.Until.IsZero() && !now.Before(f.Until):
			continue // expired
		case hit != nil || (f.Transport != "" && f.Transport != t):
		case f.After > 0:
			f.After--
		case !f.Until.IsZero():
			hit = f
		default:
			hit = f
			f.Times--
			if f.Times <= 0 {
				continue
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	if hit == nil {
		return Fault{}, false
	}
	return *hit, true
}

// answer is the status and error code the fault answers on transport t.
func (f Fault) answer(t Transport) (int, string) {
	code, status := f.Error, f.Status
	if code == "" {
		switch {
		case status == http.StatusTooManyRequests && t == Webhook:
			code = "rate_limited"
		case status == http.StatusTooManyRequests:
			code = "ratelimited"
		case status == http.StatusServiceUnavailable:
			code = "service_unavailable"
		case status >= 500 && t == Webhook:
			code = "rollup_error"
		case status >= 500:
			code = "internal_error"
		default:
			code = "invalid_request"
		}
	}
	if status == 0 {
		switch {
		case code == "ratelimited" || code == "rate_limited":
			status = http.StatusTooManyRequests
		case t == PostMessage:
			status = http.StatusOK
		default:
			status = webhookStatus[code]
			if status == 0 {
				status = http.StatusBadRequest
			}
		}
	}
	return status, code
}

func retryAfterValue(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}
