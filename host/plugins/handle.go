package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// Handle calls one plugin. Each call goes to the generation serving at
// that moment, carries a deadline (CallTimeout, unless ctx ends sooner;
// ListRuns and Export take theirs from ctx only), counts as in flight so
// a replaced generation finishes it before stopping, and configures the
// instance again and retries once when the process answers
// sdk.ErrUnconfigured (it was restarted, or the revision changed).
//
// Errors are the plugin's (errors.Is(err, sdk.ErrAuth) works) wrapped with
// the plugin id and method, or wrap ErrNotRunning when no process serves.
type Handle struct {
	s *supervisor
}

// ID is the plugin id.
func (h *Handle) ID() string { return h.s.id }

// Describe is the serving generation's answer to Describe, cached at start
// (nil when no generation serves any more).
func (h *Handle) Describe() *sdk.Description { return h.s.description() }

// CheckHealth checks the plugin (instanceID empty) or one instance.
func (h *Handle) CheckHealth(ctx context.Context, instanceID string) (sdk.Health, error) {
	return call(ctx, h, "CheckHealth", instanceID, false, func(ctx context.Context, c *sdk.Client) (sdk.Health, error) {
		return c.CheckHealth(ctx, instanceID)
	})
}

// ValidateConfig returns the problems of an instance configuration.
func (h *Handle) ValidateConfig(ctx context.Context, config json.RawMessage, secrets map[string]string) ([]sdk.FieldError, error) {
	return call(ctx, h, "ValidateConfig", "", false, func(ctx context.Context, c *sdk.Client) ([]sdk.FieldError, error) {
		return c.ValidateConfig(ctx, config, secrets)
	})
}

// ListPipelines lists an instance's pipelines.
func (h *Handle) ListPipelines(ctx context.Context, instanceID string) ([]sdk.Pipeline, error) {
	return call(ctx, h, "ListPipelines", instanceID, false, func(ctx context.Context, c *sdk.Client) ([]sdk.Pipeline, error) {
		return c.ListPipelines(ctx, instanceID)
	})
}

// ListRuns streams an instance's runs since cursor to fn, batch by batch.
// Its deadline comes from ctx only: a long first sync is legitimate.
func (h *Handle) ListRuns(ctx context.Context, instanceID, cursor string, maxBatch int, fn func(sdk.RunBatch) error) error {
	_, err := call(ctx, h, "ListRuns", instanceID, true, func(ctx context.Context, c *sdk.Client) (struct{}, error) {
		batches := 0
		err := c.ListRuns(ctx, instanceID, cursor, maxBatch, func(b sdk.RunBatch) error {
			batches++
			return fn(b)
		})
		return struct{}{}, afterData(err, batches > 0)
	})
	return err
}

// ListRunsProto is ListRuns with the wire batches, for ingest paths that
// store them as they come.
func (h *Handle) ListRunsProto(ctx context.Context, instanceID, cursor string, maxBatch int, fn func(*pb.RunBatch) error) error {
	_, err := call(ctx, h, "ListRuns", instanceID, true, func(ctx context.Context, c *sdk.Client) (struct{}, error) {
		batches := 0
		err := c.ListRunsProto(ctx, instanceID, cursor, maxBatch, func(b *pb.RunBatch) error {
			batches++
			return fn(b)
		})
		return struct{}{}, afterData(err, batches > 0)
	})
	return err
}

// QueryCard asks an instance for a card's frame.
func (h *Handle) QueryCard(ctx context.Context, instanceID string, q sdk.CardQuery) (*sdk.Frame, error) {
	return call(ctx, h, "QueryCard", instanceID, false, func(ctx context.Context, c *sdk.Client) (*sdk.Frame, error) {
		return c.QueryCard(ctx, instanceID, q)
	})
}

// HandleWebhook passes a vendor notification to an instance.
func (h *Handle) HandleWebhook(ctx context.Context, instanceID string, w sdk.Webhook) ([]sdk.Run, error) {
	return call(ctx, h, "HandleWebhook", instanceID, false, func(ctx context.Context, c *sdk.Client) ([]sdk.Run, error) {
		return c.HandleWebhook(ctx, instanceID, w)
	})
}

// Notify delivers a notification through an alert-sink instance.
func (h *Handle) Notify(ctx context.Context, instanceID string, n sdk.Notification) (sdk.NotifyResult, error) {
	return call(ctx, h, "Notify", instanceID, false, func(ctx context.Context, c *sdk.Client) (sdk.NotifyResult, error) {
		return c.Notify(ctx, instanceID, n)
	})
}

// Export streams frames to an exporter instance and writes the file to w.
// Its deadline comes from ctx only. It is retried after ErrUnconfigured
// only when no frame had been read yet, so no frame is lost.
func (h *Handle) Export(ctx context.Context, instanceID string, hdr sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) (sdk.ExportFile, error) {
	fr := &countingFrames{r: frames}
	return call(ctx, h, "Export", instanceID, true, func(ctx context.Context, c *sdk.Client) (sdk.ExportFile, error) {
		f, err := c.Export(ctx, instanceID, hdr, fr, w)
		return f, afterData(err, fr.n.Load() > 0)
	})
}

// call runs fn on the serving process with the manager's rules.
func call[T any](ctx context.Context, h *Handle, method, instanceID string, long bool, fn func(context.Context, *sdk.Client) (T, error)) (T, error) {
	var zero T
	s := h.s
	p, err := s.acquire()
	if err != nil {
		return zero, err
	}
	defer p.inflight.Done()
	if !long {
		var cancel context.CancelFunc
		ctx, cancel = withCallDeadline(ctx, s.m.cfg.CallTimeout)
		defer cancel()
	}
	start := time.Now()
	v, err := func() (T, error) {
		if instanceID != "" {
			if err := s.ensureConfigured(ctx, p, instanceID); err != nil {
				return zero, err
			}
		}
		v, err := fn(ctx, p.rpc)
		if instanceID == "" || !errors.Is(err, sdk.ErrUnconfigured) {
			return v, unwrapNoRetry(err)
		}
		var nr noRetry
		if errors.As(err, &nr) {
			return v, nr.err
		}
		if _, known := s.m.instance(s.id, instanceID); !known {
			return v, fmt.Errorf("%w (instance %s was never registered with the host's plugin manager)", err, instanceID)
		}
		p.setConfigured(instanceID, 0, false)
		if err := s.ensureConfigured(ctx, p, instanceID); err != nil {
			return zero, err
		}
		v, err = fn(ctx, p.rpc)
		return v, unwrapNoRetry(err)
	}()
	s.m.metrics.observe(s.id, method, start, err)
	if err != nil {
		return v, fmt.Errorf("plugin %s: %s: %w", s.id, method, err)
	}
	return v, nil
}

// afterData keeps a streaming call from being retried once data moved: a
// retry would send or deliver it twice.
func afterData(err error, moved bool) error {
	if err != nil && moved {
		return noRetry{err}
	}
	return err
}

// noRetry marks an error after which the call must not be repeated.
type noRetry struct{ err error }

func (n noRetry) Error() string { return n.err.Error() }
func (n noRetry) Unwrap() error { return n.err }

func unwrapNoRetry(err error) error {
	var nr noRetry
	if errors.As(err, &nr) {
		return nr.err
	}
	return err
}

// countingFrames counts the frames an export has read (from the SDK's
// sending goroutine).
type countingFrames struct {
	r sdk.FrameReader
	n atomic.Int64
}

func (c *countingFrames) Next() (*sdk.Frame, error) {
	f, err := c.r.Next()
	if err == nil {
		c.n.Add(1)
	}
	return f, err
}
