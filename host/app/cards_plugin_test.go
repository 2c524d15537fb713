package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// plugCardType is the card the example connector sdk/examples/hello
// declares, as the catalog names it.
const plugCardType = helloPluginID + "/greeting_runs"

// plugCardAnswer is an answer of POST /api/v1/cards/query.
type plugCardAnswer struct {
	Frame struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		Fields []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Values []any  `json:"values"`
		} `json:"fields"`
	} `json:"frame"`
	AsOf   string   `json:"as_of"`
	Cached bool     `json:"cached"`
	Tags   []string `json:"tags"`
}

// plugCatalogType is a card type of GET /api/v1/card-types.
type plugCatalogType struct {
	Type          string `json:"type"`
	PluginID      string `json:"plugin_id"`
	OptionsSchema struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type  string `json:"type"`
			OneOf []struct {
				Const string `json:"const"`
				Title string `json:"title"`
			} `json:"oneOf"`
		} `json:"properties"`
	} `json:"options_schema"`
}

// plugCardBody is a query of the hello card over the default time range.
func plugCardBody(options map[string]any) map[string]any {
	return map[string]any{"type": plugCardType, "options": options, "time_range": map[string]string{"from": "now-24h", "to": "now"}}
}

// plugCardRaw sends a card query without e.do's rule that no answer is a
// 5xx: a stopped plugin's card must answer 503. The error shape is still
// checked.
func plugCardRaw(t *testing.T, e *testEnv, token string, body map[string]any) resp {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/cards/query", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	res, err := e.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, body: out}
	if r.status >= 400 {
		checkErrorShape(t, "POST /api/v1/cards/query", r)
	}
	return r
}

// TestCardsPlugin_throughRealPlugin queries a plugin's card type through
// the real plugin process (the hello example connector), on a whole host:
// the catalog offers the caller's sources of the plugin, the host checks
// the source and strips it before asking the plugin, caches the answer,
// and says which plugin is missing once it stops.
func TestCardsPlugin_throughRealPlugin(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, dialect)
			admin, _ := e.login(t, "admin", adminPassword)
			send := func(r req, status int) resp {
				t.Helper()
				r.token = admin
				return must(t, e.do(t, r), status)
			}
			var src, other struct{ ID, Name string }
			send(req{method: "POST", path: "/api/v1/sources", body: map[string]any{"plugin_id": helloPluginID, "name": "Hello A",
				"config": map[string]any{"greeting": "hi there", "runs": 7}}}, http.StatusCreated).json(t, &src)
			var prof struct{ ID string }
			send(req{method: "POST", path: "/api/v1/profiles", body: map[string]any{"name": "team-b"}}, http.StatusCreated).json(t, &prof)
			send(req{method: "POST", path: "/api/v1/sources", profile: prof.ID, body: map[string]any{"plugin_id": helloPluginID, "name": "Hello of B",
				"config": map[string]any{"greeting": "b", "runs": 1}}}, http.StatusCreated).json(t, &other)

			// The catalog: the plugin's card needs a source, one of the
			// caller's sources of that plugin.
			for _, tc := range []struct {
				profile, wantID, wantName string
			}{{"", src.ID, "Hello A"}, {prof.ID, other.ID, "Hello of B"}} {
				var cat struct {
					CardTypes []plugCatalogType `json:"card_types"`
				}
				send(req{method: "GET", path: "/api/v1/card-types", profile: tc.profile}, http.StatusOK).json(t, &cat)
				i := slices.IndexFunc(cat.CardTypes, func(ct plugCatalogType) bool { return ct.Type == plugCardType })
				if i < 0 {
					t.Fatalf("profile %q: card types lack %s: %+v", tc.profile, plugCardType, cat.CardTypes)
				}
				ct := cat.CardTypes[i]
				sp, ok := ct.OptionsSchema.Properties["source_id"]
				if ct.PluginID != helloPluginID || !slices.Contains(ct.OptionsSchema.Required, "source_id") || !ok || sp.Type != "string" ||
					len(sp.OneOf) != 1 || sp.OneOf[0].Const != tc.wantID || sp.OneOf[0].Title != tc.wantName {
					t.Errorf("profile %q: %s in the catalog = %+v, want a required source_id offering only %s (%s)",
						tc.profile, plugCardType, ct, tc.wantID, tc.wantName)
				}
				if _, ok := ct.OptionsSchema.Properties["limit"]; !ok {
					t.Errorf("profile %q: the plugin's own options are gone: %+v", tc.profile, ct.OptionsSchema)
				}
			}

			// The plugin answers with its frame; the same query again comes
			// from the cache.
			query := plugCardBody(map[string]any{"source_id": src.ID})
			var first, second plugCardAnswer
			send(req{method: "POST", path: "/api/v1/cards/query", body: query}, http.StatusOK).json(t, &first)
			send(req{method: "POST", path: "/api/v1/cards/query", body: query}, http.StatusOK).json(t, &second)
			fr := first.Frame
			if fr.Name != "greeting_runs" || fr.Type != "categories" || len(fr.Fields) != 2 ||
				fr.Fields[0].Name != "pipeline" || len(fr.Fields[0].Values) != 1 || fr.Fields[0].Values[0] != "hi there" ||
				fr.Fields[1].Name != "runs" || len(fr.Fields[1].Values) != 1 || fr.Fields[1].Values[0] != 7.0 {
				t.Errorf("the plugin's frame (greeting and runs of source Hello A) = %+v", fr)
			}
			if first.Cached || len(first.Tags) != 1 || first.Tags[0] != "source:"+src.ID || first.AsOf == "" {
				t.Errorf("first answer: cached=%v tags=%v as_of=%q", first.Cached, first.Tags, first.AsOf)
			}
			if !second.Cached || second.AsOf != first.AsOf || second.Frame.Name != fr.Name {
				t.Errorf("the same query again: cached=%v as_of=%q (first %q)", second.Cached, second.AsOf, first.AsOf)
			}

			// The source must be the caller's and of this plugin; the
			// plugin's own options are checked against its schema.
			for _, tc := range []struct {
				name    string
				options map[string]any
				field   string
			}{
				{"no source", map[string]any{}, "/options/source_id"},
				{"another profile's source", map[string]any{"source_id": other.ID}, "/options/source_id"},
				{"unknown source", map[string]any{"source_id": "no-such-source"}, "/options/source_id"},
				{"source not a string", map[string]any{"source_id": 12}, "/options/source_id"},
				{"plugin option out of range", map[string]any{"source_id": src.ID, "limit": 0}, "/options/limit"},
			} {
				r := must(t, e.do(t, req{method: "POST", path: "/api/v1/cards/query", token: admin, body: plugCardBody(tc.options)}), http.StatusBadRequest)
				eb := checkErrorShape(t, tc.name, r)
				if eb.Code != "invalid_options" || len(eb.Fields) == 0 || eb.Fields[0].Field != tc.field || !strings.Contains(eb.Message, tc.field) {
					t.Errorf("%s: %s, want invalid_options naming %s", tc.name, r, tc.field)
				}
				if strings.Contains(string(r.body), "Hello of B") {
					t.Errorf("%s: the answer names profile B's source: %s", tc.name, r)
				}
			}

			// The answers were counted, by kind (never by the plugin's type).
			m := must(t, e.do(t, req{method: "GET", path: "/metrics"}), http.StatusOK)
			for _, want := range []string{
				`puod_card_queries_total{cached="true",outcome="ok",type_kind="plugin"} 1`,
				`puod_card_queries_total{cached="false",outcome="ok",type_kind="plugin"} 1`,
				`puod_card_queries_total{cached="false",outcome="error",type_kind="plugin"} 5`,
			} {
				if !strings.Contains(string(m.body), want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if strings.Contains(string(m.body), "greeting_runs") {
				t.Error("/metrics names the plugin's card type")
			}

			// The plugin stops: a card not in the cache says which plugin
			// is missing.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.app.Plugins().Close(ctx); err != nil {
				t.Fatalf("stop the plugins: %v", err)
			}
			uncached := plugCardBody(map[string]any{"source_id": src.ID, "limit": 3})
			deadline := time.Now().Add(30 * time.Second)
			for {
				r := plugCardRaw(t, e, admin, uncached)
				eb := checkErrorShape(t, "card of a stopped plugin", r)
				if r.status == http.StatusServiceUnavailable && eb.Code == "plugin_unavailable" && strings.Contains(eb.Message, helloPluginID) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("card of a stopped plugin: %s, want 503 plugin_unavailable naming %s", r, helloPluginID)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
