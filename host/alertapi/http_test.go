package alertapi_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// slowRule is a valid create body: the seed example.
func slowRule(name string) map[string]any {
	return map[string]any{
		"name": name, "severity": "warning", "labels": map[string]any{"team": "sales"},
		"selector":    map[string]any{"pipeline": "ETL_Vendas"},
		"condition":   map[string]any{"duration_above": map[string]any{"threshold": "5m"}},
		"for":         "1m",
		"annotations": map[string]any{"summary": "{{.Pipeline.Name}} took {{.Value}} (limit {{.Threshold}})"},
		"sinks":       []any{"slack-data-team"},
	}
}

func fieldsOf(eb errBody) []string {
	var out []string
	for _, f := range eb.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestHTTP_rulesCRUD(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)

		var r alertapi.Rule
		e.must(e.do(ed, "POST", "/api/v1/alert-rules", slowRule("ETL_Vendas slow")), http.StatusCreated).decode(t, &r)
		if r.ID == "" || r.Revision != 1 || r.Kind != "duration_above" || r.Provisioned || r.Name != "ETL_Vendas slow" ||
			r.Condition.DurationAbove == nil || r.Condition.DurationAbove.Threshold != "5m" || r.For != "1m" || r.CreatedBy == "" {
			t.Fatalf("created = %+v", r)
		}
		var got alertapi.Rule
		e.must(e.do(viewer, "GET", "/api/v1/alert-rules/"+r.ID, nil), http.StatusOK).decode(t, &got)
		if got.ID != r.ID || got.Labels["team"] != "sales" || got.Annotations["summary"] == "" || !slices.Equal(got.Sinks, []string{"slack-data-team"}) {
			t.Fatalf("GET = %+v", got)
		}
		var list struct{ Rules []alertapi.Rule }
		e.must(e.do(viewer, "GET", "/api/v1/alert-rules", nil), http.StatusOK).decode(t, &list)
		if len(list.Rules) != 1 || list.Rules[0].ID != r.ID {
			t.Fatalf("list = %+v", list)
		}

		upd := slowRule("ETL_Vendas very slow")
		upd["revision"] = 1
		upd["id"] = r.ID
		upd["disabled"] = true
		var u alertapi.Rule
		e.must(e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, upd), http.StatusOK).decode(t, &u)
		if u.Revision != 2 || u.Name != "ETL_Vendas very slow" || !u.Disabled {
			t.Fatalf("updated = %+v", u)
		}
		// Stale revision: 409 with the stored rule.
		res := e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, upd)
		eb := res.err(t)
		if res.status != http.StatusConflict || eb.Error.Code != alertapi.CodeRevisionConflict || eb.Current == nil || eb.Current.Revision != 2 {
			t.Fatalf("stale PUT: %s", res)
		}
		// Taken name: 409 conflict.
		e.must(e.do(ed, "POST", "/api/v1/alert-rules", slowRule("other")), http.StatusCreated)
		res = e.do(ed, "POST", "/api/v1/alert-rules", slowRule("other"))
		if res.status != http.StatusConflict || res.err(t).Error.Code != "conflict" {
			t.Fatalf("taken name: %s", res)
		}
		upd["revision"] = 2
		upd["name"] = "other"
		if res = e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, upd); res.status != http.StatusConflict || res.err(t).Error.Code != "conflict" {
			t.Fatalf("rename to a taken name: %s", res)
		}
		// The id is the server's.
		withID := slowRule("mine")
		withID["id"] = "my-id"
		if res = e.do(ed, "POST", "/api/v1/alert-rules", withID); res.status != http.StatusBadRequest || !slices.Equal(fieldsOf(res.err(t)), []string{"/id"}) {
			t.Fatalf("POST with an id: %s", res)
		}
		upd["name"] = "x"
		upd["id"] = "another"
		if res = e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, upd); res.status != http.StatusBadRequest || !slices.Equal(fieldsOf(res.err(t)), []string{"/id"}) {
			t.Fatalf("PUT changing the id: %s", res)
		}
		delete(upd, "revision")
		if res = e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, upd); res.status != http.StatusBadRequest || !slices.Equal(fieldsOf(res.err(t)), []string{"/revision"}) {
			t.Fatalf("PUT without a revision: %s", res)
		}

		e.must(e.do(ed, "DELETE", "/api/v1/alert-rules/"+r.ID, nil), http.StatusNoContent)
		e.must(e.do(ed, "GET", "/api/v1/alert-rules/"+r.ID, nil), http.StatusNotFound)
		e.must(e.do(ed, "DELETE", "/api/v1/alert-rules/"+r.ID, nil), http.StatusNotFound)

		ch := e.bus.changes(t)
		if len(ch) != 4 || ch[0].Kind != "rule" || ch[0].RuleID != r.ID || ch[1].Revision != 2 || !ch[3].Deleted {
			t.Fatalf("published %+v", ch)
		}
		entries, _, err := db.Audit().List(e.ctxOf(ed), store.AuditFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, en := range entries {
			if en.Outcome == "success" {
				actions = append(actions, en.Action)
			}
		}
		for _, want := range []string{alertapi.ActionRuleCreate, alertapi.ActionRuleUpdate, alertapi.ActionRuleDelete} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit has no %s: %v", want, actions)
			}
		}
	})
}

func TestHTTP_ruleValidationProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	deadline := func(tz string) map[string]any {
		b := slowRule("deadline")
		b["condition"] = map[string]any{"deadline": map[string]any{"time": "06:00", "time_zone": tz}}
		return b
	}
	cases := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"bad template", func() map[string]any {
			b := slowRule("t")
			b["annotations"] = map[string]any{"summary": "{{.Pipeline.Name"}
			return b
		}(), []string{"/annotations/summary"}},
		{"bad regex", func() map[string]any {
			b := slowRule("r")
			b["selector"] = map[string]any{"pipeline_regex": "ETL_(Vendas"}
			return b
		}(), []string{"/selector/pipeline_regex"}},
		{"bad time zone", deadline("Mars/Olympus"), []string{"/condition/deadline/time_zone"}},
		{"several problems", func() map[string]any {
			b := slowRule("")
			b["severity"] = "loud"
			b["condition"] = map[string]any{"duration_above": map[string]any{"threshold": 300}}
			return b
		}(), []string{"/name", "/severity", "/condition/duration_above/threshold"}},
	}
	for _, c := range cases {
		res := e.do(ed, "POST", "/api/v1/alert-rules", c.body)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", c.name, res)
			continue
		}
		eb := res.err(t)
		got := fieldsOf(eb)
		slices.Sort(got)
		want := slices.Clone(c.fields)
		slices.Sort(want)
		if eb.Error.Code != "invalid_request" || !slices.Equal(got, want) {
			t.Errorf("%s: fields %v, want %v (%s)", c.name, got, want, res)
		}
	}
	// The same checks on PUT.
	var r alertapi.Rule
	e.must(e.do(ed, "POST", "/api/v1/alert-rules", deadline("Europe/Lisbon")), http.StatusCreated).decode(t, &r)
	b := deadline("Nowhere/Else")
	b["revision"] = r.Revision
	res := e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, b)
	if res.status != http.StatusBadRequest || !slices.Equal(fieldsOf(res.err(t)), []string{"/condition/deadline/time_zone"}) {
		t.Fatalf("PUT with a bad zone: %s", res)
	}
}

func TestHTTP_malformedBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	var r alertapi.Rule
	e.must(e.do(ed, "POST", "/api/v1/alert-rules", slowRule("x")), http.StatusCreated).decode(t, &r)
	for _, path := range []string{"/api/v1/alert-rules", "/api/v1/silences"} {
		for _, body := range []string{`{`, `[]`, `{"nme":"typo"}`, `{"name": 5}`, `{} {}`, ``} {
			res := e.do(ed, "POST", path, body)
			if res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
				t.Errorf("POST %s %q: %s, want 400 invalid_request", path, body, res)
			}
		}
	}
	for _, body := range []string{`{`, `{"revision":"one"}`, `{"kind":"x","revision":1}`} {
		res := e.do(ed, "PUT", "/api/v1/alert-rules/"+r.ID, body)
		if res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
			t.Errorf("PUT %q: %s, want 400 invalid_request", body, res)
		}
	}
	for _, path := range []string{"/api/v1/alert-rules?x=1", "/api/v1/alerts?state=burning", "/api/v1/alerts?color=red", "/api/v1/silences?expired=maybe"} {
		if res := e.do(ed, "GET", path, nil); res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
			t.Errorf("GET %s: %s, want 400", path, res)
		}
	}
}

func TestHTTP_viewerWritesForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	viewer := e.member("acme", identity.RoleViewer)
	var r alertapi.Rule
	e.must(e.do(ed, "POST", "/api/v1/alert-rules", slowRule("x")), http.StatusCreated).decode(t, &r)
	upd := slowRule("y")
	upd["revision"] = 1
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/alert-rules", slowRule("v")},
		{"PUT", "/api/v1/alert-rules/" + r.ID, upd},
		{"DELETE", "/api/v1/alert-rules/" + r.ID, nil},
		{"POST", "/api/v1/alerts/" + r.ID + ":fp/ack", nil},
		{"POST", "/api/v1/silences", silenceBody(e.now)},
		{"DELETE", "/api/v1/silences/x", nil},
	} {
		res := e.do(viewer, c.method, c.path, c.body)
		if res.status != http.StatusForbidden || res.err(t).Error.Code != "forbidden" {
			t.Errorf("viewer %s %s: %s, want 403", c.method, c.path, res)
		}
	}
	e.must(e.do(viewer, "GET", "/api/v1/alert-rules/"+r.ID, nil), http.StatusOK)
}

func silenceBody(now time.Time) map[string]any {
	return map[string]any{
		"matchers": []any{map[string]any{"name": "pipeline", "op": "=~", "value": "ETL_.*"}},
		"ends_at":  now.Add(2 * time.Hour).Format(time.RFC3339), "comment": "maintenance window",
	}
}

// seedAlerts stores alert states as the engine would.
func seedAlerts(t *testing.T, e *env, tok, ruleID string) {
	t.Helper()
	snap, _ := json.Marshal(map[string]any{"value": "6m0s", "active_since": e.now.Add(-10 * time.Minute),
		"history": []any{map[string]any{"rule_id": ruleID, "fingerprint": "fp1", "from": "pending", "to": "firing", "at": e.now.Add(-9 * time.Minute)}}})
	if err := e.db.AlertStates().Save(e.ctxOf(tok), []store.AlertState{
		{RuleID: ruleID, Fingerprint: "fp1", State: "firing", Labels: map[string]string{"pipeline": "ETL_Vendas"}, Since: e.now.Add(-9 * time.Minute), Snapshot: snap},
		{RuleID: ruleID, Fingerprint: "fp2", State: "resolved", Labels: map[string]string{"pipeline": "ETL_Compras"}, Since: e.now.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
}

func TestHTTP_alertsAndAck(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)
		var r alertapi.Rule
		e.must(e.do(ed, "POST", "/api/v1/alert-rules", slowRule("slow")), http.StatusCreated).decode(t, &r)
		seedAlerts(t, e, ed, r.ID)

		var all struct{ Alerts []alertapi.Alert }
		e.must(e.do(viewer, "GET", "/api/v1/alerts", nil), http.StatusOK).decode(t, &all)
		if len(all.Alerts) != 2 {
			t.Fatalf("alerts = %+v", all)
		}
		a := all.Alerts[0]
		if a.ID != r.ID+":fp1" || a.State != "firing" || a.RuleName != "slow" || a.Severity != "warning" || a.Value != "6m0s" ||
			a.ActiveSince == nil || len(a.History) != 1 || a.Labels["pipeline"] != "ETL_Vendas" || a.AcknowledgedAt != nil {
			t.Fatalf("firing alert = %+v", a)
		}
		var firing struct{ Alerts []alertapi.Alert }
		e.must(e.do(viewer, "GET", "/api/v1/alerts?state=firing&rule_id="+r.ID, nil), http.StatusOK).decode(t, &firing)
		if len(firing.Alerts) != 1 || firing.Alerts[0].Fingerprint != "fp1" {
			t.Fatalf("firing = %+v", firing)
		}
		var none struct{ Alerts []alertapi.Alert }
		e.must(e.do(viewer, "GET", "/api/v1/alerts?rule_id=%25", nil), http.StatusOK).decode(t, &none)
		if len(none.Alerts) != 0 {
			t.Fatalf("rule_id=%% matched %+v", none)
		}

		var acked alertapi.Alert
		e.must(e.do(ed, "POST", "/api/v1/alerts/"+a.ID+"/ack", nil), http.StatusOK).decode(t, &acked)
		p, _ := identity.From(e.ctxOf(ed))
		if acked.AcknowledgedBy != p.UserID || acked.AcknowledgedAt == nil || !acked.AcknowledgedAt.Equal(e.now) {
			t.Fatalf("acknowledged = %+v", acked)
		}
		// A resolved alert has nothing to acknowledge; unknown ones are 404.
		if res := e.do(ed, "POST", "/api/v1/alerts/"+r.ID+":fp2/ack", nil); res.status != http.StatusConflict {
			t.Fatalf("ack of a resolved alert: %s", res)
		}
		for _, id := range []string{r.ID + ":nope", "nope", "nope:fp1"} {
			if res := e.do(ed, "POST", "/api/v1/alerts/"+id+"/ack", nil); res.status != http.StatusNotFound || res.err(t).Error.Code != "not_found" {
				t.Fatalf("ack of %s: %s", id, res)
			}
		}
		ch := e.bus.changes(t)
		if last := ch[len(ch)-1]; last.Kind != "alert" || last.AlertID != a.ID {
			t.Fatalf("published %+v", ch)
		}
	})
}

func TestHTTP_silences(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)
		var s alertapi.Silence
		e.must(e.do(ed, "POST", "/api/v1/silences", silenceBody(e.now)), http.StatusCreated).decode(t, &s)
		if s.ID == "" || s.Status != "active" || s.CreatedBy != "acme-editor" || !s.StartsAt.Equal(e.now) ||
			len(s.Matchers) != 1 || s.Matchers[0].Op != "=~" || s.Comment != "maintenance window" {
			t.Fatalf("created = %+v", s)
		}
		later := silenceBody(e.now)
		later["starts_at"] = e.now.Add(time.Hour).Format(time.RFC3339)
		var pending alertapi.Silence
		e.must(e.do(ed, "POST", "/api/v1/silences", later), http.StatusCreated).decode(t, &pending)
		if pending.Status != "pending" {
			t.Fatalf("future silence = %+v", pending)
		}
		var list struct{ Silences []alertapi.Silence }
		e.must(e.do(viewer, "GET", "/api/v1/silences", nil), http.StatusOK).decode(t, &list)
		if len(list.Silences) != 2 {
			t.Fatalf("list = %+v", list)
		}
		e.must(e.do(ed, "DELETE", "/api/v1/silences/"+s.ID, nil), http.StatusNoContent)
		e.must(e.do(viewer, "GET", "/api/v1/silences", nil), http.StatusOK).decode(t, &list)
		if len(list.Silences) != 1 || list.Silences[0].ID != pending.ID {
			t.Fatalf("list after expiry = %+v", list)
		}
		e.must(e.do(viewer, "GET", "/api/v1/silences?expired=true", nil), http.StatusOK).decode(t, &list)
		if len(list.Silences) != 2 || list.Silences[1].Status != "expired" {
			t.Fatalf("list with expired = %+v", list)
		}
		e.must(e.do(ed, "DELETE", "/api/v1/silences/"+s.ID, nil), http.StatusNoContent) // idempotent
		e.must(e.do(ed, "DELETE", "/api/v1/silences/unknown", nil), http.StatusNotFound)

		cases := []struct {
			name   string
			mod    func(b map[string]any)
			fields []string
		}{
			{"bad regex", func(b map[string]any) {
				b["matchers"] = []any{map[string]any{"name": "pipeline", "op": "=~", "value": "ETL_(.*"}}
			}, []string{"/matchers/0/value"}},
			{"matches everything", func(b map[string]any) {
				b["matchers"] = []any{map[string]any{"name": "pipeline", "op": "=~", "value": ".*"}}
			}, []string{"/matchers"}},
			{"bad op and no comment", func(b map[string]any) {
				b["matchers"] = []any{map[string]any{"name": "a", "op": "==", "value": "x"}}
				b["comment"] = " "
			}, []string{"/matchers/0/op", "/comment"}},
			{"in the past", func(b map[string]any) {
				b["starts_at"] = e.now.Add(-3 * time.Hour).Format(time.RFC3339)
				b["ends_at"] = e.now.Add(-time.Hour).Format(time.RFC3339)
			}, []string{"/ends_at"}},
			{"no end", func(b map[string]any) { delete(b, "ends_at") }, []string{"/ends_at"}},
		}
		for _, c := range cases {
			b := silenceBody(e.now)
			c.mod(b)
			res := e.do(ed, "POST", "/api/v1/silences", b)
			if res.status != http.StatusBadRequest {
				t.Errorf("%s: %s", c.name, res)
				continue
			}
			if got := fieldsOf(res.err(t)); !slices.Equal(got, c.fields) {
				t.Errorf("%s: fields %v, want %v", c.name, got, c.fields)
			}
		}
		if res := e.do(ed, "POST", "/api/v1/silences", map[string]any{"matchers": []any{}, "ends_at": "tomorrow", "comment": "x"}); res.status != http.StatusBadRequest {
			t.Errorf("bad time: %s", res)
		}
	})
}

func TestHTTP_crossProfileIsNotFound(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		a := e.member("alpha", identity.RoleEditor)
		b := e.member("bravo", identity.RoleAdmin)
		var r alertapi.Rule
		e.must(e.do(a, "POST", "/api/v1/alert-rules", slowRule("Alpha secret rule")), http.StatusCreated).decode(t, &r)
		seedAlerts(t, e, a, r.ID)
		var s alertapi.Silence
		e.must(e.do(a, "POST", "/api/v1/silences", silenceBody(e.now)), http.StatusCreated).decode(t, &s)
		upd := slowRule("hijacked")
		upd["revision"] = 1
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/alert-rules/" + r.ID, nil},
			{"PUT", "/api/v1/alert-rules/" + r.ID, upd},
			{"DELETE", "/api/v1/alert-rules/" + r.ID, nil},
			{"POST", "/api/v1/alerts/" + r.ID + ":fp1/ack", nil},
			{"DELETE", "/api/v1/silences/" + s.ID, nil},
		} {
			res := e.do(b, c.method, c.path, c.body)
			if res.status != http.StatusNotFound || res.err(t).Error.Code != "not_found" {
				t.Errorf("B %s %s: %s, want 404", c.method, c.path, res)
			}
		}
		for _, path := range []string{"/api/v1/alert-rules", "/api/v1/alerts", "/api/v1/silences?expired=true"} {
			res := e.must(e.do(b, "GET", path, nil), http.StatusOK)
			if strings.Contains(string(res.body), r.ID) || strings.Contains(string(res.body), s.ID) || strings.Contains(string(res.body), "Alpha") {
				t.Errorf("B's %s shows A's objects: %s", path, res.body)
			}
		}
		var got alertapi.Rule
		e.must(e.do(a, "GET", "/api/v1/alert-rules/"+r.ID, nil), http.StatusOK).decode(t, &got)
		if got.Name != "Alpha secret rule" || got.Revision != 1 {
			t.Fatalf("A's rule changed: %+v", got)
		}
		if st, err := db.AlertStates().Get(e.ctxOf(a), r.ID, "fp1"); err != nil || st.AcknowledgedAt != nil {
			t.Fatalf("A's alert: %+v, %v", st, err)
		}
		var sl struct{ Silences []alertapi.Silence }
		e.must(e.do(a, "GET", "/api/v1/silences", nil), http.StatusOK).decode(t, &sl)
		if len(sl.Silences) != 1 || sl.Silences[0].Status != "active" {
			t.Fatalf("A's silence: %+v", sl)
		}
	})
}

func TestLoadRules_goodAndBadFiles(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		admin := e.member("acme", identity.RoleAdmin)
		ctx := e.ctxOf(admin)
		dir := t.TempDir()
		write := func(name, text string) {
			t.Helper()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		seed, err := os.ReadFile("../alert/testdata/etl_vendas_duration.yaml")
		if err != nil {
			t.Fatal(err)
		}
		write("seed.yaml", string(seed))
		lisbon, err := os.ReadFile("../alert/testdata/lisbon_deadline.yaml")
		if err != nil {
			t.Fatal(err)
		}
		write("sub.yml", string(lisbon))
		write("notes.txt", "not a rule file")

		rep, err := e.svc.LoadRules(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Loaded, []string{"etl-vendas-slow", "vendas-by-six"}) || len(rep.Changed) != 2 || len(rep.Skipped) != 0 {
			t.Fatalf("first load = %+v", rep)
		}
		// Loaded rules are read-only in the API.
		var r alertapi.Rule
		e.must(e.do(admin, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK).decode(t, &r)
		if !r.Provisioned || r.Kind != "duration_above" || r.Labels["team"] != "data-sales" {
			t.Fatalf("loaded rule = %+v", r)
		}
		upd := slowRule("edited")
		upd["revision"] = r.Revision
		if res := e.do(admin, "PUT", "/api/v1/alert-rules/etl-vendas-slow", upd); res.status != http.StatusForbidden || res.err(t).Error.Code != alertapi.CodeReadOnly {
			t.Fatalf("PUT of a loaded rule: %s", res)
		}
		if res := e.do(admin, "DELETE", "/api/v1/alert-rules/etl-vendas-slow", nil); res.status != http.StatusForbidden {
			t.Fatalf("DELETE of a loaded rule: %s", res)
		}

		// Bad files are skipped; the good ones stay, and nothing is
		// pruned while a file is broken.
		write("broken.yaml", "rules: [ {id: x")
		write("typo.yaml", "id: typo\nname: Typo\nseverity: warning\ncondition:\n  duration_above:\n    treshold: 5m\nsinks: [s]\n")
		write("invalid.yaml", "id: bad-zone\nname: Bad zone\nseverity: warning\ncondition:\n  deadline:\n    time: \"06:00\"\n    time_zone: Mars/Base\nsinks: [s]\n")
		write("dup.yaml", "id: etl-vendas-slow\nname: Another\nseverity: info\ncondition:\n  run_failed: {}\nsinks: [s]\n")
		if err := os.Remove(filepath.Join(dir, "sub.yml")); err != nil {
			t.Fatal(err)
		}
		rep, err = e.svc.LoadRules(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Loaded) != 0 || len(rep.Changed) != 0 || len(rep.Skipped) != 5 || len(rep.Removed) != 0 {
			t.Fatalf("load with bad files = %+v", rep)
		}
		joined := strings.Join(rep.Skipped, "\n")
		for _, want := range []string{"broken.yaml", "treshold", "/condition/deadline/time_zone", "used 2 times"} {
			if !strings.Contains(joined, want) {
				t.Errorf("skipped reasons lack %q:\n%s", want, joined)
			}
		}
		e.must(e.do(admin, "GET", "/api/v1/alert-rules/vendas-by-six", nil), http.StatusOK)
		var kept alertapi.Rule
		e.must(e.do(admin, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK).decode(t, &kept)
		if kept.Revision != r.Revision || kept.Name != r.Name {
			t.Fatalf("a duplicated id changed the stored rule: %+v", kept)
		}

		// Fixed: the rule whose file is gone is removed.
		for _, f := range []string{"broken.yaml", "typo.yaml", "invalid.yaml", "dup.yaml"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		rep, err = e.svc.LoadRules(ctx, dir, nil)
		if err != nil || !slices.Equal(rep.Removed, []string{"vendas-by-six"}) || len(rep.Skipped) != 0 {
			t.Fatalf("clean load = %+v, %v", rep, err)
		}
		e.must(e.do(admin, "GET", "/api/v1/alert-rules/vendas-by-six", nil), http.StatusNotFound)

		// A second profile loads the same files as its own rules (ids are
		// per profile).
		other := e.member("other", identity.RoleAdmin)
		op, _ := identity.From(e.ctxOf(other))
		rep, err = e.svc.LoadRulesInto(t.Context(), op.ProfileID, dir, nil)
		if err != nil || !slices.Equal(rep.Loaded, []string{"etl-vendas-slow"}) || len(rep.Skipped) != 0 {
			t.Fatalf("load into a second profile = %+v, %v", rep, err)
		}
		e.must(e.do(other, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK)
		e.must(e.do(admin, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK)
		if _, err := e.svc.LoadRules(ctx, filepath.Join(dir, "missing"), nil); err == nil {
			t.Fatal("a missing folder is not an error")
		}
	})
}

// TestProvisionRules: PUOD_RULES_DIR holds a folder per profile (by name);
// each profile gets its own folder's rules and no other's, a profile
// without a folder gets none, and a missing root is an error that says so.
func TestProvisionRules(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		acme := e.member("acme", identity.RoleAdmin)
		other := e.member("other", identity.RoleAdmin)
		none := e.member("nofolder", identity.RoleAdmin)
		root := t.TempDir()
		put := func(profile, from string) {
			t.Helper()
			data, err := os.ReadFile(filepath.Join("../alert/testdata", from))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, profile), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, profile, from), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		put("acme", "etl_vendas_duration.yaml")
		put("other", "lisbon_deadline.yaml")
		put("other", "etl_vendas_duration.yaml") // the same id in two profiles
		if err := e.svc.ProvisionRules(t.Context(), root); err != nil {
			t.Fatal(err)
		}
		e.must(e.do(acme, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK)
		e.must(e.do(acme, "GET", "/api/v1/alert-rules/vendas-by-six", nil), http.StatusNotFound)
		e.must(e.do(other, "GET", "/api/v1/alert-rules/vendas-by-six", nil), http.StatusOK)
		e.must(e.do(other, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusOK)
		e.must(e.do(none, "GET", "/api/v1/alert-rules/etl-vendas-slow", nil), http.StatusNotFound)

		// A profile created later gets its folder too.
		late := e.member("late", identity.RoleAdmin)
		put("late", "lisbon_deadline.yaml")
		lp, _ := identity.From(e.ctxOf(late))
		if err := e.svc.ProvisionRulesOf(t.Context(), root, lp.ProfileID); err != nil {
			t.Fatal(err)
		}
		e.must(e.do(late, "GET", "/api/v1/alert-rules/vendas-by-six", nil), http.StatusOK)

		if err := e.svc.ProvisionRules(t.Context(), filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "PUOD_RULES_DIR") {
			t.Errorf("missing root: %v, want an error naming PUOD_RULES_DIR", err)
		}
	})
}
