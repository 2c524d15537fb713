package sdk

import (
	"context"
	"io"
)

// An instance is the value a plugin's New function returns for one
// configured source. It offers capabilities by implementing the interfaces
// below; the SDK checks at Configure time that it implements those its
// manifest's kinds require.

// Connector lists pipelines and runs of an external system. Required for
// the "connector" kind.
type Connector interface {
	// ListPipelines returns the pipelines the source knows.
	ListPipelines(ctx context.Context) ([]Pipeline, error)
	// ListRuns sends the runs new or changed since cursor (empty on the
	// first sync), in batches, each with the cursor valid once that batch is
	// stored. Return after the last batch. Honour ctx: the host cancels
	// polls that take too long.
	ListRuns(ctx context.Context, cursor string, send func(RunBatch) error) error
}

// CardQuerier answers the plugin's card types. Required for a connector
// whose manifest declares cards.
type CardQuerier interface {
	QueryCard(ctx context.Context, q CardQuery) (*Frame, error)
}

// WebhookHandler turns a vendor notification into runs. Optional.
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, w Webhook) ([]Run, error)
}

// AlertSink delivers notifications. Required for the "alertsink" kind.
// Return nil once delivered; a RetryableError (with RetryAfter when the
// receiver said so) to be retried; a PermanentError when retrying cannot
// help. Any other error is treated as retryable.
type AlertSink interface {
	Notify(ctx context.Context, n Notification) error
}

// FrameReader yields the frames of an export one at a time; Next returns
// io.EOF after the last one.
type FrameReader interface {
	Next() (*Frame, error)
}

// Exporter writes frames into a file. Required for the "exporter" kind.
// Write the file to w as it is produced: the SDK streams it to the host in
// chunks, so memory stays flat for large exports.
type Exporter interface {
	Export(ctx context.Context, h ExportHeader, frames FrameReader, w io.Writer) error
}

// HealthChecker reports an instance's health (a "test connection"). When an
// instance doesn't implement it, the SDK reports OK once it is configured.
type HealthChecker interface {
	CheckHealth(ctx context.Context) (Health, error)
}

// Disposer releases an instance's resources when its source is removed or
// reconfigured. Calls already running on the old instance may still finish.
type Disposer interface {
	Dispose()
}

// ConfigValidator is implemented by a configuration struct that checks more
// than its JSON Schema can express. Return a ConfigError or FieldErrors.
type ConfigValidator interface {
	Validate() error
}
