package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServer_fallbackServesNonAPIPages(t *testing.T) {
	s := newTestServer(t)
	s.SetFallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("web ui"))
	}))
	for _, tt := range []struct {
		method, path string
		status       int
		ui           bool
	}{
		{"GET", "/", 200, true},
		{"GET", "/sources", 200, true},
		{"HEAD", "/plugins", 200, true},
		{"GET", "/api/v1/nope", 404, false},
		{"GET", "/api", 404, false},
		{"POST", "/sources", 404, false},
		{"GET", "/healthz", 200, false},
	} {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
		if got := strings.Contains(rec.Body.String(), "web ui"); got != tt.ui && tt.method != "HEAD" {
			t.Errorf("%s %s: served by the fallback %v, want %v (%s)", tt.method, tt.path, got, tt.ui, rec.Body)
		}
		if !tt.ui && tt.status == 404 && !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
			t.Errorf("%s %s: want the JSON 404, got %s", tt.method, tt.path, rec.Body)
		}
	}
}

func TestServer_withoutFallbackEverythingUnknownIsJSON404(t *testing.T) {
	s := newTestServer(t)
	req := httptest.NewRequest("GET", "/sources", nil)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
