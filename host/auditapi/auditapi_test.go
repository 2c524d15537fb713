package auditapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/auditapi"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

const principalHeader = "X-Test-Principal"

type fakeAuth struct {
	mu sync.Mutex
	m  map[string]identity.Principal
}

func (f *fakeAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[c.GetHeader(principalHeader)]
	if !ok {
		return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "no test principal")
	}
	return p, nil
}

type env struct {
	t    *testing.T
	db   *store.DB
	srv  *api.Server
	auth *fakeAuth
}

func newEnv(t *testing.T, db *store.DB) *env {
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: t.Output()})
	e := &env{t: t, db: db, auth: &fakeAuth{m: map[string]identity.Principal{}}}
	e.srv = api.New(api.Options{}, log, e.auth)
	auditapi.Register(e.srv, db, audit.New(db, log))
	return e
}

func (e *env) principal(profile string, role identity.Role) (string, context.Context) {
	ctx := storetest.Tenant(e.t, e.db, profile, role)
	p, _ := identity.From(ctx)
	key := profile + "/" + string(role)
	e.auth.mu.Lock()
	e.auth.m[key] = p
	e.auth.mu.Unlock()
	return key, ctx
}

type page struct {
	Entries    []auditapi.Entry `json:"entries"`
	NextCursor string           `json:"next_cursor"`
}

func (e *env) get(who, query string) (int, page, []byte) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/audit?"+query, nil)
	req.Header.Set(principalHeader, who)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	var p page
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			e.t.Fatal(err)
		}
	}
	return rec.Code, p, rec.Body.Bytes()
}

func actions(p page) string {
	var out []string
	for _, en := range p.Entries {
		out = append(out, en.Action+"@"+en.At.Format("15"))
	}
	return strings.Join(out, ",")
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seed appends entries by two users of acme and one of globex, one hour
// apart from base.
func seed(t *testing.T, db *store.DB, admin, editor, other context.Context) {
	t.Helper()
	for i, s := range []struct {
		ctx             context.Context
		action, outcome string
	}{
		{admin, "source.create", store.OutcomeSuccess},
		{admin, "source.update", store.OutcomeFailure},
		{editor, "dashboard.update", store.OutcomeSuccess},
		{editor, "source.update", store.OutcomeSuccess},
		{other, "source.create", store.OutcomeSuccess},
	} {
		if _, err := db.Audit().Append(s.ctx, store.AuditEntry{Action: s.action, Outcome: s.outcome, ObjectType: "source",
			At: base.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditAPI_filtersAndPagination(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		admin, adminCtx := e.principal("acme", identity.RoleAdmin)
		_, editorCtx := e.principal("acme", identity.RoleEditor)
		viewer, _ := e.principal("acme", identity.RoleViewer)
		other, otherCtx := e.principal("globex", identity.RoleAdmin)
		seed(t, db, adminCtx, editorCtx, otherCtx)
		editorP, _ := identity.From(editorCtx)

		reads := 0
		cases := []struct {
			query, want string
		}{
			{"action=source.update", "source.update@04,source.update@02"},
			{"user=acme-editor", "source.update@04,dashboard.update@03"},
			{"user=" + editorP.UserID, "source.update@04,dashboard.update@03"},
			{"outcome=failure", "source.update@02"},
			{"from=2026-01-01T02:00:00Z&to=2026-01-01T04:00:00Z", "dashboard.update@03,source.update@02"},
			{"from=2026-01-01T03:30:00%2B01:00&action=source.update&outcome=success", "source.update@04"},
			{"action=nothing", ""},
		}
		for _, tc := range cases {
			code, p, body := e.get(admin, tc.query)
			reads++
			if code != http.StatusOK || actions(p) != tc.want {
				t.Errorf("?%s = %d %q, want %q (%s)", tc.query, code, actions(p), tc.want, body)
			}
		}

		// Pages follow each other without overlap.
		code, p1, _ := e.get(admin, "action=source.update&limit=1")
		_, p2, _ := e.get(admin, "action=source.update&limit=1&cursor="+url.QueryEscape(p1.NextCursor))
		reads += 2
		if code != http.StatusOK || actions(p1) != "source.update@04" || p1.NextCursor == "" ||
			actions(p2) != "source.update@02" || p2.NextCursor != "" {
			t.Fatalf("pages = %q (next %q), %q (next %q)", actions(p1), p1.NextCursor, actions(p2), p2.NextCursor)
		}

		// Another profile sees only its own entries.
		_, po, _ := e.get(other, "action=source.create")
		if actions(po) != "source.create@05" || po.Entries[0].ProfileID == p1.Entries[0].ProfileID {
			t.Fatalf("globex sees %q", actions(po))
		}

		// Reading is itself audited, with the filters used.
		_, pr, _ := e.get(admin, "action=audit.read&limit=500")
		if len(pr.Entries) != reads {
			t.Fatalf("%d audit.read entries, want %d", len(pr.Entries), reads)
		}
		var d map[string]any
		_ = json.Unmarshal(pr.Entries[len(pr.Entries)-1].Details, &d)
		if d["action"] != "source.update" || pr.Entries[0].Username != "acme-admin" {
			t.Fatalf("first audit.read: details %v by %q", d, pr.Entries[0].Username)
		}

		// Only admins read the audit log.
		if code, _, _ := e.get(viewer, ""); code != http.StatusForbidden {
			t.Fatalf("viewer = %d, want 403", code)
		}
	})
}

func TestAuditAPI_invalidQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	admin, _ := e.principal("acme", identity.RoleAdmin)
	cases := []struct {
		query, field, msgHas string
	}{
		{"from=yesterday", "from", "RFC 3339"},
		{"to=2026-01-01", "to", "RFC 3339"},
		{"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to", "after from"},
		{"outcome=maybe", "outcome", "success, failure or denied"},
		{"limit=0", "limit", "1 to 500"},
		{"actor=me", "actor", "unknown query parameter"},
		{"action=a&action=b", "action", "once"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			code, _, body := e.get(admin, tc.query)
			var out struct {
				Error api.Error `json:"error"`
			}
			_ = json.Unmarshal(body, &out)
			if code != http.StatusBadRequest || len(out.Error.Fields) == 0 || out.Error.Fields[0].Field != tc.field ||
				!strings.Contains(out.Error.Fields[0].Message, tc.msgHas) {
				t.Fatalf("?%s = %d %s; want 400 naming %s with %q", tc.query, code, body, tc.field, tc.msgHas)
			}
		})
	}
	if code, _, body := e.get(admin, "cursor=garbage"); code != http.StatusBadRequest {
		t.Fatalf("bad cursor = %d %s", code, body)
	}
}

func TestVerify_reportsIntactAndBroken(t *testing.T) {
	t.Parallel()
	forEachRawDialect(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		t.Parallel()
		e := newEnv(t, db)
		_, admin := e.principal("acme", identity.RoleAdmin)
		_, editor := e.principal("acme", identity.RoleEditor)
		_, other := e.principal("globex", identity.RoleAdmin)
		seed(t, db, admin, editor, other)

		report, err := auditapi.Verify(t.Context(), db)
		if err != nil || report != "audit log intact: 5 entries" {
			t.Fatalf("Verify = %q, %v", report, err)
		}
		// An attacker with database access edits entry 3.
		if _, err := raw.ExecContext(t.Context(), "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 3"); err != nil {
			t.Fatal(err)
		}
		report, err = auditapi.Verify(t.Context(), db)
		var broken *auditapi.BrokenError
		if !errors.As(err, &broken) || !errors.Is(err, store.ErrAuditBroken) || report != "" {
			t.Fatalf("Verify after tampering = %q, %v", report, err)
		}
		if broken.Entry != 3 || !strings.HasPrefix(err.Error(), "audit log broken at entry 3: ") {
			t.Fatalf("error = %q", err)
		}
	})
}

// forEachRawDialect runs fn on a fresh migrated store of each dialect plus
// a raw connection to the same database, for tampering.
func forEachRawDialect(t *testing.T, fn func(t *testing.T, db *store.DB, raw *sql.DB)) {
	open := func(t *testing.T, cfg store.Config, driver, dsn string) (*store.DB, *sql.DB) {
		db, err := store.Open(t.Context(), cfg, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = raw.Close() })
		return db, raw
	}
	t.Run(store.DialectSQLite, func(t *testing.T) {
		dir := t.TempDir()
		db, raw := open(t, store.Config{DataDir: dir}, "sqlite", filepath.Join(dir, "puod.db"))
		fn(t, db, raw)
	})
	t.Run(store.DialectPostgres, func(t *testing.T) {
		// A fresh database; skipped, or failed under CI=true, when
		// PostgreSQL is unreachable.
		dbURL := storetest.NewPostgresDatabase(t)
		db, raw := open(t, store.Config{URL: dbURL}, "pgx", dbURL)
		fn(t, db, raw)
	})
}

func TestAuditAPI_routeIsDocumented(t *testing.T) {
	t.Parallel()
	ops, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, storetest.OpenSQLite(t))
	found := false
	for _, r := range e.srv.Routes() {
		if r == "GET /api/v1/audit" {
			found = true
		}
	}
	documented := false
	for _, op := range ops {
		if op == "GET /api/v1/audit" {
			documented = true
		}
	}
	if !found || !documented {
		t.Fatalf("GET /api/v1/audit registered %v, documented %v", found, documented)
	}
}
