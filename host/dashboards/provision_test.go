package dashboards_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	dashfiles "github.com/puod/puod/dashboards"
	"github.com/puod/puod/host/dashboards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const teamBoard = `{"slug": "team-board", "title": "Team board", "cards": [
  {"id": "a", "type": "puod.success_rate", "x": 0, "y": 0, "w": 4, "h": 2}]}`

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// provision builds a provisioner over dir (as a host start does) and runs
// it over every profile.
func provision(t *testing.T, db *store.DB, dir string, pub dashboards.Publisher, logs *syncBuffer) {
	t.Helper()
	log := hclog.NewNullLogger()
	if logs != nil {
		log = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	}
	p, err := dashboards.NewProvisioner(dashboards.ProvisionConfig{Dir: dir}, log, db, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ProvisionAll(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func bySlug(t *testing.T, list func() []store.Dashboard) map[string]store.Dashboard {
	t.Helper()
	out := map[string]store.Dashboard{}
	for _, d := range list() {
		if _, dup := out[d.Slug]; dup {
			t.Fatalf("two dashboards with slug %s", d.Slug)
		}
		out[d.Slug] = d
	}
	return out
}

func TestProvision_idempotentAndFollowsFiles(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "alpha", identity.RoleEditor)
		ctxB := storetest.Tenant(t, db, "bravo", identity.RoleEditor)
		list := func(of func() []store.Dashboard) map[string]store.Dashboard { return bySlug(t, of) }
		listA := func() []store.Dashboard {
			ds, err := db.Dashboards().List(ctxA)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		listB := func() []store.Dashboard {
			ds, err := db.Dashboards().List(ctxB)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		dir := t.TempDir()
		writeFile(t, dir, "team.json", teamBoard)
		pub := &recordingBus{}

		provision(t, db, dir, pub, nil)
		first := list(listA)
		for _, slug := range []string{"pipelines-overview", "team-board"} {
			d, ok := first[slug]
			if !ok || !d.ReadOnly || !d.Provisioned || d.Version != 1 {
				t.Fatalf("after the first start, %s = %+v (present: %v)", slug, d, ok)
			}
			if _, ok := list(listB)[slug]; !ok {
				t.Fatalf("profile bravo has no %s", slug)
			}
		}
		published := len(pub.changes(t))
		if published != 4 {
			t.Fatalf("first start published %d changes, want 4 (2 dashboards × 2 profiles)", published)
		}

		// A second start with the same files changes nothing.
		provision(t, db, dir, pub, nil)
		second := list(listA)
		if len(second) != len(first) {
			t.Fatalf("second start: %d dashboards, want %d", len(second), len(first))
		}
		for slug, d := range first {
			if s := second[slug]; s.ID != d.ID || s.Version != d.Version || !s.UpdatedAt.Equal(d.UpdatedAt) {
				t.Fatalf("second start changed %s: %+v → %+v", slug, d, s)
			}
		}
		if n := len(pub.changes(t)); n != published {
			t.Fatalf("second start published %d changes", n-published)
		}

		// A changed file: the dashboard is updated at the next version.
		writeFile(t, dir, "team.json", strings.Replace(teamBoard, `"w": 4`, `"w": 6`, 1))
		provision(t, db, dir, pub, nil)
		third := list(listA)
		if d := third["team-board"]; d.ID != first["team-board"].ID || d.Version != 2 || !strings.Contains(string(d.Spec), `"w":6`) {
			t.Fatalf("after the file changed: %+v", d)
		}
		if d := third["pipelines-overview"]; d.Version != 1 {
			t.Fatalf("an unchanged file's dashboard moved to version %d", d.Version)
		}

		// A user's dashboard is never touched, even with a provisioned slug;
		// a removed file removes its dashboard.
		if _, err := db.Dashboards().Create(ctxB, store.DashboardInput{Slug: "mine", Title: "Mine", Spec: []byte(`{"cards":[]}`)}); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "team.json")); err != nil {
			t.Fatal(err)
		}
		provision(t, db, dir, pub, nil)
		fourth := list(listB)
		if _, ok := fourth["team-board"]; ok {
			t.Fatal("the dashboard of a removed file is still there")
		}
		if d, ok := fourth["mine"]; !ok || d.Version != 1 || d.Provisioned {
			t.Fatalf("the user's dashboard changed: %+v (present %v)", d, ok)
		}
		var deleted int
		for _, c := range pub.changes(t) {
			if c.Deleted {
				deleted++
			}
		}
		if deleted != 2 {
			t.Fatalf("%d deletions published, want 2", deleted)
		}
	})
}

func TestProvision_userDashboardKeepsItsSlug(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "alpha", identity.RoleEditor)
	mine, err := db.Dashboards().Create(ctx, store.DashboardInput{Slug: "pipelines-overview", Title: "My own", Spec: []byte(`{"cards":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	provision(t, db, "", nil, logs)
	got, err := db.Dashboards().Get(ctx, "pipelines-overview")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != mine.ID || got.Title != "My own" || got.Version != 1 || got.ReadOnly {
		t.Fatalf("provisioning overwrote a user's dashboard: %+v", got)
	}
	if !strings.Contains(logs.String(), "user's dashboard has the slug") {
		t.Errorf("no warning logged: %s", logs)
	}
}

func TestProvision_badFilesAreSkipped(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "alpha", identity.RoleEditor)
	dir := t.TempDir()
	writeFile(t, dir, "good.json", teamBoard)
	writeFile(t, dir, "broken.json", `{"slug": "broken", "title": `)
	writeFile(t, dir, "bad-grid.json", `{"slug": "bad-grid", "title": "Bad", "cards": [
	  {"id": "a", "type": "t", "x": 10, "y": 0, "w": 4, "h": 2}]}`)
	writeFile(t, dir, "unknown-field.json", `{"slug": "unknown-field", "title": "U", "cards": [], "panels": []}`)
	writeFile(t, dir, "dup-ids.json", `{"slug": "dup-ids", "title": "D", "cards": [
	  {"id": "a", "type": "t", "x": 0, "y": 0, "w": 1, "h": 1}, {"id": "a", "type": "t", "x": 1, "y": 0, "w": 1, "h": 1}]}`)
	writeFile(t, dir, "notes.txt", "not a dashboard")
	writeFile(t, dir, "custom.schema.json", `{"type": "object"}`)
	logs := &syncBuffer{}
	provision(t, db, dir, nil, logs)
	ds, err := db.Dashboards().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, d := range ds {
		slugs = append(slugs, d.Slug)
	}
	if strings.Join(slugs, ",") != "pipelines-overview,team-board" {
		t.Fatalf("provisioned %v, want the built-in and the good file only", slugs)
	}
	out := logs.String()
	for _, want := range []string{
		filepath.Join(dir, "broken.json"), filepath.Join(dir, "bad-grid.json") + " problem=\"invalid dashboard: /cards/0",
		filepath.Join(dir, "unknown-field.json"), filepath.Join(dir, "dup-ids.json"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not name %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notes.txt") || strings.Contains(out, "custom.schema.json") {
		t.Errorf("non-dashboard files were read:\n%s", out)
	}
}

func TestProvision_folderReplacesBuiltIn(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "alpha", identity.RoleEditor)
	dir := t.TempDir()
	writeFile(t, dir, "overview.json", `{"slug": "pipelines-overview", "title": "Our overview", "cards": []}`)
	provision(t, db, dir, nil, nil)
	d, err := db.Dashboards().Get(ctx, "pipelines-overview")
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "Our overview" || !d.ReadOnly {
		t.Fatalf("the folder's file did not replace the built-in: %+v", d)
	}
	// Back to the built-in when the operator's file is removed.
	if err := os.Remove(filepath.Join(dir, "overview.json")); err != nil {
		t.Fatal(err)
	}
	provision(t, db, dir, nil, nil)
	d2, err := db.Dashboards().Get(ctx, "pipelines-overview")
	if err != nil {
		t.Fatal(err)
	}
	if d2.ID != d.ID || d2.Title != "Pipelines overview" || d2.Version != 2 {
		t.Fatalf("after removing the override: %+v", d2)
	}
}

func TestProvision_newProfile(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	p, err := dashboards.NewProvisioner(dashboards.ProvisionConfig{}, nil, db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ProvisionAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A profile created later gets the dashboards when the hook runs.
	ctx := storetest.Tenant(t, db, "later", identity.RoleViewer)
	prof, _ := identity.From(ctx)
	if _, err := db.Dashboards().Get(ctx, "pipelines-overview"); err == nil {
		t.Fatal("the new profile has dashboards before the hook ran")
	}
	if err := p.ProvisionProfile(t.Context(), prof.ProfileID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Dashboards().Get(ctx, "pipelines-overview"); err != nil {
		t.Fatalf("after ProvisionProfile: %v", err)
	}
	if strings.Join(p.Slugs(), ",") != "pipelines-overview" {
		t.Fatalf("Slugs = %v", p.Slugs())
	}
	if len(dashfiles.Files()) != 1 {
		t.Fatalf("embedded files: %d", len(dashfiles.Files()))
	}
}
