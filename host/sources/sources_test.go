package sources_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// plainSecret is distinctive enough that finding it anywhere is a leak.
const plainSecret = "tok-PLAINTEXT-4c1d9e7a22"

func TestSources_secretIsNeverShownLoggedOrStoredInClear(t *testing.T) {
	t.Parallel()
	forEachRawDialect(t, func() *syncBuffer { return &syncBuffer{} }, func(t *testing.T, r rawDB, logs *syncBuffer) {
		t.Parallel()
		e := newEnv(t, r.db, logs)
		admin := e.principal("acme", identity.RoleAdmin)

		id, rev := e.create(admin, "prod", map[string]any{"greeting": "hi", "runs": 3, "token": plainSecret})
		created := e.do(admin, http.MethodGet, "/api/v1/sources/"+id, nil)
		e.mustStatus(created, http.StatusOK)
		cfg := created.json(t)["config"].(map[string]any)
		if cfg["token"] != sources.Mask || cfg["greeting"] != "hi" || cfg["runs"] != float64(3) {
			t.Fatalf("config = %v, want the token masked and the rest as sent", cfg)
		}
		// The plugin instance got the real secret: the decrypt path works.
		if got := e.instanceToken(id); got != plainSecret {
			t.Fatalf("plugin instance holds token %q, want the secret", got)
		}
		test := e.do(admin, http.MethodPost, "/api/v1/sources/"+id+"/test", nil)
		e.mustStatus(test, http.StatusOK)
		if st := test.json(t)["status"]; st != "ok" {
			t.Fatalf("test = %s", test.body)
		}
		// A masked round trip keeps it.
		up := e.do(admin, http.MethodPut, "/api/v1/sources/"+id, map[string]any{
			"name": "prod", "revision": rev, "config": map[string]any{"greeting": "hello", "token": sources.Mask}})
		e.mustStatus(up, http.StatusOK)
		if got := e.instanceToken(id); got != plainSecret {
			t.Fatalf("after a masked update the instance holds %q", got)
		}
		e.mustStatus(e.do(admin, http.MethodGet, "/api/v1/sources", nil), http.StatusOK)

		// Sealed with the keyring's key, nothing secret in config_json.
		all, _, err := r.db.System().Sources().List(t.Context(), store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || len(all[0].SecretsEnc) == 0 || all[0].KeyID != e.keys.ActiveKeyID() || bytes.Contains(all[0].Config, []byte("token")) {
			t.Fatalf("stored row: config %s, %d secret bytes, key %q", all[0].Config, len(all[0].SecretsEnc), all[0].KeyID)
		}

		for i, body := range e.responses {
			if bytes.Contains(body, []byte(plainSecret)) {
				t.Errorf("response %d contains the secret: %s", i, body)
			}
		}
		if logs := logs.Bytes(); bytes.Contains(logs, []byte(plainSecret)) {
			t.Errorf("the log contains the secret:\n%s", logs)
		} else if len(logs) == 0 {
			t.Error("nothing was logged: the log check proves nothing")
		}
		stored := r.storedBytes(t)
		if bytes.Contains(stored, []byte(plainSecret)) {
			t.Errorf("the %s database holds the secret in clear", r.dialect)
		}
		if !bytes.Contains(stored, []byte("greeting")) {
			t.Errorf("the raw %s dump lacks the stored config: the check proves nothing", r.dialect)
		}

		// A ciphertext moved to another row does not open there.
		other, _ := e.create(admin, "other", map[string]any{"greeting": "x", "token": "another-secret"})
		r.swapSecrets(t, id, other)
		got := e.do(admin, http.MethodGet, "/api/v1/sources/"+other, nil)
		e.mustStatus(got, http.StatusOK)
		if msg, _ := got.json(t)["secrets_error"].(string); !strings.Contains(msg, "moved from another row") {
			t.Fatalf("secrets_error = %q, want a decryption failure", msg)
		}
		tr := e.do(admin, http.MethodPost, "/api/v1/sources/"+other+"/test", nil)
		if code, _ := tr.errCode(t); tr.status != http.StatusInternalServerError || code != sources.CodeSecretKey {
			t.Fatalf("test with a swapped ciphertext = %d %s", tr.status, tr.body)
		}
	})
}

func TestSources_validation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, nil)
		admin := e.principal("acme", identity.RoleAdmin)
		stopped := e.plugins.add(t, plugintest.Serve(t, stoppedPlugin(t)))
		e.plugins.setState(stopped, "backoff")

		cases := []struct {
			name   string
			body   any
			status int
			field  string // JSON pointer expected in error.fields
			msgHas string // substring of that field's message, or of the error message
		}{
			{"missing required setting", map[string]any{"plugin_id": e.helloID, "name": "a", "config": map[string]any{"runs": 1}},
				400, "/config/greeting", "required"},
			{"out of range", map[string]any{"plugin_id": e.helloID, "name": "a", "config": map[string]any{"greeting": "hi", "runs": -1}},
				400, "/config/runs", "minimum"},
			{"unknown setting", map[string]any{"plugin_id": e.helloID, "name": "a", "config": map[string]any{"greeting": "hi", "bogus": 1}},
				400, "/config/bogus", `"bogus"`},
			{"unknown request field", `{"plugin_id":"` + e.helloID + `","name":"a","colour":"red"}`,
				400, "/colour", "unknown field"},
			{"secret not a string", map[string]any{"plugin_id": e.helloID, "name": "a", "config": map[string]any{"greeting": "hi", "token": 42}},
				400, "/config/token", "string"},
			{"mask with nothing stored", map[string]any{"plugin_id": e.helloID, "name": "a", "config": map[string]any{"greeting": "hi", "token": sources.Mask}},
				400, "/config/token", "none is stored"},
			{"config not an object", map[string]any{"plugin_id": e.helloID, "name": "a", "config": []int{1}},
				400, "/config", "object"},
			{"no name", map[string]any{"plugin_id": e.helloID, "config": map[string]any{"greeting": "hi"}},
				400, "/name", "required"},
			{"negative poll interval", map[string]any{"plugin_id": e.helloID, "name": "a", "poll_interval_seconds": -5, "config": map[string]any{"greeting": "hi"}},
				400, "/poll_interval_seconds", "between"},
			{"revision on create", map[string]any{"plugin_id": e.helloID, "name": "a", "revision": 1, "config": map[string]any{"greeting": "hi"}},
				400, "/revision", "updating"},
			{"unknown plugin", map[string]any{"plugin_id": "acme.nope", "name": "a", "config": map[string]any{}},
				400, "/plugin_id", "acme.nope"},
			{"plugin not running", map[string]any{"plugin_id": stopped, "name": "a", "config": map[string]any{}},
				503, "", "is backoff"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(admin, http.MethodPost, "/api/v1/sources", tc.body)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.field == "" {
					if _, msg := r.errCode(t); !strings.Contains(msg, tc.msgHas) || !strings.Contains(msg, stopped) {
						t.Fatalf("message %q should name the plugin and contain %q", msg, tc.msgHas)
					}
					return
				}
				fields := r.fields(t)
				msg, ok := fields[tc.field]
				if !ok {
					t.Fatalf("error.fields %v lacks %s: %s", fields, tc.field, r.body)
				}
				if !strings.Contains(msg, tc.msgHas) {
					t.Fatalf("%s: %q does not contain %q", tc.field, msg, tc.msgHas)
				}
			})
		}
		list := e.do(admin, http.MethodGet, "/api/v1/sources", nil)
		if n := len(list.json(t)["sources"].([]any)); n != 0 {
			t.Fatalf("%d sources were created by invalid requests", n)
		}
	})
}

// stoppedPlugin is a second plugin id, so a test can stop it without
// touching hello.
func stoppedPlugin(t testing.TB) sdk.Plugin[helloConfig] {
	p := helloPlugin(t)
	p.Manifest = bytes.Replace(p.Manifest, []byte(`"acme.hello"`), []byte(`"acme.stopped"`), 1)
	return p
}

func TestSources_updateLockingAndAccess(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, nil)
		admin := e.principal("acme", identity.RoleAdmin)
		viewer := e.principal("acme", identity.RoleViewer)
		otherAdmin := e.principal("globex", identity.RoleAdmin)
		id, rev := e.create(admin, "prod", map[string]any{"greeting": "hi", "token": plainSecret})
		path := "/api/v1/sources/" + id

		// Omitting the secret keeps it too.
		r := e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev, "config": map[string]any{"greeting": "v2"}, "poll_interval_seconds": 30})
		e.mustStatus(r, http.StatusOK)
		m := r.json(t)
		if m["revision"].(float64) != float64(rev+1) || m["config"].(map[string]any)["token"] != sources.Mask || m["poll_interval_seconds"].(float64) != 30 {
			t.Fatalf("update = %s", r.body)
		}
		if e.instanceToken(id) != plainSecret {
			t.Fatal("omitting the secret lost it")
		}
		// A stale revision is refused with a message saying what to do.
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev, "config": map[string]any{"greeting": "v3"}})
		if code, msg := r.errCode(t); r.status != http.StatusConflict || code != "conflict" || !strings.Contains(msg, "revision") || !strings.Contains(msg, "reload") {
			t.Fatalf("stale update = %d %s", r.status, r.body)
		}
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "config": map[string]any{"greeting": "v3"}})
		if _, ok := r.fields(t)["/revision"]; r.status != http.StatusBadRequest || !ok {
			t.Fatalf("update without revision = %d %s", r.status, r.body)
		}
		r = e.do(admin, http.MethodPut, path, map[string]any{"plugin_id": "acme.other", "name": "prod", "revision": rev + 1, "config": map[string]any{"greeting": "v3"}})
		if _, ok := r.fields(t)["/plugin_id"]; r.status != http.StatusBadRequest || !ok {
			t.Fatalf("changing the plugin = %d %s", r.status, r.body)
		}
		// null removes a secret.
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev + 1, "config": map[string]any{"greeting": "v3", "token": nil}})
		e.mustStatus(r, http.StatusOK)
		if _, has := r.json(t)["config"].(map[string]any)["token"]; has || e.instanceToken(id) != "" {
			t.Fatalf("token not removed: %s (instance has %q)", r.body, e.instanceToken(id))
		}
		// With its plugin down, a source can still be disabled (config
		// omitted), but not reconfigured.
		e.plugins.setState(e.helloID, "backoff")
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev + 2, "enabled": false})
		e.mustStatus(r, http.StatusOK)
		if m := r.json(t); m["enabled"] != false || m["config"].(map[string]any)["greeting"] != "v3" {
			t.Fatalf("disable without config = %s", r.body)
		}
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev + 3, "config": map[string]any{"greeting": "v4"}})
		e.mustStatus(r, http.StatusServiceUnavailable)
		e.plugins.setState(e.helloID, "running")
		r = e.do(admin, http.MethodPut, path, map[string]any{"name": "prod", "revision": rev + 3, "enabled": true, "config": map[string]any{"greeting": "v4", "token": plainSecret}})
		e.mustStatus(r, http.StatusOK)
		if e.instanceToken(id) != plainSecret {
			t.Fatal("re-enabled source not configured with its new secret")
		}

		// Names are unique in a profile.
		e.create(admin, "staging", map[string]any{"greeting": "hi"})
		r = e.do(admin, http.MethodPost, "/api/v1/sources", map[string]any{"plugin_id": e.helloID, "name": "staging", "config": map[string]any{"greeting": "hi"}})
		if _, msg := r.errCode(t); r.status != http.StatusConflict || !strings.Contains(msg, "staging") {
			t.Fatalf("duplicate name = %d %s", r.status, r.body)
		}

		// A viewer reads but cannot change.
		e.mustStatus(e.do(viewer, http.MethodGet, path, nil), http.StatusOK)
		e.mustStatus(e.do(viewer, http.MethodGet, "/api/v1/sources", nil), http.StatusOK)
		body := map[string]any{"name": "x", "revision": rev + 4, "config": map[string]any{"greeting": "x"}}
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/v1/sources", map[string]any{"plugin_id": e.helloID, "name": "x", "config": map[string]any{"greeting": "x"}}},
			{http.MethodPut, path, body},
			{http.MethodDelete, path, nil},
			{http.MethodPost, path + "/test", nil},
		} {
			if r := e.do(viewer, req.method, req.path, req.body); r.status != http.StatusForbidden {
				t.Errorf("viewer %s %s = %d, want 403", req.method, req.path, r.status)
			}
		}

		// Another profile cannot tell the source exists.
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, path, nil},
			{http.MethodPut, path, body},
			{http.MethodDelete, path, nil},
			{http.MethodPost, path + "/test", nil},
		} {
			if r := e.do(otherAdmin, req.method, req.path, req.body); r.status != http.StatusNotFound {
				t.Errorf("other profile %s %s = %d, want 404: %s", req.method, req.path, r.status, r.body)
			}
		}
		if n := len(e.do(otherAdmin, http.MethodGet, "/api/v1/sources", nil).json(t)["sources"].([]any)); n != 0 {
			t.Errorf("other profile lists %d sources", n)
		}

		// Delete removes the row and the plugin instance.
		e.mustStatus(e.do(admin, http.MethodDelete, path, nil), http.StatusNoContent)
		e.mustStatus(e.do(admin, http.MethodGet, path, nil), http.StatusNotFound)
		if _, err := e.hello.Client.CheckHealth(t.Context(), id); !errors.Is(err, sdk.ErrUnconfigured) {
			t.Errorf("instance still configured after delete: %v", err)
		}

		// Every change was audited, without secret values, failures too.
		entries, _, err := db.Audit().List(e.ctxOf(admin), store.AuditFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, en := range entries {
			count[en.Action+"/"+en.Outcome]++
			if bytes.Contains(en.Details, []byte(plainSecret)) {
				t.Errorf("audit entry %s holds the secret: %s", en.Action, en.Details)
			}
		}
		for _, want := range []string{"source.create/success", "source.update/success", "source.update/failure", "source.delete/success"} {
			if count[want] == 0 {
				t.Errorf("no %s audit entry; have %v", want, count)
			}
		}
	})
}

func TestSources_testConnection(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, nil)
		admin := e.principal("acme", identity.RoleAdmin)

		good, _ := e.create(admin, "good", map[string]any{"greeting": "hi", "token": plainSecret})
		r := e.do(admin, http.MethodPost, "/api/v1/sources/"+good+"/test", nil)
		e.mustStatus(r, http.StatusOK)
		m := r.json(t)
		if m["status"] != "ok" || m["message"] != "configured" || m["checked_at"] == "" {
			t.Fatalf("test = %s", r.body)
		}

		// The plugin refuses this token when it builds the instance. The
		// source is saved (the schema and ValidateConfig accept it) with an
		// error health, and the test reports the plugin's message, scrubbed.
		bad, _ := e.create(admin, "bad", map[string]any{"greeting": "hi", "token": "revoked"})
		got := e.do(admin, http.MethodGet, "/api/v1/sources/"+bad, nil).json(t)
		if h := got["health"].(map[string]any); h["status"] != "error" || !strings.Contains(h["message"].(string), "was refused") {
			t.Fatalf("health after create = %v", h)
		}
		r = e.do(admin, http.MethodPost, "/api/v1/sources/"+bad+"/test", nil)
		e.mustStatus(r, http.StatusOK)
		m = r.json(t)
		msg, _ := m["message"].(string)
		if m["status"] != "error" || !strings.Contains(msg, "was refused") || strings.Contains(msg, "revoked") {
			t.Fatalf("test of a refused token = %s", r.body)
		}

		// A disabled source can be tested; it is not left configured.
		off := e.do(admin, http.MethodPost, "/api/v1/sources", map[string]any{"plugin_id": e.helloID, "name": "off", "enabled": false, "config": map[string]any{"greeting": "hi"}})
		e.mustStatus(off, http.StatusCreated)
		offID := off.json(t)["id"].(string)
		e.mustStatus(e.do(admin, http.MethodPost, "/api/v1/sources/"+offID+"/test", nil), http.StatusOK)
		if _, err := e.hello.Client.CheckHealth(t.Context(), offID); !errors.Is(err, sdk.ErrUnconfigured) {
			t.Errorf("disabled source left configured after its test: %v", err)
		}

		// A stopped plugin is a 503 naming it and its state.
		e.plugins.setState(e.helloID, "failed")
		r = e.do(admin, http.MethodPost, "/api/v1/sources/"+good+"/test", nil)
		if code, msg := r.errCode(t); r.status != http.StatusServiceUnavailable || code != sources.CodePluginUnavailable || !strings.Contains(msg, e.helloID+" is failed") {
			t.Fatalf("test with the plugin down = %d %s", r.status, r.body)
		}
		e.plugins.setState(e.helloID, "running")

		entries, _, err := db.Audit().List(e.ctxOf(admin), store.AuditFilter{Action: sources.ActionTest}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, en := range entries {
			outcomes[en.Outcome]++
		}
		if outcomes[audit.Success] < 2 || outcomes[audit.Failure] < 2 {
			t.Fatalf("source.test audit outcomes = %v", outcomes)
		}
	})
}

func TestSources_listPagination(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, nil)
		admin := e.principal("acme", identity.RoleAdmin)
		for _, name := range []string{"c", "a", "b"} {
			e.create(admin, name, map[string]any{"greeting": name})
		}
		var names []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("pagination does not end")
			}
			path := "/api/v1/sources?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.do(admin, http.MethodGet, path, nil)
			e.mustStatus(r, http.StatusOK)
			var page struct {
				Sources    []sources.Source `json:"sources"`
				NextCursor string           `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Sources {
				names = append(names, s.Name)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if strings.Join(names, ",") != "a,b,c" {
			t.Fatalf("pages gave %v", names)
		}
		for _, q := range []string{"limit=0", "limit=x", "limit=501", "colour=red", "cursor=%21%21"} {
			if r := e.do(admin, http.MethodGet, "/api/v1/sources?"+q, nil); r.status != http.StatusBadRequest {
				t.Errorf("?%s = %d, want 400: %s", q, r.status, r.body)
			}
		}
	})
}

func TestService_LoadAllConfiguresEveryEnabledSource(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, nil)
		a := e.ctxOf(e.principal("acme", identity.RoleAdmin))
		b := e.ctxOf(e.principal("globex", identity.RoleAdmin))
		off := false
		mk := func(ctx context.Context, name, token string, enabled *bool) string {
			s, err := e.svc.Create(ctx, sources.Input{PluginID: e.helloID, Name: name, Enabled: enabled,
				Config: json.RawMessage(`{"greeting":"hi","token":"` + token + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		s1 := mk(a, "one", "secret-one", nil)
		s2 := mk(b, "two", "secret-two", nil)
		s3 := mk(a, "three", "secret-three", &off)

		// A fresh plugin process (a host restart) holds no instance until
		// LoadAll.
		h := plugintest.Start(t, helloPlugin(t))
		restarted := &testPlugins{}
		restarted.add(t, h.Client)
		svc, err := sources.New(sources.Config{}, e.log, db, e.keys, restarted, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := svc.LoadAll(t.Context())
		if err != nil || n != 2 {
			t.Fatalf("LoadAll = %d, %v; want 2", n, err)
		}
		for id, want := range map[string]string{s1: "secret-one", s2: "secret-two", s3: ""} {
			inst, _ := h.Instance(id).(*hello)
			got := ""
			if inst != nil {
				got = inst.cfg.Token
			}
			if got != want {
				t.Errorf("instance %s token = %q, want %q", id, got, want)
			}
		}

		// Rotation: a new active key; old ciphertexts still open, and
		// RotateSecrets moves them to the new key.
		k2 := testKey("k2")
		both := testKeyring(t, k2, e.key1)
		rot, err := sources.New(sources.Config{}, e.log, db, both, restarted, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := rot.Get(a, s1); err != nil || got.SecretsError != "" {
			t.Fatalf("Get with the old key second = %+v, %v", got, err)
		}
		moved, err := rot.RotateSecrets(t.Context())
		if err != nil || moved != 3 {
			t.Fatalf("RotateSecrets = %d, %v; want 3", moved, err)
		}
		only2, err := sources.New(sources.Config{}, e.log, db, testKeyring(t, k2), restarted, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := only2.Get(b, s2)
		if err != nil || got.SecretsError != "" || !strings.Contains(string(got.Config), sources.Mask) {
			t.Fatalf("after rotation, Get with only the new key = %+v, %v", got, err)
		}
		// Without the old key and before rotation, the error names the key.
		lost, _ := sources.New(sources.Config{}, e.log, db, testKeyring(t, testKey("k3")), restarted, nil)
		got, _ = lost.Get(b, s2)
		if !strings.Contains(got.SecretsError, `"k2"`) || !strings.Contains(got.SecretsError, "PUOD_SECRET_KEY") {
			t.Fatalf("secrets_error = %q, want the key id and the remedy", got.SecretsError)
		}
		// The mask cannot stand for what cannot be read; sending the
		// secret again replaces it.
		for _, cfg := range []string{`{"greeting":"hi","token":"` + sources.Mask + `"}`, `{"greeting":"hi"}`} {
			_, err = lost.Update(b, s2, got.Revision, sources.Input{Name: "two", Config: json.RawMessage(cfg)})
			if !errors.Is(err, secrets.ErrUnknownKey) {
				t.Fatalf("update %s keeping an unreadable secret = %v", cfg, err)
			}
		}
		fixed, err := lost.Update(b, s2, got.Revision, sources.Input{Name: "two", Config: json.RawMessage(`{"greeting":"hi","token":"secret-two-again"}`)})
		if err != nil || fixed.SecretsError != "" {
			t.Fatalf("update re-entering the secret = %+v, %v", fixed, err)
		}
		if inst, _ := h.Instance(s2).(*hello); inst == nil || inst.cfg.Token != "secret-two-again" {
			t.Fatal("re-entered secret did not reach the plugin")
		}
	})
}

func TestSources_routesAreDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t), nil)
	documented, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, op := range documented {
		have[op] = true
	}
	n := 0
	for _, route := range e.srv.Routes() {
		if strings.Contains(route, " /api/v1/sources") {
			n++
			if !have[route] {
				t.Errorf("route %s is not in the OpenAPI document (host/api/openapi/sources.yaml)", route)
			}
		}
	}
	if n != 6 {
		t.Errorf("found %d source routes, want 6", n)
	}
}
