package web

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func app(t *testing.T) http.Handler {
	return NewHandler(fstest.MapFS{
		"index.html":                {Data: []byte("<!doctype html><title>PUOD</title>")},
		"favicon.svg":               {Data: []byte("<svg/>")},
		"assets/index-abc123.js":    {Data: []byte("console.log('app')")},
		"assets/index-abc123.js.gz": {Data: gz(t, "console.log('app')")},
		"assets/index-abc123.css":   {Data: []byte("body{}")},
	})
}

func get(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler_servesTheApp(t *testing.T) {
	h := app(t)
	for _, tt := range []struct {
		name, path  string
		status      int
		body, cache string
		contentType string
	}{
		{"root is index", "/", 200, "<title>PUOD</title>", noCache, "text/html"},
		{"client route falls back to index", "/sources", 200, "<title>PUOD</title>", noCache, "text/html"},
		{"nested client route", "/plugins/puod.databricks", 200, "<title>PUOD</title>", noCache, "text/html"},
		{"hashed asset is immutable", "/assets/index-abc123.css", 200, "body{}", immutable, "text/css"},
		{"unhashed file is revalidated", "/favicon.svg", 200, "<svg/>", noCache, "image/svg+xml"},
		{"missing asset is 404, not index", "/assets/gone-123.js", 404, "", "", ""},
		{"path traversal stays inside", "/../../etc/passwd", 200, "<title>PUOD</title>", noCache, "text/html"},
		{"missing file with a static extension is 404", "/robots.txt", 404, "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, "GET", tt.path)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				return
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body = %q, want it to contain %q", rec.Body, tt.body)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
		})
	}
}

func TestHandler_indexHasSecurityHeaders(t *testing.T) {
	rec := get(app(t), "GET", "/dashboards")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
}

func TestHandler_gzipTwinForClientsThatAcceptIt(t *testing.T) {
	h := app(t)
	rec := get(h, "GET", "/assets/index-abc123.js", "Accept-Encoding", "br, gzip")
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("Content-Type = %q: the type is the original file's", rec.Header().Get("Content-Type"))
	}
	rec = get(h, "GET", "/assets/index-abc123.js")
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != "console.log('app')" {
		t.Fatalf("without Accept-Encoding: encoding %q body %q", rec.Header().Get("Content-Encoding"), rec.Body)
	}
	rec = get(h, "GET", "/assets/index-abc123.js", "Accept-Encoding", "gzip;q=0")
	if rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 refuses gzip")
	}
}

func TestHandler_onlyGetAndHead(t *testing.T) {
	h := app(t)
	if rec := get(h, "HEAD", "/sources"); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := get(h, "POST", "/sources"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestHandler_notBuilt(t *testing.T) {
	h := NewHandler(fstest.MapFS{".gitkeep": {Data: nil}})
	for _, p := range []string{"/", "/sources", "/assets/x.js"} {
		rec := get(h, "GET", p)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "The web UI is not built: run make build") {
			t.Fatalf("%s: %d %q", p, rec.Code, rec.Body)
		}
	}
}

func TestHandler_embeddedBuildCompiles(t *testing.T) {
	// Whether or not the UI was built, the embedded handler answers.
	rec := get(Handler(), "GET", "/")
	if rec.Code != 200 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("GET / = %d", rec.Code)
	}
}
