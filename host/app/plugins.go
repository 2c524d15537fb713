package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/sdk"
)

// sourcePlugins adapts the plugin manager to what the sources service
// needs, translating the manager's errors into the service's.
type sourcePlugins struct{ m *plugins.Manager }

var _ sources.Plugins = sourcePlugins{}

func (p sourcePlugins) handle(id string) (*plugins.Handle, error) {
	h, err := p.m.Plugin(id)
	switch {
	case errors.Is(err, plugins.ErrUnknownPlugin):
		return nil, fmt.Errorf("%w: %v", sources.ErrUnknownPlugin, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", sources.ErrPluginUnavailable, err)
	}
	return h, nil
}

func (p sourcePlugins) Describe(pluginID string) (*sdk.Description, error) {
	h, err := p.handle(pluginID)
	if err != nil {
		return nil, err
	}
	return h.Describe(), nil
}

func (p sourcePlugins) ValidateConfig(ctx context.Context, pluginID string, cfg json.RawMessage, secrets map[string]string) ([]sdk.FieldError, error) {
	h, err := p.handle(pluginID)
	if err != nil {
		return nil, err
	}
	return h.ValidateConfig(ctx, cfg, secrets)
}

func (p sourcePlugins) SetInstance(_ context.Context, pluginID string, ic sdk.InstanceConfig) error {
	p.m.SetInstance(pluginID, ic)
	return nil
}

func (p sourcePlugins) RemoveInstance(_ context.Context, pluginID, instanceID string) error {
	p.m.RemoveInstance(pluginID, instanceID)
	return nil
}

func (p sourcePlugins) CheckHealth(ctx context.Context, pluginID, instanceID string) (sdk.Health, error) {
	h, err := p.handle(pluginID)
	if err != nil {
		return sdk.Health{}, err
	}
	return h.CheckHealth(ctx, instanceID)
}

// pluginRegistry adds the running plugins' config schemas to the
// manager's state, for GET /api/v1/plugins.
type pluginRegistry struct{ *plugins.Manager }

func (r pluginRegistry) ConfigSchema(id string) json.RawMessage {
	h, err := r.Plugin(id)
	if err != nil {
		return nil
	}
	if d := h.Describe(); d != nil {
		return d.ConfigSchema
	}
	return nil
}
