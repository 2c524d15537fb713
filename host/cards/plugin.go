package cards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// Plugins is what card queries need of the plugin manager.
type Plugins interface {
	// Plugins lists every plugin with its state and manifest cards.
	Plugins() []plugins.Status
	// CardTypes lists the card types of the running plugins.
	CardTypes() []plugins.CardType
	// QueryCard asks a running plugin's instance for a card's frame; a
	// plugin that is not running is an error wrapping
	// plugins.ErrNotRunning or plugins.ErrUnknownPlugin.
	QueryCard(ctx context.Context, pluginID, instanceID string, q sdk.CardQuery) (*sdk.Frame, error)
}

// ManagerPlugins adapts the plugin manager to Plugins.
func ManagerPlugins(m *plugins.Manager) Plugins { return managerPlugins{m} }

type managerPlugins struct{ *plugins.Manager }

func (m managerPlugins) QueryCard(ctx context.Context, pluginID, instanceID string, q sdk.CardQuery) (*sdk.Frame, error) {
	h, err := m.Plugin(pluginID)
	if err != nil {
		return nil, err
	}
	return h.QueryCard(ctx, instanceID, q)
}

// SourceOption is the option naming the source a plugin card reads. The
// host checks it and removes it before calling the plugin.
const SourceOption = "source_id"

// resolvePlugin prepares a plugin card query: type "<plugin id>/<type>"
// declared by a running plugin, options naming one of the caller's
// sources of that plugin.
func (s *Service) resolvePlugin(ctx context.Context, typ string, opts map[string]any, from, to time.Time) (resolved, error) {
	pluginID, cardType, ok := strings.Cut(typ, "/")
	if !ok || s.plugins == nil {
		return resolved{}, notFound(typ)
	}
	var decl *plugins.CardType
	for _, ct := range s.plugins.CardTypes() {
		if ct.PluginID == pluginID && ct.Type == cardType {
			decl = &ct
			break
		}
	}
	if decl == nil {
		return resolved{}, s.undeclared(ctx, typ, pluginID, cardType, opts)
	}
	srcProblem := func(msg string) error {
		return invalidOptions(typ, []optionProblem{{Field: "/" + SourceOption, Message: msg}})
	}
	rawSrc, present := opts[SourceOption]
	sourceID, isText := rawSrc.(string)
	switch {
	case !present:
		return resolved{}, srcProblem(fmt.Sprintf("required: the id of one of your sources of plugin %s (GET /api/v1/card-types lists them in the card type's options_schema)", pluginID))
	case !isText || sourceID == "":
		return resolved{}, srcProblem("must be a source id (a non-empty string)")
	}
	src, err := s.db.Sources().Get(ctx, sourceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return resolved{}, srcProblem(fmt.Sprintf("no source %q in this profile", sourceID))
	case err != nil:
		return resolved{}, err
	case src.PluginID != pluginID:
		return resolved{}, srcProblem(fmt.Sprintf("source %q belongs to plugin %s, not %s: pick a source of %s", src.Name, src.PluginID, pluginID, pluginID))
	}
	canonical, _ := json.Marshal(opts)
	rest := make(map[string]any, len(opts))
	for k, v := range opts {
		if k != SourceOption {
			rest[k] = v
		}
	}
	if err := s.validate(typ, decl.Options, rest); err != nil {
		return resolved{}, err
	}
	pluginOptions, _ := json.Marshal(rest)
	return resolved{typ: typ, options: canonical, tags: []string{"source:" + sourceID}, ttl: s.cfg.PluginTTL,
		run: func(ctx context.Context) (*sdk.Frame, error) {
			ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
			defer cancel()
			frame, err := s.plugins.QueryCard(ctx, pluginID, sourceID, sdk.CardQuery{
				CardType: cardType, Options: pluginOptions, TimeRange: sdk.TimeRange{From: from, To: to}})
			if err != nil {
				return nil, s.pluginError(pluginID, src.Name, err)
			}
			if frame == nil {
				return nil, api.Errorf(http.StatusBadGateway, CodePluginError, "plugin %s answered card %s without a frame: report it to the plugin's authors", pluginID, cardType)
			}
			if err := frame.Validate(); err != nil {
				return nil, api.Errorf(http.StatusBadGateway, CodePluginError, "plugin %s answered card %s with an unusable frame (%v): report it to the plugin's authors", pluginID, cardType, err)
			}
			return frame, nil
		}}, nil
}

// undeclared says why no running plugin declares the card type: its
// plugin is installed but not running (its manifest still lists its
// cards, or it was refused), or the host has no bundle of it while the
// card reads one of the caller's sources of that plugin (removed, or the
// host stopped its plugins): 503 plugin_unavailable naming the plugin.
// Anything else is an unknown type.
func (s *Service) undeclared(ctx context.Context, typ, pluginID, cardType string, opts map[string]any) error {
	for _, st := range s.plugins.Plugins() {
		if st.ID != pluginID {
			continue
		}
		listed := slices.ContainsFunc(st.Cards, func(c manifest.Card) bool { return c.Type == cardType })
		switch {
		case st.State != plugins.StateRunning && (listed || len(st.Cards) == 0):
			// Its manifest lists the card, or is unknown (a refused bundle).
			return unavailable(st)
		case st.State == plugins.StateRunning && listed:
			// It was still starting when the running plugins' types were
			// read a moment ago.
			st.State = plugins.StateStarting
			return unavailable(st)
		}
		return notFound(typ) // its manifest has no such card
	}
	if id, ok := opts[SourceOption].(string); ok && id != "" {
		src, err := s.db.Sources().Get(ctx, id)
		switch {
		case err == nil && src.PluginID == pluginID:
			return api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable,
				"plugin %s is not running: the host has no bundle of it (removed from the plugin directory, or its plugins are stopped); the card reads source %q of that plugin and answers again once the plugin runs; GET /api/v1/plugins lists the plugins the host runs",
				pluginID, src.Name)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	return notFound(typ)
}

func notFound(typ string) *api.Error {
	return api.Errorf(http.StatusNotFound, CodeCardTypeNotFound, "unknown card type %q: GET /api/v1/card-types lists the types available (plugin card types are \"<plugin id>/<type>\" and need their plugin running)", typ)
}

func unavailable(st plugins.Status) *api.Error {
	msg := fmt.Sprintf("plugin %s is %s", st.ID, st.State)
	if st.LastError != "" {
		msg += " (" + st.LastError + ")"
	}
	return api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable, "%s: its cards answer again once it is running; GET /api/v1/plugins shows its state and log", msg)
}

// pluginError maps what a plugin call returned to an answer: the plugin's
// state, a timeout, or the plugin's own typed error with its message.
func (s *Service) pluginError(pluginID, sourceName string, err error) error {
	if errors.Is(err, plugins.ErrNotRunning) || errors.Is(err, plugins.ErrUnknownPlugin) {
		st := plugins.Status{ID: pluginID, State: plugins.StateStopped}
		for _, p := range s.plugins.Plugins() {
			if p.ID == pluginID {
				st = p
			}
		}
		if st.State == plugins.StateRunning {
			// It came back meanwhile; the call itself found it not serving.
			st.State = "restarting"
		}
		return unavailable(st)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return api.Errorf(http.StatusGatewayTimeout, CodePluginTimeout, "plugin %s did not answer within %s for source %q: try again, or a shorter time range", pluginID, s.cfg.CallTimeout, sourceName)
	}
	var se *sdk.Error
	if !errors.As(err, &se) {
		s.log.Warn("plugin card query failed", "plugin", pluginID, "error", err)
		return api.Errorf(http.StatusBadGateway, CodePluginError, "plugin %s failed to answer for source %q: %v", pluginID, sourceName, err)
	}
	msg := se.Message
	if msg == "" {
		msg = string(se.Kind)
	}
	switch se.Kind {
	case sdk.KindConfig:
		e := api.Errorf(http.StatusBadRequest, CodeInvalidOptions, "plugin %s refused the query for source %q: %s", pluginID, sourceName, msg)
		if se.Field != "" {
			e.Fields = []api.FieldProblem{{Field: se.Field, Message: msg}}
		}
		return e
	case sdk.KindNotFound:
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "plugin %s (source %q): %s", pluginID, sourceName, msg)
	case sdk.KindAuth:
		return api.Errorf(http.StatusBadGateway, "downstream_auth", "the system behind source %q refused its credentials: %s; update the source's settings", sourceName, msg)
	case sdk.KindRetryable, sdk.KindUnconfigured:
		e := api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable, "plugin %s cannot answer for source %q now: %s; try again shortly", pluginID, sourceName, msg)
		if se.RetryAfter > 0 {
			e.Message += " (retry after " + strconv.Itoa(int(se.RetryAfter.Seconds()+0.5)) + "s)"
		}
		return e
	case sdk.KindDownstream:
		return api.Errorf(http.StatusBadGateway, "downstream_error", "the system behind source %q failed: %s", sourceName, msg)
	case sdk.KindUnimplemented:
		return api.Errorf(http.StatusNotImplemented, "not_implemented", "plugin %s does not implement this card: %s", pluginID, msg)
	case sdk.KindPermanent:
		return api.Errorf(http.StatusUnprocessableEntity, "card_query_refused", "plugin %s cannot answer this query for source %q: %s", pluginID, sourceName, msg)
	}
	return api.Errorf(http.StatusBadGateway, CodePluginError, "plugin %s failed for source %q: %s", pluginID, sourceName, msg)
}
