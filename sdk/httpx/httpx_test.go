package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

// script answers each request with the next canned response.
type script []func(w http.ResponseWriter, r *http.Request)

func serve(t *testing.T, s script) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(s) {
			i = len(s) - 1
		}
		s[i](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, body string, hdr ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

type countingAuth struct {
	token       string
	invalidated int
}

func (a *countingAuth) Authorize(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}
func (a *countingAuth) Invalidate() { a.invalidated++; a.token = "fresh-token-value" }

func TestClient_Do(t *testing.T) {
	ok := status(200, `{"value": 42}`)
	tests := []struct {
		name      string
		script    script
		wantCalls int32
		wantKind  error // nil: success
		wantSleep []time.Duration
		wantInMsg string
	}{
		{name: "success", script: script{ok}, wantCalls: 1},
		{name: "429 with Retry-After then success", script: script{status(429, `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}`, "Retry-After", "7"), ok}, wantCalls: 2, wantSleep: []time.Duration{7 * time.Second}},
		{name: "503 until retries run out", script: script{status(503, `{}`)}, wantCalls: 5, wantKind: sdk.ErrRetryable},
		{name: "Retry-After longer than the cap is returned", script: script{status(429, `{}`, "Retry-After", "3600")}, wantCalls: 1, wantKind: sdk.ErrRetryable},
		{name: "401 refreshes once then succeeds", script: script{status(401, `{"message":"expired"}`), ok}, wantCalls: 2},
		{name: "401 twice is an auth error", script: script{status(401, `{"message":"bad token"}`)}, wantCalls: 2, wantKind: sdk.ErrAuth, wantInMsg: "bad token"},
		{name: "403 is an auth error", script: script{status(403, `{"error":{"code":"Forbidden","message":"no access"}}`)}, wantCalls: 1, wantKind: sdk.ErrAuth, wantInMsg: "Forbidden: no access"},
		{name: "404 is not found", script: script{status(404, `{"detail":"DAG not found"}`)}, wantCalls: 1, wantKind: sdk.ErrNotFound, wantInMsg: "DAG not found"},
		{name: "500 retried then success", script: script{status(500, `oops`), ok}, wantCalls: 2},
		{name: "400 is a downstream error naming the endpoint", script: script{status(400, `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad limit"}`)}, wantCalls: 1, wantKind: sdk.ErrDownstream, wantInMsg: "GET /things: 400 Bad Request: INVALID_PARAMETER_VALUE: bad limit"},
		{name: "malformed JSON", script: script{status(200, `{"value": `)}, wantCalls: 1, wantKind: sdk.ErrDownstream, wantInMsg: "malformed response from GET /things"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := serve(t, tt.script)
			var slept []time.Duration
			auth := &countingAuth{token: "super-secret-token"}
			c := &Client{BaseURL: srv.URL, Auth: auth, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			var out struct{ Value int }
			err := c.Get(context.Background(), "/things", nil, &out)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if tt.wantKind == nil {
				if err != nil || out.Value != 42 {
					t.Fatalf("want success with 42, got %v, %+v", err, out)
				}
			} else if !errors.Is(err, tt.wantKind) {
				t.Fatalf("err = %v, want kind %v", err, tt.wantKind)
			}
			if err != nil {
				if strings.Contains(err.Error(), "super-secret-token") || strings.Contains(err.Error(), "fresh-token-value") {
					t.Fatalf("error leaks the token: %v", err)
				}
				if !strings.Contains(err.Error(), tt.wantInMsg) {
					t.Fatalf("error %q does not contain %q", err, tt.wantInMsg)
				}
			}
			if tt.wantSleep != nil && (len(slept) != len(tt.wantSleep) || slept[0] != tt.wantSleep[0]) {
				t.Fatalf("slept %v, want %v", slept, tt.wantSleep)
			}
		})
	}
}

func TestClient_cancel(t *testing.T) {
	srv, _ := serve(t, script{status(503, `{}`)})
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{BaseURL: srv.URL, Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return SleepContext(ctx, d) }}
	if err := c.Get(ctx, "/x", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestCachedToken_refreshesBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fetches := 0
	ct := &CachedToken{Now: func() time.Time { return now }, Fetch: func(context.Context) (string, time.Duration, error) {
		fetches++
		return "t" + string(rune('0'+fetches)), 10 * time.Minute, nil
	}}
	for i := 0; i < 3; i++ {
		if tok, _ := ct.Token(context.Background()); tok != "t1" {
			t.Fatalf("token = %s", tok)
		}
	}
	now = now.Add(9*time.Minute + 30*time.Second) // inside the 60 s skew
	if tok, _ := ct.Token(context.Background()); tok != "t2" || fetches != 2 {
		t.Fatalf("want a refreshed token, got %s after %d fetches", tok, fetches)
	}
	ct.Invalidate()
	if tok, _ := ct.Token(context.Background()); tok != "t3" {
		t.Fatalf("want a new token after Invalidate, got %s", tok)
	}
}

func TestClientCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, basic := r.BasicAuth()
		if r.Form.Get("grant_type") != "client_credentials" {
			w.WriteHeader(400)
			return
		}
		if (basic && user == "id" && pass == "s3cret-value") || (r.Form.Get("client_id") == "id" && r.Form.Get("client_secret") == "s3cret-value") {
			_, _ = w.Write([]byte(`{"access_token":"abc","token_type":"Bearer","expires_in":"3599"}`))
			return
		}
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
	}))
	defer srv.Close()
	for _, inForm := range []bool{false, true} {
		tok, ttl, err := ClientCredentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "s3cret-value", InForm: inForm}.Fetcher()(context.Background())
		if err != nil || tok != "abc" || ttl != 3599*time.Second {
			t.Fatalf("inForm=%v: %q %v %v", inForm, tok, ttl, err)
		}
	}
	_, _, err := ClientCredentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "wrong-secret"}.Fetcher()(context.Background())
	if !errors.Is(err, sdk.ErrAuth) || strings.Contains(err.Error(), "wrong-secret") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("want auth error naming invalid_client without the secret, got %v", err)
	}
}
