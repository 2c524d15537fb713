package cards_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// fakePlugins is the plugin manager as the card service sees it: status
// is acme.hello's (nil: the manager has no bundle of it), described says
// whether its running process declares greeting_runs.
type fakePlugins struct {
	status    *plugins.Status
	described bool
	queryErr  error
	calls     int
}

func helloCard() manifest.Card {
	return manifest.Card{Type: "greeting_runs", Title: "Hello runs", Visualization: "bar",
		Options: []byte(`{"type":"object","additionalProperties":false,"properties":{"limit":{"type":"integer","minimum":1}}}`)}
}

func runningHello() *fakePlugins {
	return &fakePlugins{status: &plugins.Status{ID: "acme.hello", State: plugins.StateRunning, Cards: []manifest.Card{helloCard()}}, described: true}
}

func (f *fakePlugins) Plugins() []plugins.Status {
	if f.status == nil {
		return nil
	}
	return []plugins.Status{*f.status}
}

func (f *fakePlugins) CardTypes() []plugins.CardType {
	if !f.described {
		return nil
	}
	return []plugins.CardType{{PluginID: "acme.hello", Card: helloCard()}}
}

func (f *fakePlugins) QueryCard(_ context.Context, _, _ string, q sdk.CardQuery) (*sdk.Frame, error) {
	f.calls++
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	return sdk.NewFrame(q.CardType, sdk.FrameCategories, sdk.StringField("pipeline", "hello"), sdk.IntField("runs", 3)), nil
}

// A plugin card whose plugin does not run answers 503 naming the plugin
// and its state, whatever the reason; a type no plugin could serve is 404.
func TestQuery_pluginNotRunning(t *testing.T) {
	withStatus := func(state, lastErr string, cards ...manifest.Card) *fakePlugins {
		return &fakePlugins{status: &plugins.Status{ID: "acme.hello", State: state, LastError: lastErr, Cards: cards}}
	}
	cases := []struct {
		name    string
		plugins *fakePlugins
		typ     string
		source  func(e *env) string
		status  int
		says    []string
	}{
		{"in backoff", withStatus(plugins.StateBackoff, "exit status 2", helloCard()), "", nil, 503,
			[]string{"plugin acme.hello is backoff (exit status 2)"}},
		{"refused bundle", withStatus(plugins.StateFailed, "checksum mismatch"), "", nil, 503,
			[]string{"plugin acme.hello is failed (checksum mismatch)"}},
		{"running, not described yet", withStatus(plugins.StateRunning, "", helloCard()), "", nil, 503,
			[]string{"plugin acme.hello is starting"}},
		{"stopped between resolution and the call", &fakePlugins{status: &plugins.Status{ID: "acme.hello", State: plugins.StateDraining, Cards: []manifest.Card{helloCard()}},
			described: true, queryErr: fmt.Errorf("plugin acme.hello is draining: %w", plugins.ErrNotRunning)}, "", nil, 503,
			[]string{"plugin acme.hello is draining"}},
		{"no bundle, card of one of the caller's sources", &fakePlugins{}, "", nil, 503,
			[]string{"plugin acme.hello is not running", `source "airflow"`}},
		{"in backoff, a card its manifest lacks", withStatus(plugins.StateBackoff, "", helloCard()), "acme.hello/nope", nil, 404, nil},
		{"running, a card it lacks", runningHello(), "acme.hello/nope", nil, 404, nil},
		{"no bundle, no source named", &fakePlugins{}, "", func(*env) string { return "" }, 404, nil},
		{"no bundle, another plugin's source", &fakePlugins{}, "acme.other/greeting_runs", nil, 404, nil},
		{"no bundle, unknown source", &fakePlugins{}, "", func(*env) string { return "nope" }, 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, storetest.OpenSQLite(t), nil, tc.plugins)
			typ := tc.typ
			if typ == "" {
				typ = "acme.hello/greeting_runs"
			}
			opts := map[string]any{"source_id": e.source}
			if tc.source != nil {
				if id := tc.source(e); id != "" {
					opts["source_id"] = id
				} else {
					delete(opts, "source_id")
				}
			}
			a := e.query("a", card(typ, opts))
			code := map[int]string{503: cards.CodePluginUnavailable, 404: cards.CodeCardTypeNotFound}[tc.status]
			if a.status != tc.status || a.Error.Code != code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.raw, tc.status, code)
			}
			for _, s := range tc.says {
				if !strings.Contains(a.Error.Message, s) {
					t.Errorf("message %q does not say %q", a.Error.Message, s)
				}
			}
		})
	}
}
