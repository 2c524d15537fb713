package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
)

// PluginRegistry is what the API reads of the plugin manager.
type PluginRegistry interface {
	Plugins() []plugins.Status
	CardTypes() []plugins.CardType
}

// CardTypeSource contributes card types that are not plugins' (the host's
// built-in cards).
type CardTypeSource interface {
	CardTypes() []CardType
}

// PluginJSON is a plugin in GET /api/v1/plugins.
type PluginJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	Kinds      []string   `json:"kinds"`
	State      string     `json:"state"`
	PID        int        `json:"pid"`
	Restarts   int        `json:"restarts"`
	LastError  string     `json:"last_error"`
	LogTail    []string   `json:"log_tail,omitempty"`
	Generation int        `json:"generation"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	Cards      []CardType `json:"cards,omitempty"`
}

// CardType is a card type in the catalog.
type CardType struct {
	Type          string          `json:"type"`
	PluginID      string          `json:"plugin_id"`
	Title         string          `json:"title"`
	Description   string          `json:"description,omitempty"`
	Visualization string          `json:"visualization"`
	OptionsSchema json.RawMessage `json:"options_schema"`
	DefaultSize   *CardSize       `json:"default_size,omitempty"`
}

// CardSize is a default card size on the 12-column grid.
type CardSize struct {
	W int `json:"w"`
	H int `json:"h"`
}

func pluginCardType(ct plugins.CardType) CardType {
	out := CardType{
		Type: ct.PluginID + "/" + ct.Type, PluginID: ct.PluginID, Title: ct.Title, Description: ct.Description,
		Visualization: ct.Visualization, OptionsSchema: ct.Options,
	}
	if len(out.OptionsSchema) == 0 {
		out.OptionsSchema = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	if ct.DefaultSize != nil {
		out.DefaultSize = &CardSize{W: ct.DefaultSize.W, H: ct.DefaultSize.H}
	}
	return out
}

// RegisterPlugins adds GET /api/v1/plugins and GET /api/v1/card-types.
// Every member may read the plugin list; the log tail, which can reveal
// details of the systems behind the plugins, is shown to admins only.
func (s *Server) RegisterPlugins(reg PluginRegistry, builtins CardTypeSource) {
	s.api.GET("/plugins", Require(identity.RoleViewer), func(c *gin.Context) {
		p, _ := Principal(c)
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
			for _, card := range st.Cards {
				pj.Cards = append(pj.Cards, pluginCardType(plugins.CardType{PluginID: st.ID, Card: card}))
			}
			out = append(out, pj)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		c.JSON(http.StatusOK, gin.H{"plugins": out})
	})
	s.api.GET("/card-types", Require(identity.RoleViewer), func(c *gin.Context) {
		var out []CardType
		if builtins != nil {
			out = append(out, builtins.CardTypes()...)
		}
		for _, ct := range reg.CardTypes() {
			out = append(out, pluginCardType(ct))
		}
		if out == nil {
			out = []CardType{}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
		c.JSON(http.StatusOK, gin.H{"card_types": out})
	})
}
