// Package pluginhost implements the services the host offers plugins
// through the go-plugin broker (sdk.HostServices): per-instance state kept
// in the store, and hooks for pushed runs and export progress. Each plugin
// gets its own view, which refuses instances of other plugins: a plugin
// can never read or write another plugin's state by naming its source.
package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// RunSink ingests runs a plugin pushed for one of its sources.
type RunSink func(ctx context.Context, src store.Source, runs []sdk.Run) error

// ProgressSink records the progress of an export job.
type ProgressSink func(ctx context.Context, pluginID, jobID string, done, total int64, message string) error

// Services builds the per-plugin host services.
type Services struct {
	db       *store.DB
	log      hclog.Logger
	runs     RunSink
	progress ProgressSink
}

// New returns the host services backed by db. runs and progress may be nil
// until the features that consume them are wired.
func New(db *store.DB, log hclog.Logger, runs RunSink, progress ProgressSink) *Services {
	return &Services{db: db, log: log.Named("pluginhost"), runs: runs, progress: progress}
}

// For returns the services as seen by one plugin (plugins.WithHostServices).
func (s *Services) For(pluginID string) sdk.HostServices { return &view{s: s, pluginID: pluginID} }

type view struct {
	s        *Services
	pluginID string
}

var _ sdk.HostServices = (*view)(nil)

// source returns the instance's source if it belongs to this plugin; any
// other case is the same not-found error, so a plugin cannot probe for
// other plugins' sources.
func (v *view) source(ctx context.Context, instanceID string) (store.Source, error) {
	src, err := v.s.db.System().Sources().Get(ctx, instanceID)
	if err == nil && src.PluginID == v.pluginID {
		return src, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Source{}, fmt.Errorf("look up instance %s: %w", instanceID, err)
	}
	return store.Source{}, sdk.NotFoundError("instance %q is not an instance of plugin %s", instanceID, v.pluginID)
}

func (v *view) GetState(ctx context.Context, instanceID, key string) ([]byte, bool, error) {
	src, err := v.source(ctx, instanceID)
	if err != nil {
		return nil, false, err
	}
	return v.s.db.System().PluginState().Get(ctx, src, key)
}

func (v *view) SetState(ctx context.Context, instanceID, key string, value []byte) error {
	src, err := v.source(ctx, instanceID)
	if err != nil {
		return err
	}
	if err := v.s.db.System().PluginState().Set(ctx, src, key, value); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return sdk.ConfigError("", "%v", err)
		}
		return err
	}
	return nil
}

func (v *view) ReportProgress(ctx context.Context, jobID string, done, total int64, message string) error {
	if v.s.progress == nil {
		return &sdk.Error{Kind: sdk.KindUnimplemented, Message: "this host does not track export progress"}
	}
	return v.s.progress(ctx, v.pluginID, jobID, done, total, message)
}

func (v *view) EmitRuns(ctx context.Context, instanceID string, runs []sdk.Run) error {
	src, err := v.source(ctx, instanceID)
	if err != nil {
		return err
	}
	if v.s.runs == nil {
		return &sdk.Error{Kind: sdk.KindUnimplemented, Message: "this host does not accept pushed runs yet"}
	}
	return v.s.runs(ctx, src, runs)
}
