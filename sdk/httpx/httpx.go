// Package httpx is the HTTP client connectors use to talk to vendor REST
// APIs. It does what every connector needs and is easy to get wrong:
// honours 429/503 with Retry-After, backs off on 5xx and network errors,
// refreshes credentials once on 401, names the endpoint in every error, and
// returns the SDK's typed errors (sdk.AuthError, sdk.RetryableError, …) so
// the host reacts correctly. Secrets never appear in its errors: it reports
// the method and path, not the URL's query or the request headers.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// Authorizer adds credentials to a request.
type Authorizer interface {
	// Authorize sets the request's credentials, fetching them if needed.
	Authorize(ctx context.Context, req *http.Request) error
	// Invalidate drops cached credentials after a 401, so the next
	// Authorize fetches fresh ones.
	Invalidate()
}

// Client calls one vendor API.
type Client struct {
	// BaseURL is the API root, e.g. https://adb-123.azuredatabricks.net.
	BaseURL string
	// HTTP is the underlying client (default: 30 s timeout).
	HTTP *http.Client
	// Auth adds credentials; nil sends none.
	Auth Authorizer
	// MaxRetries bounds retries of retryable answers (default 4).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff used when the
	// server gives no Retry-After (defaults 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps a server's Retry-After: a longer wait is returned
	// to the caller as a RetryableError instead of blocking the call
	// (default 60 s).
	MaxRetryAfter time.Duration
	// ErrorMessage extracts the vendor's error message from an error body
	// (e.g. Databricks' {"error_code","message"}); the default reads
	// common shapes.
	ErrorMessage func(status int, body []byte) string
	// UserAgent is sent with every request.
	UserAgent string
	// Sleep waits between attempts; tests replace it to run instantly.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Request is one API call.
type Request struct {
	Method string
	// Path is appended to BaseURL ("/api/2.1/jobs/runs/list").
	Path  string
	Query url.Values
	// Body is sent as JSON when not nil ([]byte and url.Values are sent
	// as they are, the latter form-encoded).
	Body   any
	Header http.Header
}

// Do sends the request and decodes a 2xx JSON answer into out (when out is
// not nil). It retries what is worth retrying and returns typed SDK errors.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	resp, body, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	_ = resp
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return sdk.DownstreamError(nil, "malformed response from %s %s: %v", r.Method, r.Path, err)
	}
	return nil
}

// Get is Do for a GET.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: query}, out)
}

// Post is Do for a POST with a JSON body.
func (c *Client) Post(ctx context.Context, path string, body, out any) error {
	return c.Do(ctx, Request{Method: http.MethodPost, Path: path, Body: body}, out)
}

func (c *Client) defaults() (retries int, minB, maxB, maxRA time.Duration, hc *http.Client, sleep func(context.Context, time.Duration) error) {
	retries, minB, maxB, maxRA, hc, sleep = c.MaxRetries, c.MinBackoff, c.MaxBackoff, c.MaxRetryAfter, c.HTTP, c.Sleep
	if retries == 0 {
		retries = 4
	}
	if minB == 0 {
		minB = 500 * time.Millisecond
	}
	if maxB == 0 {
		maxB = 30 * time.Second
	}
	if maxRA == 0 {
		maxRA = 60 * time.Second
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if sleep == nil {
		sleep = SleepContext
	}
	return
}

// SleepContext waits d or until ctx is done.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) send(ctx context.Context, r Request) (*http.Response, []byte, error) {
	retries, minB, maxB, maxRA, hc, sleep := c.defaults()
	op := r.Method + " " + r.Path
	refreshed := false
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		req, err := c.build(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		if c.Auth != nil {
			if err := c.Auth.Authorize(ctx, req); err != nil {
				return nil, nil, err
			}
		}
		resp, err := hc.Do(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			lastErr = sdk.DownstreamError(nil, "%s: %s", op, transportMessage(err))
		default:
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
			if rerr != nil {
				lastErr = sdk.DownstreamError(nil, "%s: reading the answer failed: %v", op, rerr)
				break
			}
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return resp, body, nil
			}
			msg := c.message(resp.StatusCode, body)
			switch {
			case resp.StatusCode == http.StatusUnauthorized:
				if c.Auth != nil && !refreshed {
					refreshed = true
					c.Auth.Invalidate()
					attempt-- // a credential refresh is not a retry
					continue
				}
				return nil, nil, sdk.AuthError("%s: the server refused the credentials (401): %s; check the token or client secret", op, msg)
			case resp.StatusCode == http.StatusForbidden:
				return nil, nil, sdk.AuthError("%s: permission denied (403): %s; grant the identity read access", op, msg)
			case resp.StatusCode == http.StatusNotFound:
				return nil, nil, sdk.NotFoundError("%s: not found (404): %s", op, msg)
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable ||
				resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
				wait = RetryAfter(resp.Header, time.Now())
				e := sdk.RetryableError(wait, "%s: %d %s: %s", op, resp.StatusCode, http.StatusText(resp.StatusCode), msg)
				if wait > maxRA {
					return nil, nil, e
				}
				lastErr = e
			case resp.StatusCode >= 500:
				lastErr = sdk.DownstreamError(nil, "%s: server error %d: %s", op, resp.StatusCode, msg)
			default:
				return nil, nil, sdk.DownstreamError(nil, "%s: %d %s: %s", op, resp.StatusCode, http.StatusText(resp.StatusCode), msg)
			}
		}
		if attempt >= retries {
			return nil, nil, lastErr
		}
		if wait <= 0 {
			wait = backoff(attempt, minB, maxB)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, nil, err
		}
	}
}

func (c *Client) build(ctx context.Context, r Request) (*http.Request, error) {
	u := strings.TrimRight(c.BaseURL, "/") + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	var body io.Reader
	contentType := ""
	switch b := r.Body.(type) {
	case nil:
	case []byte:
		body, contentType = bytes.NewReader(b), "application/json"
	case url.Values:
		body, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", r.Method, r.Path, err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return nil, sdk.ConfigError("", "invalid request URL for %s %s: check the base URL", r.Method, r.Path)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	return req, nil
}

func (c *Client) message(status int, body []byte) string {
	if c.ErrorMessage != nil {
		if m := c.ErrorMessage(status, body); m != "" {
			return m
		}
	}
	return DefaultErrorMessage(body)
}

// DefaultErrorMessage reads the message of common JSON error shapes:
// {"message"}, {"error":{"message"}}, {"error":"..."}, {"detail"},
// {"title","detail"} (RFC 7807); otherwise the first 200 bytes of the body.
func DefaultErrorMessage(body []byte) string {
	var v struct {
		Message   string          `json:"message"`
		Error     json.RawMessage `json:"error"`
		Detail    json.RawMessage `json:"detail"`
		Title     string          `json:"title"`
		ErrorCode string          `json:"error_code"`
	}
	if json.Unmarshal(body, &v) == nil {
		var nested struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		var s string
		switch {
		case v.Message != "" && v.ErrorCode != "":
			return v.ErrorCode + ": " + v.Message
		case v.Message != "":
			return v.Message
		case json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			if nested.Code != "" {
				return nested.Code + ": " + nested.Message
			}
			return nested.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return s
		case json.Unmarshal(v.Detail, &s) == nil && s != "":
			if v.Title != "" {
				return v.Title + ": " + s
			}
			return s
		case len(v.Detail) > 0 && string(v.Detail) != "null":
			return string(v.Detail)
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date); zero
// when absent or unparsable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// backoff is exponential with full jitter, between min and max.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min << attempt
	if d > max || d <= 0 {
		d = max
	}
	return min/2 + time.Duration(rand.Int64N(int64(d)))
}

// transportMessage describes a network error without the URL (which may
// carry tokens in its query).
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "request failed: " + err.Error()
}
