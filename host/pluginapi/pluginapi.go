// Package pluginapi serves the plugin manager's state over HTTP:
// GET /api/v1/plugins and GET /api/v1/card-types.
package pluginapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
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

// Register adds GET /api/v1/plugins and GET /api/v1/card-types.
// Every member may read the plugin list; the log tail, which can reveal
// details of the systems behind the plugins, is shown to admins only.
func Register(s *api.Server, reg PluginRegistry, builtins api.CardTypeSource) {
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
		for _, ct := range reg.CardTypes() {
			out = append(out, pluginCardType(ct))
		}
		if out == nil {
			out = []api.CardType{}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
		c.JSON(http.StatusOK, gin.H{"card_types": out})
	})
}
