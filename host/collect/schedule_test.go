package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// scripted is a connector whose ListRuns answers come from a script: each
// call takes the next error (nil: serve one batch of new runs).
type scripted struct {
	mu     sync.Mutex
	errs   []error
	calls  []time.Time
	cursor []string
	next   int
}

func (s *scripted) ListRuns(_ context.Context, _, _, cursor string, _ int, fn func(*pb.RunBatch) error) error {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	s.cursor = append(s.cursor, cursor)
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	s.next++
	n := s.next
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return fn(&pb.RunBatch{NextCursor: strconv.Itoa(n), Runs: []*pb.Run{{
		ExternalId: "run-" + strconv.Itoa(n), PipelineExternalId: "p", State: pb.RunState_RUN_STATE_SUCCEEDED,
		StartedAt: timestamppb.New(time.Now().Add(-time.Minute)), EndedAt: timestamppb.Now(),
	}}})
}

func (s *scripted) ListPipelines(context.Context, string, string) ([]sdk.Pipeline, error) {
	return nil, sdk.ErrUnimplemented
}

func (s *scripted) HandleWebhook(context.Context, string, string, sdk.Webhook) ([]sdk.Run, error) {
	return nil, sdk.ErrUnimplemented
}

func (s *scripted) snapshot() ([]time.Time, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...), append([]string(nil), s.cursor...)
}

// TestCollector_backoffHonoursRetryAfter: after a retryable error the next
// poll waits at least the plugin's RetryAfter; after a success the source
// is healthy again and polled from the stored cursor.
func TestCollector_backoffHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	conn := &scripted{errs: []error{nil, sdk.RetryableError(700*time.Millisecond, "rate limited"), sdk.DownstreamError(nil, "HTTP 502")}}
	cfg := fastConfig
	e := newEnv(t, db, envOptions{cfg: cfg, conns: conn})
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true, PollIntervalSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.run()
	waitFor(t, 20*time.Second, "4 polls", func() bool { calls, _ := conn.snapshot(); return len(calls) >= 4 })
	calls, cursors := conn.snapshot()
	// Poll 1 succeeds; 2 is rate limited for 700 ms; 3 fails (backoff
	// 100 ms ±20%); 4 succeeds.
	if gap := calls[2].Sub(calls[1]); gap < 700*time.Millisecond {
		t.Fatalf("retried %s after a RetryAfter of 700ms", gap)
	}
	if gap := calls[3].Sub(calls[2]); gap > 700*time.Millisecond {
		t.Fatalf("second failure retried after %s, want about BackoffInitial*2", gap)
	}
	if gap := calls[1].Sub(calls[0]); gap < 800*time.Millisecond {
		t.Fatalf("polled again %s after a success, want the 1s interval (±10%%)", gap)
	}
	if cursors[0] != "" || cursors[1] != "1" || cursors[3] != "1" {
		t.Fatalf("cursors asked %v: failed polls must not move the cursor", cursors)
	}
	waitFor(t, 5*time.Second, "ok health", func() bool {
		s, _ := db.Sources().Get(ctx, src.ID)
		return s.Health.Status == store.HealthOK && s.Health.LastErrorAt != nil && s.Health.LastError != ""
	})
}

// TestCollector_errorHealth: a failing poll is recorded as the source's
// health with the plugin's message.
func TestCollector_errorHealth(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	conn := &scripted{errs: []error{sdk.AuthError("token revoked"), sdk.AuthError("token revoked"), sdk.AuthError("token revoked")}}
	e := newEnv(t, db, envOptions{cfg: fastConfig, conns: conn})
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true, PollIntervalSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	e.run()
	waitFor(t, 10*time.Second, "error health", func() bool {
		s, _ := db.Sources().Get(ctx, src.ID)
		return s.Health.Status == store.HealthError && s.Health.LastErrorAt != nil
	})
	s, _ := db.Sources().Get(ctx, src.ID)
	if s.Health.LastSuccessAt != nil || !strings.Contains(s.Health.LastError, "token revoked") {
		t.Fatalf("health = %+v", s.Health)
	}
}

// TestSyncNow_routes: roles, profiles and sources that cannot be polled.
func TestSyncNow_routes(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	conn := &scripted{}
	e := newEnv(t, db, envOptions{cfg: fastConfig, conns: conn})
	ctx, editor := e.member("acme", identity.RoleEditor)
	_, viewer := e.member("acme", identity.RoleViewer)
	_, otherEditor := e.member("other", identity.RoleEditor)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true, PollIntervalSeconds: 0})
	if err != nil {
		t.Fatal(err)
	}
	off, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "off", Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
	if err != nil {
		t.Fatal(err)
	}
	path := func(id string) string { return "/api/v1/sources/" + id + "/sync" }
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"viewer", path(src.ID), viewer, http.StatusForbidden},
		{"other profile", path(src.ID), otherEditor, http.StatusNotFound},
		{"unknown", path("nope"), editor, http.StatusNotFound},
		{"disabled", path(off.ID), editor, http.StatusConflict},
		{"built-in", path(builtin.ID), editor, http.StatusConflict},
	} {
		if r := e.do(http.MethodPost, c.path, c.token, nil); r.status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.want)
		}
	}
	// The optional body is decoded strictly; a refused request polls nothing.
	for _, c := range []struct {
		name, query string
		body        string
		hdr         []string
		want        int
		msg         string
	}{
		{"malformed", "", `{"x":`, nil, http.StatusBadRequest, "malformed JSON"},
		{"unknown field", "", `{"full":true}`, nil, http.StatusBadRequest, `"full"`},
		{"trailing data", "", `{} {}`, nil, http.StatusBadRequest, "after the JSON value"},
		{"an array", "", `[]`, nil, http.StatusBadRequest, "object"},
		{"text/plain", "", `{}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "application/json"},
		{"wait not a boolean", "?wait=yes-please", ``, nil, http.StatusBadRequest, "wait"},
	} {
		r := e.do(http.MethodPost, path(src.ID)+c.query, editor, c.body, c.hdr...)
		var ae apiError
		if r.status == c.want {
			r.decode(t, &ae)
		}
		if r.status != c.want || !strings.Contains(ae.Error.Message, c.msg) {
			t.Errorf("sync with %s: %d %s, want %d naming %q", c.name, r.status, r.body, c.want, c.msg)
		}
	}
	if n, _ := db.Runs().Count(ctx, src.ID); n != 0 {
		t.Fatalf("refused syncs polled: %d runs", n)
	}
	// An empty object passes the body check (and meets the next one).
	if r := e.do(http.MethodPost, path(off.ID), editor, `{}`); r.status != http.StatusConflict {
		t.Fatalf("sync with {} of a disabled source: %d %s, want 409", r.status, r.body)
	}
	// A webhooks-only source (interval 0) can still be synced by hand.
	r := e.do(http.MethodPost, path(src.ID)+"?wait=true", editor, nil)
	if r.status != http.StatusOK {
		t.Fatalf("sync now: %d %s", r.status, r.body)
	}
	var res collect.SyncResult
	r.decode(t, &res)
	if res.Runs != 1 || res.Changed != 1 || res.Cursor != "1" || res.Batches != 1 {
		t.Fatalf("sync result %+v", res)
	}
	if r := e.do(http.MethodPost, path(src.ID), editor, nil); r.status != http.StatusAccepted {
		t.Fatalf("sync without wait: %d %s, want 202", r.status, r.body)
	}
	waitFor(t, 5*time.Second, "the background sync", func() bool { n, _ := db.Runs().Count(ctx, src.ID); return n == 2 })

	// Plugin down: 503.
	e2 := newEnv(t, db, envOptions{})
	ctx2, editor2 := e2.member("third", identity.RoleEditor)
	s2, _ := db.Sources().Create(ctx2, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true, Config: json.RawMessage(`{}`)})
	if r := e2.do(http.MethodPost, path(s2.ID)+"?wait=true", editor2, nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("plugin down: %d %s, want 503", r.status, r.body)
	}
}

// TestLeases: one owner at a time; the lease moves when it expires or is
// released.
func TestLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := collect.NewLocalLeases()
	a, b := l.Owner("a"), l.Owner("b")
	if ok, _ := a.Acquire(ctx, "s1", time.Hour); !ok {
		t.Fatal("a could not take a free lease")
	}
	if ok, _ := a.Acquire(ctx, "s1", time.Hour); !ok {
		t.Fatal("a could not renew its lease")
	}
	if ok, _ := b.Acquire(ctx, "s1", time.Hour); ok {
		t.Fatal("b took a's lease")
	}
	if ok, _ := b.Acquire(ctx, "s2", 10*time.Millisecond); !ok {
		t.Fatal("b could not take another key")
	}
	time.Sleep(20 * time.Millisecond)
	if ok, _ := a.Acquire(ctx, "s2", time.Hour); !ok {
		t.Fatal("a could not take an expired lease")
	}
	_ = b.Release(ctx, "s1") // not b's: no effect
	if ok, _ := b.Acquire(ctx, "s1", time.Hour); ok {
		t.Fatal("b's release freed a's lease")
	}
	_ = a.Release(ctx, "s1")
	if ok, _ := b.Acquire(ctx, "s1", time.Hour); !ok {
		t.Fatal("b could not take a released lease")
	}
}

// TestCollector_twoReplicasOneOwner: two collectors sharing a lease table
// (two replicas) never both poll a source.
func TestCollector_twoReplicasOneOwner(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	leases := collect.NewLocalLeases()
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	if _, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true, PollIntervalSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	var conns [2]*scripted
	for i := range conns {
		conns[i] = &scripted{}
		e := newEnv(t, db, envOptions{cfg: fastConfig, conns: conns[i]})
		col, err := collect.New(fastConfig, testLogger(t), collect.Deps{DB: db, Connectors: conns[i], Bus: e.bus,
			Leaser: leases.Owner(strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		e.col = col
		e.run()
	}
	waitFor(t, 10*time.Second, "a few polls", func() bool {
		a, _ := conns[0].snapshot()
		b, _ := conns[1].snapshot()
		return len(a)+len(b) >= 3
	})
	a, _ := conns[0].snapshot()
	b, _ := conns[1].snapshot()
	if len(a) > 0 && len(b) > 0 {
		t.Fatalf("both replicas polled the source (%d and %d polls)", len(a), len(b))
	}
}

func TestRegister_routesAreDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t), envOptions{})
	documented, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /api/v1/sources/:id/sync", "POST /api/v1/sources/:id/webhook-secret", "POST /api/v1/metrics",
		"POST /api/v1/webhooks/:source_id", "POST /api/v1/lineage"}
	routes := e.srv.Routes()
	for _, w := range want {
		if !slices.Contains(routes, w) {
			t.Errorf("route %s not registered", w)
		}
		if !slices.Contains(documented, w) {
			t.Errorf("route %s is not in the OpenAPI document (host/api/openapi/runs.yaml)", w)
		}
	}
}

// TestIngestPushed: runs a plugin pushes are stored once and announced,
// without moving the cursor; invalid ones are a permanent error.
func TestIngestPushed(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "x", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	evs := e.subscribe()
	runs := []sdk.Run{{ExternalID: "1", PipelineExternalID: "p", State: sdk.StateRunning}, {ExternalID: "2", State: sdk.StateFailed}}
	for range 2 {
		if err := e.col.IngestPushed(context.Background(), src, runs); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "2 events", func() bool { return len(evs.snapshot()) == 2 })
	if n := runCount(t, db, ctx, src.ID); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
	if err := e.col.IngestPushed(context.Background(), src, []sdk.Run{{State: sdk.StateRunning}}); !errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("run without id: %v, want a permanent error", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(evs.snapshot()); n != 2 {
		t.Fatalf("%d events, want 2 (a replay announces nothing)", n)
	}
}

// gate is a connector whose polls take a while, counting how many run at
// once.
type gate struct {
	mu        sync.Mutex
	now, peak int
	polled    map[string]bool
}

func (g *gate) ListRuns(ctx context.Context, _, instanceID, _ string, _ int, _ func(*pb.RunBatch) error) error {
	g.mu.Lock()
	g.now++
	g.peak = max(g.peak, g.now)
	g.polled[instanceID] = true
	g.mu.Unlock()
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
	return nil
}

func (g *gate) ListPipelines(context.Context, string, string) ([]sdk.Pipeline, error) {
	return nil, sdk.ErrUnimplemented
}

func (g *gate) HandleWebhook(context.Context, string, string, sdk.Webhook) ([]sdk.Run, error) {
	return nil, sdk.ErrUnimplemented
}

// TestCollector_boundedConcurrency: however many sources are due, at most
// Concurrency polls run at once, and every source gets its turn.
func TestCollector_boundedConcurrency(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	g := &gate{polled: map[string]bool{}}
	cfg := fastConfig
	cfg.Concurrency = 3
	e := newEnv(t, db, envOptions{cfg: cfg, conns: g})
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	other := storetest.Tenant(t, db, "globex", identity.RoleAdmin)
	for i := range 12 {
		c := ctx
		if i%2 == 1 {
			c = other // sources of every profile are polled
		}
		if _, err := db.Sources().Create(c, store.SourceInput{PluginID: "acme.x", Name: strconv.Itoa(i), Enabled: true, PollIntervalSeconds: 3600}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.x", Name: "disabled", Enabled: false, PollIntervalSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	e.run()
	waitFor(t, 20*time.Second, "12 sources polled", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.polled) == 12
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peak != 3 {
		t.Fatalf("%d polls ran at once, want the limit of 3", g.peak)
	}
}
