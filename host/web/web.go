// Package web serves the web UI: the React app built from dashboards/web
// (scripts/build-web.sh copies its dist/ here) and embedded into the puod
// binary, so one file is the whole product.
package web

import (
	"bytes"
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// dist holds the built app. Only dist/.gitkeep is committed, so a clean
// clone compiles before the web build has run; Handler then answers with a
// page that says how to build the UI.
//
//go:embed all:dist
var dist embed.FS

// Handler serves the embedded app.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("web: embedded dist is missing: " + err.Error()) // cannot happen: dist is embedded
	}
	return NewHandler(sub)
}

// NewHandler serves the single-page app in files:
//   - a file that exists is served as is; files under assets/ have content
//     hashes in their names (vite), so they are cached for a year,
//     immutable;
//   - any other path without a file extension is a client route
//     (/sources, /plugins/x) and gets index.html, never cached, so a new
//     release is picked up on the next load;
//   - a missing asset (a stale /assets/x.js after a release) is a 404, not
//     index.html: a browser would otherwise try to run HTML as a script;
//   - a pre-compressed twin (name.gz, written by the build) is sent to
//     clients that accept gzip.
//
// When files has no index.html the UI was not built, and every page says
// so.
func NewHandler(files fs.FS) http.Handler {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return http.HandlerFunc(notBuilt)
	}
	return &handler{files: files, index: index}
}

type handler struct {
	files fs.FS
	index []byte
}

const (
	immutable = "public, max-age=31536000, immutable"
	noCache   = "no-cache"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || name == "index.html" {
		h.serveIndex(w, r)
		return
	}
	if st, err := fs.Stat(h.files, name); err == nil && !st.IsDir() {
		h.serveFile(w, r, name, st)
		return
	}
	if strings.HasPrefix(name, "assets/") || staticExt[strings.ToLower(path.Ext(name))] {
		http.NotFound(w, r)
		return
	}
	h.serveIndex(w, r)
}

// staticExt are the extensions of files the app loads; a missing one is a
// 404. Other paths are client routes, which may contain dots
// (/plugins/puod.databricks).
var staticExt = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".map": true, ".json": true, ".txt": true,
	".svg": true, ".png": true, ".jpg": true, ".ico": true, ".webp": true, ".woff": true, ".woff2": true,
	".webmanifest": true, ".html": true,
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", noCache)
	securityHeaders(hd)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string, st fs.FileInfo) {
	hd := w.Header()
	if strings.HasPrefix(name, "assets/") {
		hd.Set("Cache-Control", immutable)
	} else {
		hd.Set("Cache-Control", noCache)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd.Set("Content-Type", ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) && r.Header.Get("Range") == "" {
		if gz, err := fs.ReadFile(h.files, name+".gz"); err == nil {
			hd.Set("Content-Encoding", "gzip")
			hd.Set("Content-Length", strconv.Itoa(len(gz)))
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				_, _ = w.Write(gz)
			}
			return
		}
	}
	f, err := h.files.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, name, st.ModTime(), rs)
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, "read "+name, http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, name, st.ModTime(), bytes.NewReader(b))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// securityHeaders keeps the app's page from being framed or from loading
// code from elsewhere; it only ever talks to its own origin.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PUOD</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5">
<h1>PUOD</h1>
<p>The web UI is not built: run make build</p>
<p>The API is served at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body></html>
`

func notBuilt(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, notBuiltPage)
	}
}
