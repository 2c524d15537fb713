package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func ruleInput(name string) store.AlertRuleInput {
	return store.AlertRuleInput{Name: name, Kind: "run_failed", Enabled: true,
		Spec: json.RawMessage(`{"name":"` + name + `","condition":{"run_failed":{}}}`)}
}

func TestAlertRules_crud(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
		p, _ := identity.From(ctx)
		repo := db.AlertRules()
		created, err := repo.Create(ctx, ruleInput("failures"))
		if err != nil {
			t.Fatal(err)
		}
		if created.ID == "" || created.Revision != 1 || created.CreatedBy != p.UserID || created.Provisioned || !created.Enabled {
			t.Fatalf("created = %+v", created)
		}
		got, err := repo.Get(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "failures" || got.Kind != "run_failed" || !jsonSame(got.Spec, created.Spec) || !got.CreatedAt.Equal(created.CreatedAt) {
			t.Fatalf("Get = %+v, want %+v", got, created)
		}
		in := ruleInput("failures v2")
		in.Enabled = false
		updated, err := repo.Update(ctx, created.ID, 1, in)
		if err != nil {
			t.Fatal(err)
		}
		if updated.Revision != 2 || updated.Name != "failures v2" || updated.Enabled {
			t.Fatalf("updated = %+v", updated)
		}
		if _, err := repo.Update(ctx, created.ID, 1, ruleInput("stale")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale Update: %v, want ErrConflict", err)
		}
		if _, err := repo.Create(ctx, ruleInput("failures v2")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Create with a taken name: %v, want ErrConflict", err)
		}
		if _, err := repo.Update(ctx, "missing", 1, ruleInput("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Update of a missing rule: %v, want ErrNotFound", err)
		}
		if _, err := repo.Create(ctx, store.AlertRuleInput{Name: "x", Kind: "run_failed", Spec: json.RawMessage(`{`)}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Create with bad JSON: %v, want ErrInvalid", err)
		}
		// A state of the rule goes with it.
		if err := db.AlertStates().Save(ctx, []store.AlertState{{RuleID: created.ID, Fingerprint: "fp", State: "firing", Since: store.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := repo.Delete(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Get(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if _, err := db.AlertStates().Get(ctx, created.ID, "fp"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("state after Delete: %v", err)
		}
		if err := repo.Delete(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Delete: %v", err)
		}
	})
}

func TestAlertRules_provision(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		other := storetest.Tenant(t, db, "other", identity.RoleAdmin)
		repo := db.AlertRules()
		in := ruleInput("slow")
		in.ID = "slow-etl"
		a, changed, err := repo.Provision(ctx, in)
		if err != nil || !changed || !a.Provisioned || a.ID != "slow-etl" || a.Revision != 1 {
			t.Fatalf("first Provision = %+v, %v, %v", a, changed, err)
		}
		// Same content, re-encoded: nothing to write.
		in.Spec = json.RawMessage(`{ "condition": {"run_failed": {}}, "name": "slow" }`)
		if a, changed, err = repo.Provision(ctx, in); err != nil || changed || a.Revision != 1 {
			t.Fatalf("unchanged Provision = %+v, %v, %v", a, changed, err)
		}
		in.Name = "slower"
		if a, changed, err = repo.Provision(ctx, in); err != nil || !changed || a.Revision != 2 || a.Name != "slower" {
			t.Fatalf("changed Provision = %+v, %v, %v", a, changed, err)
		}
		// A rule made in the API is never taken over.
		made, err := repo.Create(ctx, ruleInput("hand made"))
		if err != nil {
			t.Fatal(err)
		}
		in2 := ruleInput("file")
		in2.ID = made.ID
		if _, _, err := repo.Provision(ctx, in2); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Provision over an API rule: %v, want ErrConflict", err)
		}
		// Ids are per profile: another profile provisions the same id as
		// its own rule, and each profile sees only its own.
		theirs, changed, err := repo.Provision(other, in)
		if err != nil || !changed || theirs.Revision != 1 || theirs.ProfileID == a.ProfileID {
			t.Fatalf("Provision of the same id in another profile = %+v, %v, %v; want a new rule there", theirs, changed, err)
		}
		if got, err := repo.Get(ctx, in.ID); err != nil || got.Revision != 2 || got.Name != "slower" {
			t.Fatalf("the first profile's rule after the other's provision = %+v, %v", got, err)
		}
		if err := repo.Delete(other, in.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Get(ctx, in.ID); err != nil {
			t.Fatalf("deleting the other profile's rule touched this one's: %v", err)
		}
	})
}

func TestAlertStates_saveListAcknowledge(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
		p, _ := identity.From(ctx)
		rule, err := db.AlertRules().Create(ctx, ruleInput("failures"))
		if err != nil {
			t.Fatal(err)
		}
		repo := db.AlertStates()
		v := 42.5
		t0 := store.Now().Add(-time.Minute)
		if err := repo.Save(ctx, []store.AlertState{
			{RuleID: rule.ID, Fingerprint: "a", State: "firing", Labels: map[string]string{"pipeline": "ETL"}, Value: &v, Since: t0,
				Snapshot: json.RawMessage(`{"seq":1}`)},
			{RuleID: rule.ID, Fingerprint: "b", State: "normal", Since: t0.Add(-time.Hour)},
		}); err != nil {
			t.Fatal(err)
		}
		all, err := repo.List(ctx, store.AlertStateFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].Fingerprint != "a" || *all[0].Value != 42.5 || all[0].Labels["pipeline"] != "ETL" ||
			!jsonSame(all[0].Snapshot, json.RawMessage(`{"seq":1}`)) || all[1].Value != nil || !all[0].Since.Equal(t0) {
			t.Fatalf("List = %+v", all)
		}
		firing, err := repo.List(ctx, store.AlertStateFilter{State: "firing", RuleID: rule.ID})
		if err != nil || len(firing) != 1 || firing[0].Fingerprint != "a" {
			t.Fatalf("List(firing) = %+v, %v", firing, err)
		}
		at := store.Now()
		acked, err := repo.Acknowledge(ctx, rule.ID, "a", at)
		if err != nil {
			t.Fatal(err)
		}
		if acked.AcknowledgedBy != p.UserID || acked.AcknowledgedAt == nil || !acked.AcknowledgedAt.Equal(at) {
			t.Fatalf("acknowledged = %+v", acked)
		}
		// Again: the first acknowledgement stays.
		if again, err := repo.Acknowledge(ctx, rule.ID, "a", at.Add(time.Hour)); err != nil || !again.AcknowledgedAt.Equal(at) {
			t.Fatalf("second Acknowledge = %+v, %v", again, err)
		}
		if _, err := repo.Acknowledge(ctx, rule.ID, "b", at); !errors.Is(err, store.ErrNotAcknowledgeable) {
			t.Fatalf("Acknowledge of a normal alert: %v", err)
		}
		if _, err := repo.Acknowledge(ctx, rule.ID, "zzz", at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Acknowledge of a missing alert: %v", err)
		}
		// Still firing: the acknowledgement survives a save; resolved clears it.
		if err := repo.Save(ctx, []store.AlertState{{RuleID: rule.ID, Fingerprint: "a", State: "firing", Since: t0}}); err != nil {
			t.Fatal(err)
		}
		if s, _ := repo.Get(ctx, rule.ID, "a"); s.AcknowledgedAt == nil || s.Value != nil {
			t.Fatalf("after a firing save: %+v", s)
		}
		if err := repo.Save(ctx, []store.AlertState{{RuleID: rule.ID, Fingerprint: "a", State: "resolved", Since: at}}); err != nil {
			t.Fatal(err)
		}
		if s, _ := repo.Get(ctx, rule.ID, "a"); s.AcknowledgedAt != nil || s.AcknowledgedBy != "" || s.State != "resolved" {
			t.Fatalf("after resolving: %+v", s)
		}
		if err := repo.Save(ctx, []store.AlertState{{RuleID: "no-such-rule", Fingerprint: "x", State: "firing", Since: at}}); err == nil {
			t.Fatal("Save of a state of an unknown rule succeeded")
		}
	})
}

func TestAlerts_tenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		a := storetest.Tenant(t, db, "alpha", identity.RoleEditor)
		b := storetest.Tenant(t, db, "bravo", identity.RoleEditor)
		rule, err := db.AlertRules().Create(a, ruleInput("alpha rule"))
		if err != nil {
			t.Fatal(err)
		}
		// Names are per profile.
		if _, err := db.AlertRules().Create(b, ruleInput("alpha rule")); err != nil {
			t.Fatalf("same name in another profile: %v", err)
		}
		if err := db.AlertStates().Save(a, []store.AlertState{{RuleID: rule.ID, Fingerprint: "f", State: "firing", Since: store.Now()}}); err != nil {
			t.Fatal(err)
		}
		sil, err := db.Silences().Create(a, store.SilenceInput{Matchers: json.RawMessage(`[]`), StartsAt: store.Now(),
			EndsAt: store.Now().Add(time.Hour), Comment: "c", CreatedBy: "u"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AlertRules().Get(b, rule.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get rule of A from B: %v", err)
		}
		if _, err := db.AlertRules().Update(b, rule.ID, 1, ruleInput("hijack")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update rule of A from B: %v", err)
		}
		if err := db.AlertRules().Delete(b, rule.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete rule of A from B: %v", err)
		}
		if err := db.AlertStates().Save(b, []store.AlertState{{RuleID: rule.ID, Fingerprint: "g", State: "firing", Since: store.Now()}}); err == nil {
			t.Errorf("B saved a state under a rule of A")
		}
		if _, err := db.AlertStates().Acknowledge(b, rule.ID, "f", store.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Acknowledge alert of A from B: %v", err)
		}
		if l, err := db.AlertStates().List(b, store.AlertStateFilter{}); err != nil || len(l) != 0 {
			t.Errorf("B lists states %+v, %v", l, err)
		}
		if l, err := db.AlertRules().List(b); err != nil || len(l) != 1 {
			t.Errorf("B lists rules %+v, %v", l, err)
		}
		if _, err := db.Silences().Get(b, sil.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get silence of A from B: %v", err)
		}
		if _, err := db.Silences().Expire(b, sil.ID, store.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Expire silence of A from B: %v", err)
		}
		if l, err := db.Silences().List(b, time.Time{}); err != nil || len(l) != 0 {
			t.Errorf("B lists silences %+v, %v", l, err)
		}
	})
}

func TestSilences_createListExpire(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
		repo := db.Silences()
		now := store.Now()
		m := json.RawMessage(`[{"name":"pipeline","op":"=","value":"ETL"}]`)
		active, err := repo.Create(ctx, store.SilenceInput{Matchers: m, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour), Comment: "maintenance", CreatedBy: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		future, err := repo.Create(ctx, store.SilenceInput{Matchers: m, StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour), Comment: "later", CreatedBy: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Create(ctx, store.SilenceInput{Matchers: m, StartsAt: now, EndsAt: now}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("empty span: %v", err)
		}
		got, err := repo.Get(ctx, active.ID)
		if err != nil || !jsonSame(got.Matchers, m) || got.Comment != "maintenance" || got.CreatedBy != "ann" || !got.EndsAt.Equal(active.EndsAt) {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		list, err := repo.List(ctx, now)
		if err != nil || len(list) != 2 || list[0].ID != future.ID {
			t.Fatalf("List = %+v, %v", list, err)
		}
		exp, err := repo.Expire(ctx, active.ID, now)
		if err != nil || !exp.EndsAt.Equal(now) || !exp.StartsAt.Equal(active.StartsAt) {
			t.Fatalf("Expire = %+v, %v", exp, err)
		}
		// A silence that has not started ends before it starts.
		exp, err = repo.Expire(ctx, future.ID, now)
		if err != nil || !exp.EndsAt.Equal(now) || !exp.StartsAt.Equal(now) {
			t.Fatalf("Expire of a future silence = %+v, %v", exp, err)
		}
		// Expiring again changes nothing.
		if again, err := repo.Expire(ctx, active.ID, now.Add(time.Hour)); err != nil || !again.EndsAt.Equal(now) {
			t.Fatalf("second Expire = %+v, %v", again, err)
		}
		if list, err := repo.List(ctx, now); err != nil || len(list) != 0 {
			t.Fatalf("List after expiry = %+v, %v", list, err)
		}
		if list, err := repo.List(ctx, time.Time{}); err != nil || len(list) != 2 {
			t.Fatalf("List of all = %+v, %v", list, err)
		}
	})
}

func jsonSame(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
