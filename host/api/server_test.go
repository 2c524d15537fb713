package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// headerAuth authenticates "Bearer <role>" as a member of profile p1 with
// that role: enough to exercise the middleware chain; the real JWT
// authenticator is tested in host/auth and end to end in host/app.
type headerAuth struct{}

func (headerAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	role, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || !identity.Role(role).Valid() {
		return identity.Principal{}, Errorf(http.StatusUnauthorized, CodeUnauthenticated, "authentication required")
	}
	return identity.Principal{UserID: "u1", ProfileID: "p1", Role: identity.Role(role)}, nil
}

func newTestServer(t *testing.T) *Server {
	s := New(Options{MaxBodyBytes: 1024}, hclog.NewNullLogger(), headerAuth{})
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	s.API().POST("/things", Require(identity.RoleEditor), func(c *gin.Context) {
		var b body
		if err := DecodeJSON(c, &b); err != nil {
			Fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, b)
	})
	s.API().GET("/things/:id", func(c *gin.Context) { Fail(c, store.ErrNotFound) })
	s.API().GET("/boom", func(c *gin.Context) { panic("kaboom") })
	s.API().GET("/opaque", func(c *gin.Context) { Fail(c, errors.New("database password is hunter2")) })
	s.API().GET("/whoami", func(c *gin.Context) {
		p, _ := identity.From(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"profile": p.ProfileID})
	})
	return s
}

type errBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Fields    []struct {
			Field string `json:"field"`
		} `json:"fields"`
	} `json:"error"`
}

func TestServer_errors(t *testing.T) {
	s := newTestServer(t)
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name, method, path, auth, body, contentType string
		status                                      int
		code, inMessage, field                      string
	}{
		{name: "no token", method: "GET", path: "/api/v1/whoami", status: 401, code: CodeUnauthenticated},
		{name: "viewer writes", method: "POST", path: "/api/v1/things", auth: "viewer", body: `{"name":"a"}`, status: 403, code: CodeForbidden, inMessage: "needs the editor role"},
		{name: "unknown route", method: "GET", path: "/api/v1/nope", auth: "viewer", status: 404, code: CodeNotFound, inMessage: "openapi.json"},
		{name: "wrong method", method: "DELETE", path: "/healthz", status: 405, code: CodeMethodNotAllowed},
		{name: "malformed JSON", method: "POST", path: "/api/v1/things", auth: "editor", body: `{"name":`, status: 400, code: CodeInvalid, inMessage: "malformed JSON"},
		{name: "unknown field", method: "POST", path: "/api/v1/things", auth: "editor", body: `{"nmae":"a"}`, status: 400, code: CodeInvalid, inMessage: `unknown field "nmae"`, field: "/nmae"},
		{name: "wrong type", method: "POST", path: "/api/v1/things", auth: "editor", body: `{"count":"three"}`, status: 400, code: CodeInvalid, inMessage: `field "count" must be an integer`, field: "/count"},
		{name: "trailing data", method: "POST", path: "/api/v1/things", auth: "editor", body: `{"name":"a"} {}`, status: 400, code: CodeInvalid, inMessage: "after the JSON value"},
		{name: "empty body", method: "POST", path: "/api/v1/things", auth: "editor", body: ``, status: 400, code: CodeInvalid, inMessage: "empty"},
		{name: "not JSON content type", method: "POST", path: "/api/v1/things", auth: "editor", body: `name=a`, contentType: "application/x-www-form-urlencoded", status: 415, code: CodeInvalid},
		{name: "too large", method: "POST", path: "/api/v1/things", auth: "editor", body: big, status: 413, code: CodeTooLarge, inMessage: "limit is 1024 bytes"},
		{name: "store not found", method: "GET", path: "/api/v1/things/42", auth: "viewer", status: 404, code: CodeNotFound},
		{name: "panic", method: "GET", path: "/api/v1/boom", auth: "viewer", status: 500, code: CodeInternal, inMessage: "request id"},
		{name: "internal error hides details", method: "GET", path: "/api/v1/opaque", auth: "viewer", status: 500, code: CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", "Bearer "+tt.auth)
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var eb errBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("error body is not JSON: %s", rec.Body)
			}
			if eb.Error.Code != tt.code || eb.Error.Message == "" || eb.Error.RequestID == "" {
				t.Fatalf("error = %+v, want code %s with a message and request id", eb.Error, tt.code)
			}
			if !strings.Contains(eb.Error.Message, tt.inMessage) {
				t.Fatalf("message %q does not contain %q", eb.Error.Message, tt.inMessage)
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "kaboom") {
				t.Fatalf("error leaks internals: %s", rec.Body)
			}
			if tt.field != "" && (len(eb.Error.Fields) == 0 || eb.Error.Fields[0].Field != tt.field) {
				t.Fatalf("fields = %+v, want %s", eb.Error.Fields, tt.field)
			}
			if rec.Header().Get("X-Request-ID") != eb.Error.RequestID {
				t.Fatalf("X-Request-ID header %q differs from the body's %q", rec.Header().Get("X-Request-ID"), eb.Error.RequestID)
			}
		})
	}
}

func TestServer_success(t *testing.T) {
	s := newTestServer(t)
	req := httptest.NewRequest("POST", "/api/v1/things", strings.NewReader(`{"name":"ETL_Vendas","count":3}`))
	req.Header.Set("Authorization", "Bearer admin")
	req.Header.Set("X-Request-ID", "trace-123")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), "ETL_Vendas") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-Request-ID") != "trace-123" {
		t.Fatalf("a sane incoming request id is kept, got %q", rec.Header().Get("X-Request-ID"))
	}
	// The principal reaches the handler's context (the store reads it there).
	req = httptest.NewRequest("GET", "/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer viewer")
	req.Header.Set("X-Request-ID", "bad id with spaces")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"profile":"p1"`) {
		t.Fatalf("principal not in context: %s", rec.Body)
	}
	if rec.Header().Get("X-Request-ID") == "bad id with spaces" {
		t.Fatal("an unsafe request id must be replaced")
	}
}

func TestServer_publicRoutesAreDeclared(t *testing.T) {
	s := New(Options{}, hclog.NewNullLogger(), headerAuth{})
	defer func() {
		if recover() == nil {
			t.Fatal("registering an undeclared public /api/v1 route must panic")
		}
	}()
	s.Public(http.MethodGet, "/sneaky", func(c *gin.Context) {})
}

func TestServer_readyz(t *testing.T) {
	s := New(Options{}, hclog.NewNullLogger(), headerAuth{})
	broken := false
	s.AddReadinessCheck(ReadinessCheck{Name: "database", Check: func(context.Context) error {
		if broken {
			return errors.New("connection refused")
		}
		return nil
	}})
	for _, tt := range []struct {
		broken bool
		status int
	}{{false, 200}, {true, 503}} {
		broken = tt.broken
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != tt.status {
			t.Fatalf("broken=%v: status %d: %s", tt.broken, rec.Code, rec.Body)
		}
		if tt.broken && !strings.Contains(rec.Body.String(), "connection refused") {
			t.Fatalf("readyz must name the failing check: %s", rec.Body)
		}
	}
}

func TestOpenAPI_fragmentsMerge(t *testing.T) {
	doc, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	if v.OpenAPI == "" || v.Paths["/api/v1/plugins"]["get"] == nil || v.Paths["/healthz"]["get"] == nil {
		t.Fatalf("merged document misses base or fragment content: %s", doc[:200])
	}
	ops, err := OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if strings.Contains(op, "{") {
			t.Fatalf("operation %q keeps an OpenAPI parameter; want gin style", op)
		}
	}
}

func TestServer_refusesNULAndInvalidUTF8Parameters(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/api/v1/things/%00", "/api/v1/things/%ff", "/api/v1/whoami?q=a%00b", "/api/v1/whoami?q=%c3%28"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer admin")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "NUL character or invalid UTF-8") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
