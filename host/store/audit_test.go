package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// appendN appends n entries as the principal in ctx.
func appendN(t *testing.T, db *store.DB, ctx context.Context, n int) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	for i := range n {
		e, err := db.Audit().Append(ctx, store.AuditEntry{Action: "source.update", ObjectType: "source",
			ObjectID: fmt.Sprint("s", i), Outcome: store.OutcomeSuccess, ClientAddr: "10.0.0.1",
			Details: mustJSON(t, map[string]any{"i": i, "note": "it's \"quoted\""})})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestAudit_appendChainsAndVerifies(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		sys := db.System().Audit()
		res, err := sys.Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Entries != 0 {
			t.Fatalf("empty log: %+v", res)
		}
		ctx := storetest.Tenant(t, db, "audit", identity.RoleAdmin)
		es := appendN(t, db, ctx, 3)
		p, _ := identity.From(ctx)
		for i, e := range es {
			if e.Seq != int64(i+1) || e.ProfileID != p.ProfileID || e.UserID != p.UserID || e.Username != p.Username {
				t.Fatalf("entry %d = %+v", i, e)
			}
			if i > 0 && e.PrevHash != es[i-1].Hash {
				t.Fatalf("entry %d does not link to %d", i, i-1)
			}
		}
		// A failed login has no principal.
		if _, err := sys.Append(context.Background(), store.AuditEntry{Action: "auth.login", Username: "mallory",
			Outcome: store.OutcomeFailure, ClientAddr: "203.0.113.9"}); err != nil {
			t.Fatal(err)
		}
		res, err = sys.Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Entries != 4 || res.Err() != nil {
			t.Fatalf("intact log: %+v", res)
		}
	})
}

// TestAudit_principalOverridesEntry: a caller cannot forge who did it.
func TestAudit_principalOverridesEntry(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "forge-a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "forge-b", identity.RoleAdmin)
		pb, _ := identity.From(ctxB)
		e, err := db.Audit().Append(ctxA, store.AuditEntry{Action: "x", Outcome: store.OutcomeSuccess,
			ProfileID: pb.ProfileID, UserID: pb.UserID, Username: pb.Username})
		if err != nil {
			t.Fatal(err)
		}
		pa, _ := identity.From(ctxA)
		if e.ProfileID != pa.ProfileID || e.UserID != pa.UserID || e.Username != pa.Username {
			t.Fatalf("entry took identity from arguments: %+v", e)
		}
	})
}

func TestAudit_verifyNamesFirstBrokenEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tamper     string
		args       []any
		wantBroken int64
	}{
		{"update of one row", `UPDATE audit_log SET outcome = ? WHERE seq = ?`, []any{store.OutcomeSuccess + "!", 4}, 4},
		{"update of details", `UPDATE audit_log SET details_json = ? WHERE seq = ?`, []any{`{"i":2}`, 3}, 3},
		{"delete of one row", `DELETE FROM audit_log WHERE seq = ?`, []any{5}, 5},
		{"delete of the first row", `DELETE FROM audit_log WHERE seq = ?`, []any{1}, 1},
		{"delete of the tail", `DELETE FROM audit_log WHERE seq >= ?`, []any{7}, 7},
		{"overwritten hash", `UPDATE audit_log SET hash = ? WHERE seq = ?`, []any{"00", 2}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx := storetest.Tenant(t, db, "tamper", identity.RoleAdmin)
				appendN(t, db, ctx, 8)
				n, err := store.ExecRaw(context.Background(), db, tc.tamper, tc.args...)
				if err != nil || n == 0 {
					t.Fatalf("tamper: %d rows, %v", n, err)
				}
				res, err := db.System().Audit().Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if res.OK() || *res.FirstBroken != tc.wantBroken {
					t.Fatalf("Verify = %+v (first broken %v), want first broken %d", res, deref(res.FirstBroken), tc.wantBroken)
				}
				if !errors.Is(res.Err(), store.ErrAuditBroken) {
					t.Fatalf("Err() = %v", res.Err())
				}
				t.Logf("reason: %s", res.Reason)
			})
		})
	}
}

// TestAudit_verifyRehashedEntry plays an attacker who rewrites an entry and
// recomputes its hash: the entry itself checks out, so the break shows at
// the next link (or at the head for the last entry).
func TestAudit_verifyRehashedEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seq, wantBroken int64
	}{{2, 3}, {6, 6}} {
		t.Run(fmt.Sprint("seq ", tc.seq), func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx := storetest.Tenant(t, db, "rehash", identity.RoleAdmin)
				es := appendN(t, db, ctx, 6)
				e := es[tc.seq-1]
				e.Outcome = store.OutcomeFailure
				e.Hash = store.AuditHash(e)
				if _, err := store.ExecRaw(context.Background(), db, `UPDATE audit_log SET outcome = ?, hash = ? WHERE seq = ?`,
					e.Outcome, e.Hash, e.Seq); err != nil {
					t.Fatal(err)
				}
				res, err := db.System().Audit().Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if res.OK() || *res.FirstBroken != tc.wantBroken {
					t.Fatalf("Verify = %+v (first broken %v), want %d", res, deref(res.FirstBroken), tc.wantBroken)
				}
				t.Logf("reason: %s", res.Reason)
			})
		})
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestAudit_concurrentAppendsDoNotFork: appends from many goroutines still
// form one chain.
func TestAudit_concurrentAppendsDoNotFork(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "conc", identity.RoleAdmin)
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := db.Audit().Append(ctx, store.AuditEntry{Action: "a", Outcome: store.OutcomeSuccess}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		res, err := db.System().Audit().Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Entries != workers*each {
			t.Fatalf("Verify = %+v, want %d intact entries", res, workers*each)
		}
	})
}

func TestAudit_listFiltersScopeAndPages(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "list-a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "list-b", identity.RoleAdmin)
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 10 {
			outcome := store.OutcomeSuccess
			if i%3 == 0 {
				outcome = store.OutcomeDenied
			}
			action := "dashboard.update"
			if i%2 == 0 {
				action = "source.delete"
			}
			if _, err := db.Audit().Append(ctxA, store.AuditEntry{At: base.Add(time.Duration(i) * time.Hour),
				Action: action, Outcome: outcome}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Audit().Append(ctxB, store.AuditEntry{At: base, Action: "source.delete", Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
		pa, _ := identity.From(ctxA)
		tests := []struct {
			name string
			f    store.AuditFilter
			want int
		}{
			{"all of A", store.AuditFilter{}, 10},
			{"action", store.AuditFilter{Action: "source.delete"}, 5},
			{"outcome", store.AuditFilter{Outcome: store.OutcomeDenied}, 4},
			{"user by name", store.AuditFilter{User: pa.Username}, 10},
			{"user by id", store.AuditFilter{User: pa.UserID}, 10},
			{"other user", store.AuditFilter{User: "list-b-admin"}, 0},
			{"time range", store.AuditFilter{From: base.Add(2 * time.Hour), To: base.Add(5 * time.Hour)}, 3},
			{"combined", store.AuditFilter{Action: "source.delete", Outcome: store.OutcomeDenied}, 2},
		}
		for _, tc := range tests {
			seen := map[int64]bool{}
			page := store.Page{Limit: 3}
			var last int64 = 1 << 62
			for {
				items, next, err := db.Audit().List(ctxA, tc.f, page)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, e := range items {
					if e.ProfileID != pa.ProfileID {
						t.Fatalf("%s: entry of another profile: %+v", tc.name, e)
					}
					if seen[e.Seq] || e.Seq >= last {
						t.Fatalf("%s: seq %d repeated or out of order", tc.name, e.Seq)
					}
					seen[e.Seq], last = true, e.Seq
				}
				if next == "" {
					break
				}
				page.Cursor = next
			}
			if len(seen) != tc.want {
				t.Errorf("%s: %d entries, want %d", tc.name, len(seen), tc.want)
			}
		}
	})
}
