package collect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// installBundle writes a bundle folder for exe with the manifest at
// manifestPath (relative to the repository root), checksums filled in.
func installBundle(t *testing.T, pluginDir, exe, manifestPath string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), manifestPath))
	if err != nil {
		t.Fatal(err)
	}
	var mf struct {
		ID         string `json:"id"`
		Executable string `json:"executable"`
	}
	if err := json.Unmarshal(raw, &mf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(pluginDir, mf.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, mf.Executable), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.FileName), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}
}

// startManager runs a real plugin manager over pluginDir until the test
// ends, and waits for pluginID to run.
func startManager(t *testing.T, pluginDir, pluginID string) *plugins.Manager {
	t.Helper()
	m, err := plugins.New(plugins.Config{
		Dir: pluginDir, HostVersion: "0.1.0", RescanInterval: time.Hour,
		HealthInterval: 500 * time.Millisecond, HealthTimeout: time.Second, CallTimeout: 10 * time.Second,
		StartTimeout: 20 * time.Second, DrainTimeout: 5 * time.Second,
		BackoffInitial: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close plugin manager: %v", err)
		}
	})
	waitFor(t, 60*time.Second, pluginID+" running", func() bool { return pluginStatus(m, pluginID).State == plugins.StateRunning })
	return m
}

func pluginStatus(m *plugins.Manager, id string) plugins.Status {
	for _, st := range m.Plugins() {
		if st.ID == id {
			return st
		}
	}
	return plugins.Status{}
}

// helloSource creates a source of pluginID and registers its instance with
// the manager, as the sources service does.
func helloSource(t *testing.T, db *store.DB, ctx context.Context, m *plugins.Manager, pluginID, config string) store.Source {
	t.Helper()
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: pluginID, Name: "hello", Config: json.RawMessage(config),
		PollIntervalSeconds: 3600, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	m.SetInstance(pluginID, sdk.InstanceConfig{ID: src.ID, Revision: src.Revision, Config: src.Config})
	return src
}

var fastConfig = collect.Config{
	StartSpread: 10 * time.Millisecond, RefreshInterval: 100 * time.Millisecond,
	BackoffInitial: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond, PollTimeout: time.Minute,
}

func cursorOf(t *testing.T, db *store.DB, ctx context.Context, id string) string {
	t.Helper()
	s, err := db.Sources().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Cursor
}

func runCount(t *testing.T, db *store.DB, ctx context.Context, id string) int {
	t.Helper()
	n, err := db.Runs().Count(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkOncePerRun checks that n runs were announced, each exactly once.
func checkOncePerRun(t *testing.T, evs []bus.RunChanged, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, ev := range evs {
		seen[ev.ExternalID]++
	}
	if len(evs) != n || len(seen) != n {
		t.Fatalf("%d run.changed events for %d distinct runs, want %d each", len(evs), len(seen), n)
	}
}

// TestCollector_pollsRealPlugin: a source of the hello example plugin,
// polled by the scheduler through a real plugin manager, ends with all its
// runs, the final cursor, one event per run and an ok health; a sync now
// afterwards finds nothing new.
func TestCollector_pollsRealPlugin(t *testing.T) {
	t.Parallel()
	pluginDir := t.TempDir()
	installBundle(t, pluginDir, pluginBinary(t, "hello"), "sdk/examples/hello/plugin.json")
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		m := startManager(t, pluginDir, "acme.hello")
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := helloSource(t, db, ctx, m, "acme.hello", `{"greeting":"hi","runs":1200}`)
		e := newEnv(t, db, envOptions{cfg: fastConfig, conns: collect.ManagerConnectors(m)})
		evs := e.subscribe()
		e.run()

		waitFor(t, 45*time.Second, "1200 runs and cursor 1200", func() bool {
			return runCount(t, db, ctx, src.ID) == 1200 && cursorOf(t, db, ctx, src.ID) == "1200"
		})
		waitFor(t, 10*time.Second, "1200 events", func() bool { return len(evs.snapshot()) >= 1200 })
		checkOncePerRun(t, evs.snapshot(), 1200)
		for _, ev := range evs.snapshot() {
			if ev.SourceID != src.ID || ev.State != store.RunSucceeded || !ev.New || ev.PipelineExternalID != "hello" || ev.RunID == "" {
				t.Fatalf("event %+v", ev)
			}
		}
		waitFor(t, 10*time.Second, "ok health", func() bool {
			s, _ := db.Sources().Get(ctx, src.ID)
			return s.Health.Status == store.HealthOK && s.Health.LastSuccessAt != nil
		})
		// The example's newest run started on 2026-01-01: the source trails
		// by months, and the stored lag says so.
		if s, _ := db.Sources().Get(ctx, src.ID); s.Health.Lag == nil || *s.Health.Lag < 24*time.Hour {
			t.Fatalf("lag = %v, want the months the example's runs trail now", s.Health.Lag)
		}

		_, editor := e.member("acme", identity.RoleEditor)
		r := e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/sync?wait=true", editor, nil)
		if r.status != http.StatusOK {
			t.Fatalf("sync now: %d %s", r.status, r.body)
		}
		var res collect.SyncResult
		r.decode(t, &res)
		if res.Runs != 0 || res.Changed != 0 || res.Cursor != "1200" {
			t.Fatalf("sync now after the full sync = %+v, want nothing new at cursor 1200", res)
		}
		if n := len(evs.snapshot()); n != 1200 {
			t.Fatalf("%d events after a sync that found nothing new, want still 1200", n)
		}

		ps, _, err := db.Pipelines().List(ctx, store.PipelineFilter{SourceID: src.ID}, store.Page{})
		if err != nil || len(ps) != 1 {
			t.Fatalf("pipelines: %v, %v", ps, err)
		}
		if p := ps[0]; p.Name != "hi" || p.LastRun == nil || p.LastRun.ExternalID != "1200" || *p.SuccessRate != 1 || *p.MedianDurationMS != 1000 {
			t.Fatalf("pipeline summary = %+v (last run %+v)", p, p.LastRun)
		}
	})
}

// TestCollector_pluginKilledMidSync: the plugin process is killed with
// SIGKILL after the first batch is stored; after it restarts, the next
// poll resumes from the committed cursor: every run once, nothing lost,
// nothing announced twice.
func TestCollector_pluginKilledMidSync(t *testing.T) {
	t.Parallel()
	pluginDir := t.TempDir()
	installBundle(t, pluginDir, pluginBinary(t, "slowhello"), "host/collect/testdata/slowhello/plugin.json")
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		m := startManager(t, pluginDir, "acme.slowhello")
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := helloSource(t, db, ctx, m, "acme.slowhello", `{"greeting":"hi","runs":1200,"delay_ms":150}`)
		e := newEnv(t, db, envOptions{cfg: fastConfig, conns: collect.ManagerConnectors(m)})
		evs := e.subscribe()
		e.run()

		waitFor(t, 30*time.Second, "the first batch", func() bool { return len(evs.snapshot()) >= 100 })
		st := pluginStatus(m, "acme.slowhello")
		if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill plugin %d: %v", st.PID, err)
		}
		atKill := runCount(t, db, ctx, src.ID)
		if atKill >= 1200 {
			t.Fatalf("the sync was over (%d runs) before the kill: the test proves nothing", atKill)
		}
		t.Logf("killed plugin pid %d with %d runs stored", st.PID, atKill)

		waitFor(t, 45*time.Second, "1200 runs and cursor 1200 after the restart", func() bool {
			return runCount(t, db, ctx, src.ID) == 1200 && cursorOf(t, db, ctx, src.ID) == "1200"
		})
		if after := pluginStatus(m, "acme.slowhello"); after.PID == st.PID || after.Restarts < 1 {
			t.Fatalf("plugin pid %d restarts %d after the kill: it was not restarted", after.PID, after.Restarts)
		}
		waitFor(t, 10*time.Second, "1200 events", func() bool { return len(evs.snapshot()) >= 1200 })
		time.Sleep(200 * time.Millisecond) // a duplicate would show up by now
		checkOncePerRun(t, evs.snapshot(), 1200)
		// Rows cannot repeat (unique per source and external id), so the
		// count of 1200 above is also the proof that none was duplicated.
	})
}
