package collect_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func lineageEvent(eventType, runID, job string, at time.Time, extra string) string {
	return fmt.Sprintf(`{"eventType":%q,"eventTime":%q,"producer":"urn:test","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":{"runId":%q,"facets":{%s}},"job":{"namespace":"airflow-prod","name":%q}}`, eventType, at.Format(time.RFC3339Nano), runID, extra, job)
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int(nil), p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestLineage_anyOrder: START, RUNNING and a terminal event of one run,
// delivered in every order (and then all again), end in one run with the
// terminal state, the START time as start, the terminal time as end — and
// one change event per actual change, none for the replays.
func TestLineage_anyOrder(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		ctx, tok := e.member("acme", identity.RoleEditor)
		t1 := time.Date(2026, 11, 17, 6, 31, 2, 512330000, time.UTC)
		t2, t3 := t1.Add(5*time.Minute), t1.Add(10*time.Minute+123*time.Millisecond)
		for _, term := range []struct{ typ, state, facet, msg string }{
			{"COMPLETE", store.RunSucceeded, "", ""},
			{"FAIL", store.RunFailed, `"errorMessage":{"message":"GL x AP difference","programmingLanguage":"python"}`, "GL x AP difference"},
			{"ABORT", store.RunCancelled, "", ""},
		} {
			for i, order := range permutations(3) {
				runID := fmt.Sprintf("run-%s-%d", term.typ, i)
				evs := []string{
					lineageEvent("START", runID, "dag_finance_close", t1, ""),
					lineageEvent("RUNNING", runID, "dag_finance_close", t2, ""),
					lineageEvent(term.typ, runID, "dag_finance_close", t3, term.facet),
				}
				changes := 0
				for round := range 2 {
					for _, k := range order {
						r := e.do(http.MethodPost, "/api/v1/lineage", tok, evs[k])
						if r.status != http.StatusOK {
							t.Fatalf("%s order %v: event %d: %d %s", term.typ, order, k, r.status, r.body)
						}
						var out struct{ Changed int }
						r.decode(t, &out)
						if round == 1 && out.Changed != 0 {
							t.Fatalf("%s order %v: replayed event %d changed the run", term.typ, order, k)
						}
						changes += out.Changed
					}
				}
				if changes < 1 || changes > 3 {
					t.Fatalf("%s order %v: %d changes", term.typ, order, changes)
				}
				src, err := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.Runs().GetByExternalID(ctx, src.ID, runID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != term.state || got.RawState != term.typ || got.ErrorMessage != term.msg ||
					got.StartedAt == nil || !got.StartedAt.Equal(t1) || got.EndedAt == nil || !got.EndedAt.Equal(t3.Truncate(time.Microsecond)) ||
					got.DurationMS == nil || *got.DurationMS != t3.Sub(t1).Milliseconds() {
					t.Fatalf("%s order %v: run = state %s raw %s err %q start %v end %v dur %v", term.typ, order,
						got.State, got.RawState, got.ErrorMessage, got.StartedAt, got.EndedAt, got.DurationMS)
				}
				if got.PipelineExternalID != "airflow-prod/dag_finance_close" || got.PipelineName != "dag_finance_close" {
					t.Fatalf("pipeline %q / %q", got.PipelineExternalID, got.PipelineName)
				}
			}
		}
		n := len(permutations(3)) * 3
		src, _ := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
		if c := runCount(t, db, ctx, src.ID); c != n {
			t.Fatalf("%d runs, want %d: one per runId", c, n)
		}
	})
}

// TestLineage_terminalNotOverwritten: a late START or RUNNING (even with a
// later eventTime) never reopens a finished run; between two terminal
// events the later eventTime wins.
func TestLineage_terminalNotOverwritten(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx, tok := e.member("acme", identity.RoleEditor)
	t0 := time.Date(2026, 11, 17, 6, 0, 0, 0, time.UTC)
	post := func(ev string) {
		t.Helper()
		if r := e.do(http.MethodPost, "/api/v1/lineage", tok, ev); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	post(lineageEvent("FAIL", "r", "j", t0.Add(time.Minute), ""))
	post(lineageEvent("RUNNING", "r", "j", t0.Add(time.Hour), ""))
	post(lineageEvent("OTHER", "r", "j", t0.Add(2*time.Hour), ""))
	src, _ := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
	if got, _ := db.Runs().GetByExternalID(ctx, src.ID, "r"); got.State != store.RunFailed {
		t.Fatalf("state %s after a late RUNNING, want failed", got.State)
	}
	post(lineageEvent("COMPLETE", "r", "j", t0.Add(30*time.Second), "")) // earlier terminal: loses
	if got, _ := db.Runs().GetByExternalID(ctx, src.ID, "r"); got.State != store.RunFailed {
		t.Fatalf("state %s after an earlier COMPLETE, want failed", got.State)
	}
	post(lineageEvent("COMPLETE", "r", "j", t0.Add(2*time.Minute), "")) // later terminal: wins
	if got, _ := db.Runs().GetByExternalID(ctx, src.ID, "r"); got.State != store.RunSucceeded {
		t.Fatalf("state %s after a later COMPLETE, want succeeded", got.State)
	}
}

// TestLineage_fixtures: the Airflow provider's events of the shared
// scenario (FAIL delivered before START), gzip-compressed as one batch.
func TestLineage_fixtures(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx, tok := e.member("acme", identity.RoleEditor)
	var events []string
	for _, f := range []string{"run-event-fail.json", "run-event-start.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "openlineage", f))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, string(raw))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("[" + strings.Join(events, ",") + "]"))
	_ = zw.Close()
	r := e.do(http.MethodPost, "/api/v1/lineage", tok, gz.Bytes(), "Content-Encoding", "gzip")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	src, _ := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
	got, err := db.Runs().GetByExternalID(ctx, src.ID, "01a1e833-aa70-7d96-868c-0e3fe92d4619")
	if err != nil {
		t.Fatal(err)
	}
	wantStart := time.Date(2026, 11, 17, 6, 31, 2, 512330000, time.UTC)
	wantEnd := time.Date(2026, 11, 17, 6, 41, 25, 640118000, time.UTC)
	if got.State != store.RunFailed || !strings.HasPrefix(got.ErrorMessage, "ValueError: GL x AP difference") ||
		!got.StartedAt.Equal(wantStart) || !got.EndedAt.Equal(wantEnd) ||
		got.PipelineExternalID != "airflow-prod/dag_finance_close.reconcile_ledger" ||
		got.Attributes["parent_run_id"] != "01a1e817-42ed-788a-a4af-0c87009018fd" || got.Attributes["job_type"] != "TASK" ||
		got.Attributes["integration"] != "AIRFLOW" || got.Attributes["processing_engine"] != "Airflow 3.1.3" {
		t.Fatalf("run from the fixtures = %+v", got)
	}
}

// TestLineage_rejectsMalformed: a malformed event is a 400 naming the
// problem, and nothing of the request is stored.
func TestLineage_rejectsMalformed(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx, tok := e.member("acme", identity.RoleEditor)
	ok := lineageEvent("START", "good", "j", time.Now(), "")
	cases := []struct {
		name, body, field string
	}{
		{"not JSON", `{"eventType":`, "/"},
		{"empty", ``, ""},
		{"no eventTime", `{"eventType":"START","run":{"runId":"r"},"job":{"namespace":"n","name":"j"}}`, "/eventTime"},
		{"bad eventTime", `{"eventType":"START","eventTime":"yesterday","run":{"runId":"r"},"job":{"namespace":"n","name":"j"}}`, "/eventTime"},
		{"no runId", `{"eventType":"START","eventTime":"2026-11-17T06:00:00Z","run":{},"job":{"namespace":"n","name":"j"}}`, "/run/runId"},
		{"no job", `{"eventType":"START","eventTime":"2026-11-17T06:00:00Z","run":{"runId":"r"}}`, "/job"},
		{"no job name", `{"eventType":"START","eventTime":"2026-11-17T06:00:00Z","run":{"runId":"r"},"job":{"namespace":"n"}}`, "/job/name"},
		{"run of the wrong type", `{"eventType":"START","eventTime":"2026-11-17T06:00:00Z","run":"r","job":{"namespace":"n","name":"j"}}`, "/run"},
		{"bad event in a batch", `[` + ok + `,{"eventType":"FAIL","run":{"runId":"r"},"job":{"namespace":"n","name":"j"}}]`, "/1/eventTime"},
		{"gzip that is not", `plain`, ""},
		{"trailing data", ok + ` {}`, "/"},
		{"a string", `"START"`, "/"},
		{"null", `null`, "/"},
		{"empty array", `[]`, "/"},
		{"a string in a batch", `[` + ok + `,"x"]`, "/1"},
		{"eventType a number", `{"eventType":1,"eventTime":"2026-11-17T06:00:00Z","run":{"runId":"r"},"job":{"namespace":"n","name":"j"}}`, "/eventType"},
		{"schemaURL a number", `{"schemaURL":1,"eventTime":"2026-11-17T06:00:00Z","run":{"runId":"r"},"job":{"namespace":"n","name":"j"}}`, "/schemaURL"},
		{"runId a number", `{"eventTime":"2026-11-17T06:00:00Z","run":{"runId":7},"job":{"namespace":"n","name":"j"}}`, "/run/runId"},
		{"job name an object", `{"eventTime":"2026-11-17T06:00:00Z","run":{"runId":"r"},"job":{"namespace":"n","name":{}}}`, "/job/name"},
	}
	for _, c := range cases {
		hdr := []string{}
		if c.name == "gzip that is not" {
			hdr = []string{"Content-Encoding", "gzip"}
		}
		r := e.do(http.MethodPost, "/api/v1/lineage", tok, c.body, hdr...)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", c.name, r.status, r.body)
			continue
		}
		var ae apiError
		r.decode(t, &ae)
		if ae.Error.Message == "" || (c.field != "" && (len(ae.Error.Fields) == 0 || ae.Error.Fields[0].Field != c.field)) {
			t.Errorf("%s: error %+v, want it to name %s", c.name, ae.Error, c.field)
		}
	}
	if r := e.do(http.MethodPost, "/api/v1/lineage", tok, `[]`); !strings.Contains(string(r.body), "no events") {
		t.Errorf("empty array: %d %s, want a message saying there are no events", r.status, r.body)
	}
	// Not JSON, or a content coding PUOD cannot undo: 415.
	for name, hdr := range map[string][]string{
		"text/plain":         {"Content-Type", "text/plain"},
		"form":               {"Content-Type", "application/x-www-form-urlencoded"},
		"brotli":             {"Content-Encoding", "br"},
		"deflate, then gzip": {"Content-Encoding", "deflate, gzip"},
	} {
		if r := e.do(http.MethodPost, "/api/v1/lineage", tok, ok, hdr...); r.status != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %d %s, want 415", name, r.status, r.body)
		}
	}
	src, _ := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
	if n := runCount(t, db, ctx, src.ID); n != 0 {
		t.Fatalf("%d runs stored from rejected requests", n)
	}
	// JSON with a charset, producers' own fields and facets: accepted.
	custom := `{"eventType":"START","eventTime":"2026-11-17T06:00:00Z","producer":"urn:test","x-producer-field":{"a":[1]},
		"run":{"runId":"custom","facets":{"acme_cost":{"_producer":"urn:acme","usd":1.5},"errorMessage":"not the documented shape"}},
		"job":{"namespace":"n","name":"j","x-extra":true,"facets":{"acme":{}}}}`
	if r := e.do(http.MethodPost, "/api/v1/lineage", tok, custom, "Content-Type", "application/json; charset=utf-8"); r.status != http.StatusOK {
		t.Fatalf("event with custom fields and facets: %d %s", r.status, r.body)
	}
	// A dataset event (no run) is accepted and ignored.
	if r := e.do(http.MethodPost, "/api/v1/lineage", tok, `{"eventTime":"2026-11-17T06:00:00Z","dataset":{"namespace":"n","name":"d"}}`); r.status != http.StatusOK {
		t.Fatalf("dataset event: %d %s", r.status, r.body)
	}
}

// TestLineage_authentication: the endpoint needs a PUOD token of an
// editor; runs go to the token's profile only.
func TestLineage_authentication(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ev := lineageEvent("START", "r1", "j", time.Now(), "")
	if r := e.do(http.MethodPost, "/api/v1/lineage", "", ev); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	if r := e.do(http.MethodPost, "/api/v1/lineage", "not-a-token", ev); r.status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", r.status)
	}
	_, viewer := e.member("acme", identity.RoleViewer)
	if r := e.do(http.MethodPost, "/api/v1/lineage", viewer, ev); r.status != http.StatusForbidden {
		t.Fatalf("viewer token: %d, want 403", r.status)
	}
	ctxA, editorA := e.member("acme", identity.RoleEditor)
	ctxB, _ := e.member("other", identity.RoleEditor)
	if r := e.do(http.MethodPost, "/api/v1/lineage", editorA, ev); r.status != http.StatusOK {
		t.Fatalf("editor token: %d %s", r.status, r.body)
	}
	if runs, _, _ := db.Runs().List(ctxA, store.RunFilter{}, store.Page{}); len(runs) != 1 {
		t.Fatalf("profile A has %d runs, want 1", len(runs))
	}
	if runs, _, _ := db.Runs().List(ctxB, store.RunFilter{}, store.Page{}); len(runs) != 0 {
		t.Fatalf("profile B sees %d runs of A", len(runs))
	}
}
