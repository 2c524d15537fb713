package collect_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// --- a connector with webhooks, served in-process ----------------------------

const hooksManifest = `{
  "id": "acme.hooks", "name": "Webhook test connector", "version": "1.0.0",
  "kinds": ["connector"], "protocol": [1], "host": ">=0.1.0", "executable": "hooks"
}`

type hooksConfig struct {
	Greeting string `json:"greeting"`
}

type hooks struct{}

func (hooks) ListPipelines(context.Context) ([]sdk.Pipeline, error) { return nil, nil }

func (hooks) ListRuns(context.Context, string, func(sdk.RunBatch) error) error { return nil }

// HandleWebhook reads {"run_id", "job", "state"} (Databricks-like result
// states). It refuses a request that still carries PUOD credentials: they
// must never reach a plugin.
func (hooks) HandleWebhook(_ context.Context, w sdk.Webhook) ([]sdk.Run, error) {
	for _, h := range []string{"Authorization", collect.SignatureHeader} {
		if _, ok := w.Headers[h]; ok {
			return nil, sdk.PermanentError("header %s reached the plugin", h)
		}
	}
	var body struct {
		RunID string `json:"run_id"`
		Job   string `json:"job"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(w.Body, &body); err != nil || body.RunID == "" {
		return nil, sdk.PermanentError("not a job notification: %v", err)
	}
	state := map[string]sdk.RunState{"RUNNING": sdk.StateRunning, "SUCCESS": sdk.StateSucceeded, "FAILED": sdk.StateFailed}[body.State]
	return []sdk.Run{{ExternalID: body.RunID, PipelineExternalID: body.Job, PipelineName: body.Job, State: state, RawState: body.State,
		URL: "https://dbx.example/jobs/runs/" + body.RunID}}, nil
}

// clientConnectors implements collect.Connectors over in-process plugin
// clients, the way the manager does over processes.
type clientConnectors struct {
	mu      sync.Mutex
	clients map[string]*sdk.Client
}

func (c *clientConnectors) client(id string) (*sdk.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[id]
	if !ok {
		return nil, fmt.Errorf("%w: plugin %s", collect.ErrPluginUnavailable, id)
	}
	return cl, nil
}

func (c *clientConnectors) ListRuns(ctx context.Context, pluginID, instanceID, cursor string, maxBatch int, fn func(*pb.RunBatch) error) error {
	cl, err := c.client(pluginID)
	if err != nil {
		return err
	}
	return cl.ListRunsProto(ctx, instanceID, cursor, maxBatch, fn)
}

func (c *clientConnectors) ListPipelines(ctx context.Context, pluginID, instanceID string) ([]sdk.Pipeline, error) {
	cl, err := c.client(pluginID)
	if err != nil {
		return nil, err
	}
	return cl.ListPipelines(ctx, instanceID)
}

func (c *clientConnectors) HandleWebhook(ctx context.Context, pluginID, instanceID string, w sdk.Webhook) ([]sdk.Run, error) {
	cl, err := c.client(pluginID)
	if err != nil {
		return nil, err
	}
	return cl.HandleWebhook(ctx, instanceID, w)
}

// hooksEnv is an environment with the webhook connector and one source of
// it in profile "acme".
func hooksEnv(t *testing.T, db *store.DB) (*env, store.Source, context.Context) {
	t.Helper()
	cl := plugintest.Serve(t, sdk.Plugin[hooksConfig]{Manifest: []byte(hooksManifest),
		New: func(context.Context, hooksConfig, sdk.Env) (any, error) { return hooks{}, nil }})
	conns := &clientConnectors{clients: map[string]*sdk.Client{"acme.hooks": cl}}
	e := newEnv(t, db, envOptions{conns: conns})
	ctx, _ := e.member("acme", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hooks", Name: "dbx", Config: json.RawMessage(`{"greeting":"x"}`), Enabled: true, PollIntervalSeconds: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Configure(ctx, sdk.InstanceConfig{ID: src.ID, Revision: src.Revision, Config: src.Config}); err != nil {
		t.Fatal(err)
	}
	return e, src, ctx
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TestWebhook_authentication: without the source's secret nothing reaches
// the plugin or the store (401); with it — bearer, basic or HMAC — the
// plugin's runs are stored without moving the cursor, once.
func TestWebhook_authentication(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e, src, ctx := hooksEnv(t, db)
		evs := e.subscribe()
		path := "/api/v1/webhooks/" + src.ID
		body := []byte(`{"run_id":"r-1","job":"etl_vendas_daily","state":"FAILED"}`)

		// No secret created yet: every attempt is refused.
		if r := e.do(http.MethodPost, path, "anything", body); r.status != http.StatusUnauthorized {
			t.Fatalf("webhook before a secret exists: %d %s", r.status, r.body)
		}

		_, editor := e.member("acme", identity.RoleEditor)
		if r := e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/webhook-secret", editor, nil); r.status != http.StatusForbidden {
			t.Fatalf("editor creates a webhook secret: %d, want 403", r.status)
		}
		_, admin := e.member("acme", identity.RoleAdmin)
		r := e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/webhook-secret", admin, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("create webhook secret: %d %s", r.status, r.body)
		}
		var ws collect.WebhookSecret
		r.decode(t, &ws)
		if ws.Secret == "" || ws.Path != path || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("webhook secret answer %+v (headers %v)", ws, r.header)
		}

		_, otherAdmin := e.member("other", identity.RoleAdmin)
		if r := e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/webhook-secret", otherAdmin, nil); r.status != http.StatusNotFound {
			t.Fatalf("admin of another profile creates a secret: %d, want 404", r.status)
		}

		refused := map[string][]string{
			"no credentials":      nil,
			"wrong bearer":        {"Authorization", "Bearer " + ws.Secret + "x"},
			"a PUOD token":        {"Authorization", "Bearer " + admin},
			"wrong signature":     {collect.SignatureHeader, sign(ws.Secret+"x", body)},
			"signature of other":  {collect.SignatureHeader, sign(ws.Secret, []byte(`{}`))},
			"malformed signature": {collect.SignatureHeader, "md5=abc"},
			"wrong basic":         {"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:nope"))},
		}
		for name, hdr := range refused {
			if r := e.do(http.MethodPost, path, "", body, hdr...); r.status != http.StatusUnauthorized {
				t.Errorf("%s: %d %s, want 401", name, r.status, r.body)
			}
		}
		if r := e.do(http.MethodPost, "/api/v1/webhooks/no-such-source", "", body, "Authorization", "Bearer "+ws.Secret); r.status != http.StatusUnauthorized {
			t.Errorf("unknown source: %d, want 401", r.status)
		}
		if n := runCount(t, db, ctx, src.ID); n != 0 || len(evs.snapshot()) != 0 {
			t.Fatalf("refused webhooks stored %d runs and %d events", n, len(evs.snapshot()))
		}

		accepted := []struct {
			name string
			body []byte
			hdr  []string
		}{
			{"bearer", body, []string{"Authorization", "Bearer " + ws.Secret}},
			{"signature", []byte(`{"run_id":"r-2","job":"etl_vendas_daily","state":"RUNNING"}`), nil},
			{"basic", []byte(`{"run_id":"r-3","job":"ingest_clientes","state":"SUCCESS"}`), []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("databricks:"+ws.Secret))}},
		}
		accepted[1].hdr = []string{collect.SignatureHeader, sign(ws.Secret, accepted[1].body)}
		for _, a := range accepted {
			r := e.do(http.MethodPost, path, "", a.body, a.hdr...)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", a.name, r.status, r.body)
			}
			var out struct{ Received, Changed int }
			r.decode(t, &out)
			if out.Received != 1 || out.Changed != 1 {
				t.Fatalf("%s: %+v, want one run received and changed", a.name, out)
			}
		}
		// The vendor retries: nothing changes.
		if r := e.do(http.MethodPost, path, "", body, "Authorization", "Bearer "+ws.Secret); r.status != http.StatusOK || string(r.body) != `{"changed":0,"received":1}` {
			t.Fatalf("replayed webhook: %d %s", r.status, r.body)
		}
		got, err := db.Runs().GetByExternalID(ctx, src.ID, "r-1")
		if err != nil || got.State != store.RunFailed || got.URL != "https://dbx.example/jobs/runs/r-1" || got.PipelineName != "etl_vendas_daily" {
			t.Fatalf("stored run %+v, %v", got, err)
		}
		if n := runCount(t, db, ctx, src.ID); n != 3 || len(evs.snapshot()) != 3 {
			t.Fatalf("%d runs and %d events, want 3 and 3", n, len(evs.snapshot()))
		}
		if c := cursorOf(t, db, ctx, src.ID); c != "" {
			t.Fatalf("a webhook moved the cursor to %q", c)
		}

		// A payload the plugin cannot read: 400, nothing stored.
		bad := []byte(`not json`)
		if r := e.do(http.MethodPost, path, "", bad, collect.SignatureHeader, sign(ws.Secret, bad)); r.status != http.StatusBadRequest {
			t.Fatalf("unreadable payload: %d %s, want 400", r.status, r.body)
		}

		// The payload must be one JSON object, checked by the host after
		// the credentials: without them, a bad payload is still a 401.
		if r := e.do(http.MethodPost, path, "", `{"run_id":`); r.status != http.StatusUnauthorized {
			t.Fatalf("malformed payload without credentials: %d %s, want 401", r.status, r.body)
		}
		for _, c := range []struct {
			name, body string
			hdr        []string
			want       int
			msg        string
		}{
			{"malformed", `{"run_id":`, nil, http.StatusBadRequest, "malformed JSON"},
			{"trailing data", string(body) + ` {}`, nil, http.StatusBadRequest, "after the JSON value"},
			{"an array", `[` + string(body) + `]`, nil, http.StatusBadRequest, "object"},
			{"a string", `"x"`, nil, http.StatusBadRequest, "object"},
			{"text/plain", string(body), []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "application/json"},
		} {
			hdr := append([]string{"Authorization", "Bearer " + ws.Secret}, c.hdr...)
			r := e.do(http.MethodPost, path, "", c.body, hdr...)
			var ae apiError
			if r.status == c.want {
				r.decode(t, &ae)
			}
			if r.status != c.want || !strings.Contains(ae.Error.Message, c.msg) {
				t.Errorf("payload %s: %d %s, want %d naming %q", c.name, r.status, r.body, c.want, c.msg)
			}
		}
		// A structured +json type is JSON too.
		if r := e.do(http.MethodPost, path, "", body, "Authorization", "Bearer "+ws.Secret, "Content-Type", "application/vnd.dbx+json; charset=utf-8"); r.status != http.StatusOK {
			t.Fatalf("+json payload: %d %s", r.status, r.body)
		}

		// A new secret replaces the old one at once.
		r = e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/webhook-secret", admin, nil)
		var ws2 collect.WebhookSecret
		r.decode(t, &ws2)
		if r := e.do(http.MethodPost, path, "", body, "Authorization", "Bearer "+ws.Secret); r.status != http.StatusUnauthorized {
			t.Fatalf("old secret after rotation: %d, want 401", r.status)
		}
		if r := e.do(http.MethodPost, path, "", body, "Authorization", "Bearer "+ws2.Secret); r.status != http.StatusOK {
			t.Fatalf("new secret: %d %s", r.status, r.body)
		}
	})
}

// TestWebhook_pluginDown: a notification for a source whose plugin does not
// run answers 503 (the vendor retries) and stores nothing.
func TestWebhook_pluginDown(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx, admin := e.member("acme", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hooks", Name: "dbx", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var ws collect.WebhookSecret
	e.do(http.MethodPost, "/api/v1/sources/"+src.ID+"/webhook-secret", admin, nil).decode(t, &ws)
	r := e.do(http.MethodPost, "/api/v1/webhooks/"+src.ID, "", `{"run_id":"1"}`, "Authorization", "Bearer "+ws.Secret)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("plugin down: %d %s (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
}
