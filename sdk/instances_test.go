package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
	"github.com/puod/puod/sdk/schema"
)

func TestConfigure_instanceLifecycle(t *testing.T) {
	s := serveKit(t, nil)
	// Each step runs on the state the previous steps left.
	steps := []struct {
		name     string
		do       func(t *testing.T) error
		wantKind sdk.ErrorKind // "" : success
		news     int32         // New calls so far
		serving  string        // pipeline name instance "a" answers ("" : not configured)
		disposed []bool        // per instance built so far
	}{
		{
			name: "first configure builds",
			do:   configureStep(s, "a", 1, `{"name": "one"}`),
			news: 1, serving: "one", disposed: []bool{false},
		},
		{
			name: "same revision is a no-op",
			do:   configureStep(s, "a", 1, `{"name": "changed"}`),
			news: 1, serving: "one", disposed: []bool{false},
		},
		{
			name: "higher revision rebuilds and disposes the old instance",
			do:   configureStep(s, "a", 2, `{"name": "two"}`),
			news: 2, serving: "two", disposed: []bool{true, false},
		},
		{
			name:     "failed rebuild keeps the old instance serving",
			do:       configureStep(s, "a", 3, `{"name": "three", "mode": "new-fails"}`),
			wantKind: sdk.KindAuth,
			news:     3, serving: "two", disposed: []bool{true, false},
		},
		{
			name:     "invalid configuration keeps the old instance serving",
			do:       configureStep(s, "a", 3, `{"runs": -1}`),
			wantKind: sdk.KindConfig,
			news:     3, serving: "two", disposed: []bool{true, false},
		},
		{
			name: "the failed revision can be retried",
			do:   configureStep(s, "a", 3, `{"name": "three"}`),
			news: 4, serving: "three", disposed: []bool{true, true, false},
		},
		{
			name: "other instances are independent",
			do:   configureStep(s, "b", 1, `{"name": "bee"}`),
			news: 5, serving: "three", disposed: []bool{true, true, false, false},
		},
		{
			name: "RemoveInstance disposes",
			do:   func(t *testing.T) error { return s.RemoveInstance(ctx(t), "a") },
			news: 5, serving: "", disposed: []bool{true, true, true, false},
		},
		{
			name: "removing an unknown instance is fine",
			do:   func(t *testing.T) error { return s.RemoveInstance(ctx(t), "never-configured") },
			news: 5, serving: "", disposed: []bool{true, true, true, false},
		},
		{
			name: "configure again after removal builds anew at any revision",
			do:   configureStep(s, "a", 1, `{"name": "again"}`),
			news: 6, serving: "again", disposed: []bool{true, true, true, false, false},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do(t)
			if st.wantKind == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if st.wantKind != "" {
				assertTyped(t, err, st.wantKind)
			}
			if got := s.news.Load(); got != st.news {
				t.Errorf("New called %d times, want %d", got, st.news)
			}
			_, err = s.ListPipelines(ctx(t), "a")
			switch {
			case st.serving == "":
				assertTyped(t, err, sdk.KindUnconfigured)
			case err != nil:
				t.Errorf("instance a does not serve: %v", err)
			default:
				if got := s.pipelineName(t, "a"); got != st.serving {
					t.Errorf("instance a serves %q, want %q", got, st.serving)
				}
			}
			built := s.builds()
			if len(built) != len(st.disposed) {
				t.Fatalf("%d instances built, want %d", len(built), len(st.disposed))
			}
			for i, k := range built {
				if k.disposed.Load() != st.disposed[i] {
					t.Errorf("instance %d (%s rev %d) disposed = %v, want %v", i, k.cfg.Name, k.env.Revision, k.disposed.Load(), st.disposed[i])
				}
			}
		})
	}
}

func configureStep(s *kitServer, id string, rev int64, config string) func(t *testing.T) error {
	return func(t *testing.T) error {
		return s.Configure(ctx(t), sdk.InstanceConfig{ID: id, Revision: rev, Config: json.RawMessage(config)})
	}
}

func TestConfigure_envDescribesTheInstance(t *testing.T) {
	s := serveKit(t, nil)
	s.configure(t, "src-42", 7, `{"name": "n"}`, nil)
	env := s.builds()[0].env
	if env.InstanceID != "src-42" || env.Revision != 7 || env.Logger == nil || env.Host == nil {
		t.Errorf("env = %+v", env)
	}
	// The harness offers no host services: they answer Unimplemented.
	_, _, err := env.Host.GetState(ctx(t), "src-42", "k")
	if !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("GetState without host services: %v", err)
	}
}

func TestConfigure_emptyInstanceIDIsAConfigError(t *testing.T) {
	s := serveKit(t, nil)
	err := s.Configure(ctx(t), sdk.InstanceConfig{Revision: 1, Config: json.RawMessage(`{"name": "n"}`)})
	assertTyped(t, err, sdk.KindConfig)
	if s.news.Load() != 0 {
		t.Error("New was called for an empty instance id")
	}
}

func TestCalls_unknownInstanceIsUnconfigured(t *testing.T) {
	s := serveKit(t, nil)
	s.configure(t, "known", 1, `{"name": "n"}`, nil)
	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"ListPipelines", func(ctx context.Context) error { _, err := s.ListPipelines(ctx, "x"); return err }},
		{"ListRuns", func(ctx context.Context) error {
			return s.ListRuns(ctx, "x", "", 0, func(sdk.RunBatch) error { return nil })
		}},
		{"QueryCard", func(ctx context.Context) error {
			_, err := s.QueryCard(ctx, "x", sdk.CardQuery{CardType: "runs"})
			return err
		}},
		{"HandleWebhook", func(ctx context.Context) error { _, err := s.HandleWebhook(ctx, "x", sdk.Webhook{}); return err }},
		{"Notify", func(ctx context.Context) error { _, err := s.Notify(ctx, "x", sdk.Notification{ID: "n"}); return err }},
		{"CheckHealth", func(ctx context.Context) error { _, err := s.CheckHealth(ctx, "x"); return err }},
		{"Export", func(ctx context.Context) error {
			_, err := s.Export(ctx, "x", sdk.ExportHeader{Format: "csv"}, frameList(), io.Discard)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := assertTyped(t, c.call(ctx(t)), sdk.KindUnconfigured)
			if !strings.Contains(e.Message, `"x"`) || !strings.Contains(e.Message, "Configure") {
				t.Errorf("message %q should name the instance and the remedy", e.Message)
			}
		})
	}
	t.Run("plugin health needs no instance", func(t *testing.T) {
		h, err := s.CheckHealth(ctx(t), "")
		if err != nil || h.Status != sdk.HealthOK {
			t.Errorf("CheckHealth(\"\") = %+v, %v", h, err)
		}
	})
}

func TestCalls_capabilityTheInstanceLacksIsUnimplemented(t *testing.T) {
	// An instance without HandleWebhook (optional) serves a connector.
	c := plugintest.Serve(t, sdk.Plugin[struct{}]{
		Manifest: []byte(manifestWith(`["connector"]`, "")),
		New:      func(context.Context, struct{}, sdk.Env) (any, error) { return connectorOnly{}, nil },
	})
	if err := c.Configure(ctx(t), sdk.InstanceConfig{ID: "i", Revision: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := c.HandleWebhook(ctx(t), "i", sdk.Webhook{Body: []byte("{}")})
	e := assertTyped(t, err, sdk.KindUnimplemented)
	if !strings.Contains(e.Message, "WebhookHandler") {
		t.Errorf("message %q does not name WebhookHandler", e.Message)
	}
	// No alertsink kind: the service is not registered at all.
	_, err = c.Notify(ctx(t), "i", sdk.Notification{ID: "n"})
	assertTyped(t, err, sdk.KindUnimplemented)
	// An instance without CheckHealth reports OK once configured.
	if h, err := c.CheckHealth(ctx(t), "i"); err != nil || h.Status != sdk.HealthOK || h.Message != "configured" {
		t.Errorf("CheckHealth = %+v, %v", h, err)
	}
}

func manifestWith(kinds, extra string) string {
	return `{"id": "test.caps", "name": "Caps", "version": "0.1.0", "kinds": ` + kinds +
		`, "protocol": [1], "host": ">=0.1.0", "executable": "caps"` + extra + `}`
}

type disposeCounter struct{ n *atomic.Int32 }

func (d disposeCounter) Dispose() { d.n.Add(1) }

type nothing struct{ disposeCounter }

type pipelinesOnly struct{ disposeCounter }

func (pipelinesOnly) ListPipelines(context.Context) ([]sdk.Pipeline, error) { return nil, nil }

type connectorOnly struct{ disposeCounter }

func (connectorOnly) ListPipelines(context.Context) ([]sdk.Pipeline, error) { return nil, nil }
func (connectorOnly) ListRuns(context.Context, string, func(sdk.RunBatch) error) error {
	return nil
}

type sinkOnly struct{ disposeCounter }

func (sinkOnly) Notify(context.Context, sdk.Notification) error { return nil }

func TestConfigure_refusesInstanceMissingCapabilities(t *testing.T) {
	const cards = `, "cards": [{"type": "c", "title": "C", "visualization": "stat"}]`
	const exports = `, "exports": [{"id": "csv", "mime_type": "text/csv", "extension": "csv"}]`
	cases := []struct {
		name     string
		manifest string
		inst     func(disposeCounter) any
		missing  []string // named in the error; none: accepted
	}{
		{"connector without anything", manifestWith(`["connector"]`, ""), func(d disposeCounter) any { return nothing{d} }, []string{"Connector (ListPipelines, ListRuns)"}},
		{"connector without ListRuns", manifestWith(`["connector"]`, ""), func(d disposeCounter) any { return pipelinesOnly{d} }, []string{"Connector"}},
		{"connector with cards but no QueryCard", manifestWith(`["connector"]`, cards), func(d disposeCounter) any { return connectorOnly{d} }, []string{"CardQuerier (QueryCard)"}},
		{"alert sink", manifestWith(`["alertsink"]`, ""), func(d disposeCounter) any { return connectorOnly{d} }, []string{"AlertSink (Notify)"}},
		{"exporter", manifestWith(`["exporter"]`, exports), func(d disposeCounter) any { return sinkOnly{d} }, []string{"Exporter (Export)"}},
		{"several kinds, several missing", manifestWith(`["connector", "alertsink", "exporter"]`, exports), func(d disposeCounter) any { return nothing{d} }, []string{"Connector", "AlertSink", "Exporter"}},
		{"connector without cards needs no QueryCard", manifestWith(`["connector"]`, ""), func(d disposeCounter) any { return connectorOnly{d} }, nil},
		{"alert sink complete", manifestWith(`["alertsink"]`, ""), func(d disposeCounter) any { return sinkOnly{d} }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var disposed atomic.Int32
			client := plugintest.Serve(t, sdk.Plugin[struct{}]{
				Manifest: []byte(c.manifest),
				New: func(context.Context, struct{}, sdk.Env) (any, error) {
					return c.inst(disposeCounter{&disposed}), nil
				},
			})
			err := client.Configure(ctx(t), sdk.InstanceConfig{ID: "i", Revision: 1})
			if len(c.missing) == 0 {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				return
			}
			e := assertTyped(t, err, sdk.KindInternal)
			for _, m := range c.missing {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not name %q", e.Message, m)
				}
			}
			if !strings.Contains(e.Message, "plugin.json kinds") {
				t.Errorf("message %q does not point at the manifest kinds", e.Message)
			}
			if disposed.Load() != 1 {
				t.Errorf("the refused instance was disposed %d times, want 1", disposed.Load())
			}
			_, err = client.CheckHealth(ctx(t), "i")
			assertTyped(t, err, sdk.KindUnconfigured)
		})
	}
}

func TestValidateConfig_decodesLikeConfigure(t *testing.T) {
	s := serveKit(t, nil)
	type fe struct{ field, message string } // message is a fragment
	cases := []struct {
		name    string
		config  string
		secrets map[string]string
		want    []fe
	}{
		{"valid", `{"name": "x", "runs": 3}`, nil, nil},
		{"valid with secret", `{"name": "x"}`, map[string]string{"token": "t0k3n-value"}, nil},
		{"missing required", `{"runs": 3}`, nil, []fe{{"/name", "is required"}}},
		{"empty config", ``, nil, []fe{{"/name", "is required"}}},
		{"null config", `null`, nil, []fe{{"", "object"}}},
		{"wrong type", `{"name": "x", "runs": "3"}`, nil, []fe{{"/runs", "integer"}}},
		{"below minimum", `{"name": "x", "runs": -1}`, nil, []fe{{"/runs", "minimum"}}},
		{"several problems", `{"name": "", "runs": -1}`, nil, []fe{{"/name", "minLength"}, {"/runs", "minimum"}}},
		{"unknown field", `{"name": "x", "colour": "red"}`, nil, []fe{{"", "colour"}}},
		{"secret for an unknown field", `{"name": "x"}`, map[string]string{"password": "hunter22"}, []fe{{"", "password"}}},
		{"not an object", `[1, 2]`, map[string]string{"token": "t0k3n-value"}, []fe{{"", "JSON object"}}},
		{"not JSON", `{"name": `, nil, []fe{{"", "not valid JSON"}}},
		{"Validate returns FieldErrors", `{"name": "bad", "mode": "invalid-fields"}`, nil, []fe{{"/name", "must not be bad"}, {"/runs", "too many"}}},
		{"Validate returns a ConfigError", `{"name": "x", "mode": "invalid-field"}`, nil, []fe{{"/mode", "needs a token"}}},
		{"Validate returns a plain error", `{"name": "x", "mode": "invalid-plain"}`, nil, []fe{{"", "plain validation failure"}}},
		{"Validate sees merged secrets", `{"name": "x", "mode": "invalid-fields"}`, map[string]string{"token": "merged-token"}, []fe{{"/name", "must not be x"}, {"/runs", "for token [REDACTED]"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.ValidateConfig(ctx(t), json.RawMessage(c.config), c.secrets)
			if err != nil {
				t.Fatalf("ValidateConfig: %v", err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("field errors = %v, want %v", got, c.want)
			}
			for i, w := range c.want {
				if got[i].Field != w.field || !strings.Contains(got[i].Message, w.message) {
					t.Errorf("field error %d = %+v, want %q containing %q", i, got[i], w.field, w.message)
				}
			}
			// Configure agrees: it fails with a ConfigError at the first field.
			err = s.Configure(ctx(t), sdk.InstanceConfig{ID: "v-" + c.name, Revision: 1, Config: json.RawMessage(c.config), Secrets: c.secrets})
			if len(c.want) == 0 {
				if err != nil {
					t.Errorf("Configure of a valid config: %v", err)
				}
				return
			}
			e := assertTyped(t, err, sdk.KindConfig)
			if e.Field != c.want[0].field {
				t.Errorf("Configure error field = %q, want %q", e.Field, c.want[0].field)
			}
		})
	}
	if got := s.news.Load(); got != 2 {
		t.Errorf("New called %d times, want 2 (the valid configurations only)", got)
	}
}

func TestConfigure_mergesSecretsIntoConfig(t *testing.T) {
	s := serveKit(t, nil)
	cases := []struct {
		name      string
		config    string
		secrets   map[string]string
		wantToken string
	}{
		{"secret added", `{"name": "x"}`, map[string]string{"token": "from-secrets"}, "from-secrets"},
		{"secret wins over config", `{"name": "x", "token": "from-config"}`, map[string]string{"token": "from-secrets"}, "from-secrets"},
		{"secret with quotes", `{"name": "x"}`, map[string]string{"token": `a"b\c`}, `a"b\c`},
		{"no secrets", `{"name": "x", "token": "inline"}`, nil, "inline"},
		{"empty config", ``, map[string]string{"token": "only-secret", "name": "named-by-secret"}, "only-secret"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.configure(t, c.name, 1, c.config, c.secrets)
			if got := s.builds()[i].cfg.Token; got != c.wantToken {
				t.Errorf("New saw token %q, want %q", got, c.wantToken)
			}
		})
	}
}

func TestConfig_manifestSchemaWinsAndUnknownFieldsStillFail(t *testing.T) {
	type cfg struct {
		Name string `json:"name"`
	}
	// The manifest's schema is looser than the struct: it allows any
	// property and requires none. Decoding still refuses unknown fields.
	m := manifestWith(`["alertsink"]`, `, "config": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}, "key": {"type": "string", "x-secret": true}}}`)
	c := plugintest.Serve(t, sdk.Plugin[cfg]{
		Manifest: []byte(m),
		New:      func(context.Context, cfg, sdk.Env) (any, error) { return sinkOnly{}, nil },
	})
	d, err := c.Describe(ctx(t), sdk.DescribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := schema.SecretFields(d.ConfigSchema); !slices.Equal(got, []string{"key"}) {
		t.Errorf("Describe config schema secret fields = %v, want the manifest's [key]", got)
	}
	cases := []struct {
		name, config, field, message string
	}{
		{"manifest constraint applies", `{"name": "long"}`, "/name", "maxLength"},
		{"field unknown to the struct", `{"name": "ok", "extra": 1}`, "", `does not fit the plugin's config type`},
	}
	for _, cc := range cases {
		t.Run(cc.name, func(t *testing.T) {
			fes, err := c.ValidateConfig(ctx(t), json.RawMessage(cc.config), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(fes) != 1 || fes[0].Field != cc.field || !strings.Contains(fes[0].Message, cc.message) {
				t.Errorf("field errors = %v, want one at %q containing %q", fes, cc.field, cc.message)
			}
		})
	}
}

func TestDescribe_answersFromManifest(t *testing.T) {
	s := serveKit(t, nil)
	d, err := s.Describe(ctx(t), sdk.DescribeOptions{HostVersion: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "test.kit" || d.Name != "Kit" || d.Version != "1.0.0" || d.ProtocolVersion != sdk.ProtocolVersion || d.SDKVersion != "go/"+sdk.Version {
		t.Errorf("description = %+v", d)
	}
	if !slices.Equal(d.Kinds, []string{"connector", "alertsink", "exporter"}) {
		t.Errorf("kinds = %v", d.Kinds)
	}
	if len(d.Cards) != 1 || d.Cards[0].Type != "runs" || d.Cards[0].Visualization != "table" {
		t.Errorf("cards = %+v", d.Cards)
	}
	if len(d.Exports) != 1 || d.Exports[0].ID != "csv" || d.Exports[0].MIMEType != "text/csv" || d.Exports[0].Extension != "csv" {
		t.Errorf("exports = %+v", d.Exports)
	}
	derived, err := schema.FromStruct(&kitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(d.ConfigSchema, derived) {
		t.Errorf("config schema = %s, want the one derived from the config struct %s", d.ConfigSchema, derived)
	}
	if got := schema.SecretFields(d.ConfigSchema); !slices.Equal(got, []string{"token"}) {
		t.Errorf("secret fields = %v", got)
	}
}

// TestPlugin_invalidConfigSchemaFailsValidation: the config schema is
// compiled on first use, off the start-up path (the host refuses such a
// bundle before starting it anyway); the first validation says what is
// wrong instead of accepting anything.
func TestPlugin_invalidConfigSchemaFailsValidation(t *testing.T) {
	p := sdk.Plugin[struct{}]{Manifest: []byte(manifestWith(`["alertsink"]`, `, "config": {"type": 7}`)),
		New: func(context.Context, struct{}, sdk.Env) (any, error) { return nil, nil }}
	c := plugintest.Serve(t, p)
	fe, err := c.ValidateConfig(context.Background(), []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fe) != 1 || !strings.Contains(fe[0].Message, "config schema is invalid") {
		t.Fatalf("field errors = %+v, want the invalid schema reported", fe)
	}
}

func TestPlugin_misdeclaredPluginIsRefused(t *testing.T) {
	newFn := func(context.Context, struct{}, sdk.Env) (any, error) { return nil, nil }
	cases := []struct {
		name string
		p    sdk.Plugin[struct{}]
		want string
	}{
		{"no New", sdk.Plugin[struct{}]{Manifest: []byte(manifestWith(`["alertsink"]`, ""))}, "New is nil"},
		{"invalid manifest", sdk.Plugin[struct{}]{Manifest: []byte(`{"id": "X"}`), New: newFn}, "embedded plugin.json is invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.p.ServeConfig()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ServeConfig error = %v, want one containing %q", err, c.want)
			}
		})
	}
}
