package pluginapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

type roleAuth struct{}

func (roleAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	role := strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !identity.Role(role).Valid() {
		return identity.Principal{}, api.Errorf(401, api.CodeUnauthenticated, "authentication required")
	}
	return identity.Principal{UserID: "u", ProfileID: "p", Role: identity.Role(role)}, nil
}

type registry struct{}

func (registry) Plugins() []plugins.Status {
	return []plugins.Status{
		{ID: "puod.databricks", Name: "Databricks", Version: "1.2.0", Kinds: []string{"connector"}, State: plugins.StateRunning, PID: 42,
			LogTail: []string{"workspace adb-123 answered 401"}, Cards: []manifest.Card{{Type: "runs_table", Title: "Runs", Visualization: "table"}}},
		{ID: "broken", State: plugins.StateFailed, LastError: "checksum mismatch for x"},
	}
}

func (registry) ConfigSchema(id string) json.RawMessage {
	if id == "puod.databricks" {
		return json.RawMessage(`{"type":"object","properties":{"workspace_url":{"type":"string"}}}`)
	}
	return nil
}

func (registry) CardTypes() []plugins.CardType {
	return []plugins.CardType{{PluginID: "puod.databricks", Card: manifest.Card{Type: "runs_table", Title: "Runs", Visualization: "table", DefaultSize: &manifest.Size{W: 6, H: 4}}}}
}

type builtins struct{}

func (builtins) CardTypes() []api.CardType {
	return []api.CardType{{Type: "builtin/pipelines_overview", PluginID: "builtin", Title: "Pipelines overview", Visualization: "table"}}
}

func get(t *testing.T, s *api.Server, path, role string) (int, []byte) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+role)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func TestPlugins_logTailForAdminsOnly(t *testing.T) {
	s := api.New(api.Options{}, hclog.NewNullLogger(), roleAuth{})
	Register(s, registry{}, builtins{})
	for _, tt := range []struct {
		role     string
		wantTail bool
	}{{"viewer", false}, {"editor", false}, {"admin", true}} {
		code, body := get(t, s, "/api/v1/plugins", tt.role)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.role, code, body)
		}
		var out struct{ Plugins []PluginJSON }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Plugins) != 2 || out.Plugins[1].ID != "puod.databricks" || out.Plugins[0].LastError == "" {
			t.Fatalf("%s: plugins = %+v", tt.role, out.Plugins)
		}
		if got := strings.Contains(string(body), "answered 401"); got != tt.wantTail {
			t.Fatalf("%s sees the log tail: %v, want %v", tt.role, got, tt.wantTail)
		}
		if !strings.Contains(string(out.Plugins[1].ConfigSchema), "workspace_url") || out.Plugins[0].ConfigSchema != nil {
			t.Fatalf("a running plugin carries its config schema, a failed one none: %+v", out.Plugins)
		}
		if out.Plugins[1].Cards[0].Type != "puod.databricks/runs_table" {
			t.Fatalf("card types are qualified with the plugin id, got %q", out.Plugins[1].Cards[0].Type)
		}
	}
}

func TestCardTypes_unionOfBuiltinsAndPlugins(t *testing.T) {
	s := api.New(api.Options{}, hclog.NewNullLogger(), roleAuth{})
	Register(s, registry{}, builtins{})
	code, body := get(t, s, "/api/v1/card-types", "viewer")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var out struct {
		CardTypes []api.CardType `json:"card_types"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.CardTypes) != 2 || out.CardTypes[0].Type != "builtin/pipelines_overview" || out.CardTypes[1].Type != "puod.databricks/runs_table" {
		t.Fatalf("card types = %+v", out.CardTypes)
	}
	if string(out.CardTypes[1].OptionsSchema) == "" || out.CardTypes[1].DefaultSize.W != 6 {
		t.Fatalf("a card type without options gets an empty object schema and keeps its size: %+v", out.CardTypes[1])
	}
	if code, _ := get(t, s, "/api/v1/card-types", "nobody"); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: %d", code)
	}
}

func TestCardTypes_pluginCardsOfferTheCallersSources(t *testing.T) {
	cases := []struct {
		name    string
		sources []store.SourceRef
		want    []map[string]any
	}{
		{"two sources of the plugin, one of another", []store.SourceRef{
			{ID: "s1", Name: "Prod workspace", PluginID: "puod.databricks"},
			{ID: "s2", Name: "Airflow", PluginID: "puod.airflow"},
			{ID: "s3", Name: "Test workspace", PluginID: "puod.databricks"},
		}, []map[string]any{{"const": "s1", "title": "Prod workspace"}, {"const": "s3", "title": "Test workspace"}}},
		{"no source of the plugin", []store.SourceRef{{ID: "s2", Name: "Airflow", PluginID: "puod.airflow"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := api.New(api.Options{}, hclog.NewNullLogger(), roleAuth{})
			var asked string
			Register(s, registry{}, builtins{}, WithSources(func(ctx context.Context) ([]store.SourceRef, error) {
				p, _ := identity.From(ctx)
				asked = p.ProfileID
				return tc.sources, nil
			}))
			code, body := get(t, s, "/api/v1/card-types", "viewer")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			if asked != "p" {
				t.Fatalf("sources were listed for profile %q, want the caller's", asked)
			}
			var raw struct {
				CardTypes []struct {
					OptionsSchema json.RawMessage `json:"options_schema"`
				} `json:"card_types"`
			}
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			for _, ct := range raw.CardTypes {
				if !strings.Contains(string(ct.OptionsSchema), "source_id") {
					continue // the test's built-in has no schema
				}
				if _, err := schema.Compile(ct.OptionsSchema); err != nil {
					t.Errorf("the options schema does not compile: %v: %s", err, ct.OptionsSchema)
				}
			}
			var out struct {
				CardTypes []struct {
					Type          string `json:"type"`
					OptionsSchema struct {
						Required   []string `json:"required"`
						Properties map[string]struct {
							Type        string           `json:"type"`
							OneOf       []map[string]any `json:"oneOf"`
							Description string           `json:"description"`
						} `json:"properties"`
					} `json:"options_schema"`
				} `json:"card_types"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			for _, ct := range out.CardTypes {
				src, has := ct.OptionsSchema.Properties["source_id"]
				if ct.Type == "builtin/pipelines_overview" {
					if has {
						t.Errorf("a built-in card got a source_id option: %s", body)
					}
					continue
				}
				if !has || len(ct.OptionsSchema.Required) == 0 || ct.OptionsSchema.Required[0] != "source_id" || src.Type != "string" {
					t.Fatalf("%s: source_id is not a required string option: %s", ct.Type, body)
				}
				if len(src.OneOf) != len(tc.want) {
					t.Fatalf("%s: source choices %v, want %v", ct.Type, src.OneOf, tc.want)
				}
				for i, w := range tc.want {
					if src.OneOf[i]["const"] != w["const"] || src.OneOf[i]["title"] != w["title"] {
						t.Errorf("%s: choice %d = %v, want %v", ct.Type, i, src.OneOf[i], w)
					}
				}
				if len(tc.want) == 0 && !strings.Contains(src.Description, "add one") {
					t.Errorf("without sources the option says what to do: %q", src.Description)
				}
			}
		})
	}
}
