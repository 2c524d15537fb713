// Package pluginapi serves the plugin manager's state over HTTP:
// GET /api/v1/plugins and GET /api/v1/card-types.
package pluginapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
)

// PluginRegistry is what the API reads of the plugin manager.
type PluginRegistry interface {
	Plugins() []plugins.Status
	CardTypes() []plugins.CardType
	// ConfigSchema is the running plugin's instance configuration schema
	// (from its Describe), or nil when it is not running.
	ConfigSchema(id string) json.RawMessage
}

// PluginJSON is a plugin in GET /api/v1/plugins.
type PluginJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	Kinds      []string       `json:"kinds"`
	State      string         `json:"state"`
	PID        int            `json:"pid"`
	Restarts   int            `json:"restarts"`
	LastError  string         `json:"last_error"`
	LogTail    []string       `json:"log_tail,omitempty"`
	Generation int            `json:"generation"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	Cards      []api.CardType `json:"cards,omitempty"`
	// ConfigSchema is the JSON Schema of a source's settings for this
	// plugin (running plugins only); the UI generates its form from it.
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
}

func pluginCardType(ct plugins.CardType) api.CardType {
	out := api.CardType{
		Type: ct.PluginID + "/" + ct.Type, PluginID: ct.PluginID, Title: ct.Title, Description: ct.Description,
		Visualization: ct.Visualization, OptionsSchema: ct.Options,
	}
	if len(out.OptionsSchema) == 0 {
		out.OptionsSchema = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	if ct.DefaultSize != nil {
		out.DefaultSize = &api.CardSize{W: ct.DefaultSize.W, H: ct.DefaultSize.H}
	}
	return out
}

// SourceLister lists the caller's sources (id, name, plugin); store's
// (*Cards).Sources is one.
type SourceLister func(ctx context.Context) ([]store.SourceRef, error)

// Option configures Register.
type Option func(*options)

type options struct{ sources SourceLister }

// WithSources makes GET /api/v1/card-types add to every plugin card type's
// options schema the required source_id option, listing the caller's
// sources of that plugin: a plugin card reads one source, which the host
// checks and strips before calling the plugin.
func WithSources(l SourceLister) Option { return func(o *options) { o.sources = l } }

// withSourceOption returns schema with a required source_id property
// offering srcs (each {"const": id, "title": name}).
func withSourceOption(schema json.RawMessage, pluginID string, srcs []store.SourceRef) json.RawMessage {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		doc = map[string]any{"type": "object"}
	}
	prop := map[string]any{"type": "string", "title": "Source"}
	var choices []any
	for _, s := range srcs {
		if s.PluginID == pluginID {
			choices = append(choices, map[string]any{"const": s.ID, "title": s.Name})
		}
	}
	if len(choices) > 0 {
		prop["oneOf"] = choices
	} else {
		// oneOf may not be empty: say what to do instead.
		prop["description"] = "No source of plugin " + pluginID + " in this profile yet: add one under Sources to use this card."
	}
	props, _ := doc["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	props["source_id"] = prop
	doc["properties"] = props
	required := []any{"source_id"}
	if old, ok := doc["required"].([]any); ok {
		for _, r := range old {
			if r != "source_id" {
				required = append(required, r)
			}
		}
	}
	doc["required"] = required
	out, err := json.Marshal(doc)
	if err != nil {
		return schema
	}
	return out
}

// Register adds GET /api/v1/plugins and GET /api/v1/card-types.
// Every member may read the plugin list; the log tail, which can reveal
// details of the systems behind the plugins, is shown to admins only.
func Register(s *api.Server, reg PluginRegistry, builtins api.CardTypeSource, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s.API().GET("/plugins", api.Require(identity.RoleViewer), func(c *gin.Context) {
		p, _ := api.Principal(c)
		list := reg.Plugins()
		out := make([]PluginJSON, 0, len(list))
		for _, st := range list {
			pj := PluginJSON{
				ID: st.ID, Name: st.Name, Version: st.Version, Kinds: st.Kinds, State: st.State, PID: st.PID,
				Restarts: st.Restarts, LastError: st.LastError, Generation: st.Generation,
			}
			if pj.Kinds == nil {
				pj.Kinds = []string{}
			}
			if !st.StartedAt.IsZero() {
				t := st.StartedAt
				pj.StartedAt = &t
			}
			if p.Role.Allows(identity.RoleAdmin) {
				pj.LogTail = st.LogTail
			}
			if st.State == plugins.StateRunning {
				pj.ConfigSchema = reg.ConfigSchema(st.ID)
			}
			for _, card := range st.Cards {
				pj.Cards = append(pj.Cards, pluginCardType(plugins.CardType{PluginID: st.ID, Card: card}))
			}
			out = append(out, pj)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		c.JSON(http.StatusOK, gin.H{"plugins": out})
	})
	s.API().GET("/card-types", api.Require(identity.RoleViewer), func(c *gin.Context) {
		var out []api.CardType
		if builtins != nil {
			out = append(out, builtins.CardTypes()...)
		}
		var srcs []store.SourceRef
		if o.sources != nil {
			var err error
			if srcs, err = o.sources(c.Request.Context()); err != nil {
				api.Fail(c, err)
				return
			}
		}
		for _, ct := range reg.CardTypes() {
			t := pluginCardType(ct)
			if o.sources != nil {
				t.OptionsSchema = withSourceOption(t.OptionsSchema, ct.PluginID, srcs)
			}
			out = append(out, t)
		}
		if out == nil {
			out = []api.CardType{}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
		c.JSON(http.StatusOK, gin.H{"card_types": out})
	})
}
