package sources

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/puod/puod/sdk"
)

// Plugins is what the source service needs of the plugin manager. The
// manager implements it over the plugin processes it supervises; tests
// implement it over sdk/plugintest harnesses.
//
// Errors: a plugin id the manager has never seen wraps ErrUnknownPlugin, a
// plugin that exists but is not running (starting, backoff, failed,
// draining, stopped) wraps ErrPluginUnavailable, and both messages name the
// plugin and its state. Any other error is the plugin's own answer (an
// *sdk.Error restored from the wire, whose message the SDK has already
// scrubbed of the secrets it was given).
type Plugins interface {
	// Describe returns the running plugin's description: its kinds and the
	// JSON Schema of a source's configuration (secret fields marked
	// "x-secret": true). It does no I/O: the manager answers from the
	// Describe call it made when the plugin started.
	Describe(pluginID string) (*sdk.Description, error)
	// ValidateConfig asks the plugin to check a configuration beyond its
	// schema. secrets are the secret fields, split out of cfg.
	ValidateConfig(ctx context.Context, pluginID string, cfg json.RawMessage, secrets map[string]string) ([]sdk.FieldError, error)
	// SetInstance records ic as the wanted configuration of instance ic.ID
	// and applies it to the plugin process (Configure), returning the
	// plugin's error. The manager keeps ic and applies it again whenever the
	// plugin (re)starts, so an instance set while the plugin is down
	// (ErrPluginUnavailable) is configured once it is up.
	SetInstance(ctx context.Context, pluginID string, ic sdk.InstanceConfig) error
	// RemoveInstance forgets an instance and disposes of it in the plugin
	// process. Removing an unknown instance is not an error.
	RemoveInstance(ctx context.Context, pluginID, instanceID string) error
	// CheckHealth asks the plugin about one configured instance.
	CheckHealth(ctx context.Context, pluginID, instanceID string) (sdk.Health, error)
}

// Sentinels a Plugins implementation wraps.
var (
	// ErrUnknownPlugin: no plugin with this id is installed.
	ErrUnknownPlugin = errors.New("unknown plugin")
	// ErrPluginUnavailable: the plugin is installed but not running.
	ErrPluginUnavailable = errors.New("plugin is not running")
)
