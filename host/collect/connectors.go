package collect

import (
	"context"
	"errors"
	"fmt"

	"github.com/puod/puod/host/plugins"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// Connectors is what the collector needs of the connector plugins. The
// instance id of a source is the source id. ListRuns hands over the wire
// batches, so ingest converts each run once, straight into the store's
// form.
//
// Errors: a plugin that is not installed or not running wraps
// ErrPluginUnavailable; otherwise errors are the plugin's own (*sdk.Error,
// so errors.Is(err, sdk.ErrRetryable) works).
type Connectors interface {
	ListRuns(ctx context.Context, pluginID, instanceID, cursor string, maxBatch int, fn func(*pb.RunBatch) error) error
	ListPipelines(ctx context.Context, pluginID, instanceID string) ([]sdk.Pipeline, error)
	HandleWebhook(ctx context.Context, pluginID, instanceID string, w sdk.Webhook) ([]sdk.Run, error)
}

// ErrPluginUnavailable: the source's plugin is not installed or not running
// now.
var ErrPluginUnavailable = errors.New("plugin unavailable")

// ManagerConnectors adapts the plugin manager to Connectors.
func ManagerConnectors(m *plugins.Manager) Connectors { return managerConnectors{m: m} }

type managerConnectors struct{ m *plugins.Manager }

func (mc managerConnectors) handle(id string) (*plugins.Handle, error) {
	h, err := mc.m.Plugin(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPluginUnavailable, err)
	}
	return h, nil
}

func (mc managerConnectors) ListRuns(ctx context.Context, pluginID, instanceID, cursor string, maxBatch int, fn func(*pb.RunBatch) error) error {
	h, err := mc.handle(pluginID)
	if err != nil {
		return err
	}
	return h.ListRunsProto(ctx, instanceID, cursor, maxBatch, fn)
}

func (mc managerConnectors) ListPipelines(ctx context.Context, pluginID, instanceID string) ([]sdk.Pipeline, error) {
	h, err := mc.handle(pluginID)
	if err != nil {
		return nil, err
	}
	return h.ListPipelines(ctx, instanceID)
}

func (mc managerConnectors) HandleWebhook(ctx context.Context, pluginID, instanceID string, w sdk.Webhook) ([]sdk.Run, error) {
	h, err := mc.handle(pluginID)
	if err != nil {
		return nil, err
	}
	return h.HandleWebhook(ctx, instanceID, w)
}
