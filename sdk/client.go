package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk/manifest"
)

// Client is the host side of a plugin connection: every call of the
// protocol as a Go method taking and returning the SDK's types, with the
// plugin's typed errors restored (errors.Is(err, sdk.ErrAuth) works across
// the process boundary). Callers set deadlines through ctx.
type Client struct {
	conn      *grpc.ClientConn
	broker    *plugin.GRPCBroker
	plugin    pb.PluginClient
	connector pb.ConnectorClient
	sink      pb.AlertSinkClient
	exporter  pb.ExporterClient
}

// NewClient wraps a gRPC connection to a plugin. broker may be nil when the
// host offers no host services.
func NewClient(conn *grpc.ClientConn, broker *plugin.GRPCBroker) *Client {
	return &Client{
		conn: conn, broker: broker,
		plugin: pb.NewPluginClient(conn), connector: pb.NewConnectorClient(conn),
		sink: pb.NewAlertSinkClient(conn), exporter: pb.NewExporterClient(conn),
	}
}

// Description is a plugin's answer to Describe.
type Description struct {
	ID              string                  `json:"id"`
	Name            string                  `json:"name"`
	Version         string                  `json:"version"`
	Kinds           []string                `json:"kinds"`
	ProtocolVersion int                     `json:"protocol_version"`
	ConfigSchema    json.RawMessage         `json:"config_schema,omitempty"`
	Cards           []manifest.Card         `json:"cards,omitempty"`
	Exports         []manifest.ExportFormat `json:"exports,omitempty"`
	Stability       string                  `json:"stability,omitempty"`
	SDKVersion      string                  `json:"sdk_version,omitempty"`
}

// DescribeOptions are what the host tells the plugin about itself.
type DescribeOptions struct {
	HostVersion string
	// Host, when set, is served to the plugin through the go-plugin broker.
	Host HostServices
}

// Describe asks the plugin who it is. When opts.Host is set, it starts
// serving the host services to the plugin first.
func (c *Client) Describe(ctx context.Context, opts DescribeOptions) (*Description, error) {
	req := &pb.DescribeRequest{HostVersion: opts.HostVersion}
	if opts.Host != nil && c.broker != nil {
		id := c.broker.NextId()
		go c.broker.AcceptAndServe(id, func(o []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(o...)
			pb.RegisterHostServer(s, &hostServer{impl: opts.Host})
			return s
		})
		req.HostBrokerId = id
	}
	r, err := c.plugin.Describe(ctx, req)
	if err != nil {
		return nil, FromStatus(err)
	}
	d := &Description{
		ID: r.GetId(), Name: r.GetName(), Version: r.GetVersion(), Kinds: r.GetKinds(),
		ProtocolVersion: int(r.GetProtocolVersion()), ConfigSchema: r.GetConfigSchemaJson(),
		Stability: r.GetStability(), SDKVersion: r.GetSdkVersion(),
	}
	for _, card := range r.GetCards() {
		d.Cards = append(d.Cards, cardFromProto(card))
	}
	for _, e := range r.GetExports() {
		d.Exports = append(d.Exports, manifest.ExportFormat{ID: e.GetId(), MIMEType: e.GetMimeType(), Extension: e.GetExtension(), Title: e.GetTitle()})
	}
	return d, nil
}

// ValidateConfig returns the configuration's problems (none: valid).
func (c *Client) ValidateConfig(ctx context.Context, config json.RawMessage, secrets map[string]string) ([]FieldError, error) {
	r, err := c.plugin.ValidateConfig(ctx, &pb.ValidateConfigRequest{ConfigJson: config, Secrets: secrets})
	if err != nil {
		return nil, FromStatus(err)
	}
	var out []FieldError
	for _, fe := range r.GetErrors() {
		out = append(out, FieldError{Field: fe.GetField(), Message: fe.GetMessage()})
	}
	return out, nil
}

// InstanceConfig is the configuration of one source.
type InstanceConfig struct {
	ID       string
	Revision int64
	Config   json.RawMessage
	Secrets  map[string]string
}

// Configure creates or rebuilds an instance.
func (c *Client) Configure(ctx context.Context, ic InstanceConfig) error {
	_, err := c.plugin.Configure(ctx, &pb.ConfigureRequest{InstanceId: ic.ID, Revision: ic.Revision, ConfigJson: ic.Config, Secrets: ic.Secrets})
	return FromStatus(err)
}

// RemoveInstance disposes of an instance.
func (c *Client) RemoveInstance(ctx context.Context, id string) error {
	_, err := c.plugin.RemoveInstance(ctx, &pb.RemoveInstanceRequest{InstanceId: id})
	return FromStatus(err)
}

// CheckHealth checks the plugin (instanceID empty) or one instance.
func (c *Client) CheckHealth(ctx context.Context, instanceID string) (Health, error) {
	r, err := c.plugin.CheckHealth(ctx, &pb.CheckHealthRequest{InstanceId: instanceID})
	if err != nil {
		return Health{}, FromStatus(err)
	}
	return healthFromProto(r), nil
}

// ListPipelines lists an instance's pipelines.
func (c *Client) ListPipelines(ctx context.Context, instanceID string) ([]Pipeline, error) {
	r, err := c.connector.ListPipelines(ctx, &pb.ListPipelinesRequest{InstanceId: instanceID})
	if err != nil {
		return nil, FromStatus(err)
	}
	out := make([]Pipeline, len(r.GetPipelines()))
	for i, p := range r.GetPipelines() {
		out[i] = pipelineFromProto(p)
	}
	return out, nil
}

// ListRuns streams the runs since cursor and calls fn for each batch, in
// order. An error from fn stops the stream and is returned as is.
func (c *Client) ListRuns(ctx context.Context, instanceID, cursor string, maxBatch int, fn func(RunBatch) error) error {
	return c.ListRunsProto(ctx, instanceID, cursor, maxBatch, func(b *pb.RunBatch) error {
		return fn(RunBatch{Runs: runsFromProto(b.GetRuns()), NextCursor: b.GetNextCursor()})
	})
}

// ListRunsProto is ListRuns without the conversion to SDK types, for
// ingest paths that write wire runs straight to storage.
func (c *Client) ListRunsProto(ctx context.Context, instanceID, cursor string, maxBatch int, fn func(*pb.RunBatch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.connector.ListRuns(ctx, &pb.ListRunsRequest{InstanceId: instanceID, Cursor: cursor, MaxBatchSize: int32(maxBatch)})
	if err != nil {
		return FromStatus(err)
	}
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return FromStatus(err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
}

// QueryCard asks an instance for a card's frame.
func (c *Client) QueryCard(ctx context.Context, instanceID string, q CardQuery) (*Frame, error) {
	r, err := c.connector.QueryCard(ctx, &pb.QueryCardRequest{InstanceId: instanceID, CardType: q.CardType, OptionsJson: q.Options, TimeRange: timeRangeToProto(q.TimeRange)})
	if err != nil {
		return nil, FromStatus(err)
	}
	return FrameFromProto(r.GetFrame()), nil
}

// HandleWebhook passes a vendor notification to an instance.
func (c *Client) HandleWebhook(ctx context.Context, instanceID string, w Webhook) ([]Run, error) {
	r, err := c.connector.HandleWebhook(ctx, &pb.HandleWebhookRequest{InstanceId: instanceID, Headers: w.Headers, Body: w.Body})
	if err != nil {
		return nil, FromStatus(err)
	}
	return runsFromProto(r.GetRuns()), nil
}

// NotifyOutcome is what became of a notification.
type NotifyOutcome string

const (
	Delivered NotifyOutcome = "delivered"
	Retryable NotifyOutcome = "retryable"
	Permanent NotifyOutcome = "permanent"
)

// NotifyResult is a sink's answer.
type NotifyResult struct {
	Outcome    NotifyOutcome
	RetryAfter time.Duration
	Reason     string
}

// Notify delivers a notification through an alert-sink instance. A failed
// RPC (plugin down, deadline) is returned as an error; the caller retries.
func (c *Client) Notify(ctx context.Context, instanceID string, n Notification) (NotifyResult, error) {
	r, err := c.sink.Notify(ctx, &pb.NotifyRequest{InstanceId: instanceID, Notification: notificationToProto(&n)})
	if err != nil {
		return NotifyResult{}, FromStatus(err)
	}
	out := NotifyResult{Reason: r.GetReason()}
	switch r.GetOutcome() {
	case pb.NotifyOutcome_NOTIFY_OUTCOME_DELIVERED:
		out.Outcome = Delivered
	case pb.NotifyOutcome_NOTIFY_OUTCOME_PERMANENT:
		out.Outcome = Permanent
	default:
		out.Outcome = Retryable
	}
	if d := r.GetRetryAfter(); d != nil {
		out.RetryAfter = d.AsDuration()
	}
	return out, nil
}

// ExportFile is what an exporter produced.
type ExportFile struct {
	Name     string
	MIMEType string
	Size     int64
}

// Export streams frames to an exporter instance and writes the file it
// produces to w.
func (c *Client) Export(ctx context.Context, instanceID string, h ExportHeader, frames FrameReader, w io.Writer) (ExportFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.exporter.Export(ctx)
	if err != nil {
		return ExportFile{}, FromStatus(err)
	}
	hdr := &pb.ExportHeader{InstanceId: instanceID, Format: h.Format, Title: h.Title, TimeRange: timeRangeToProto(h.TimeRange), Parameters: h.Parameters, JobId: h.JobID}
	if err := stream.Send(&pb.ExportRequest{Part: &pb.ExportRequest_Header{Header: hdr}}); err != nil {
		// io.EOF means the plugin ended the stream (e.g. it has no
		// Exporter service): its status comes with Recv.
		if errors.Is(err, io.EOF) {
			if _, rerr := stream.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
				return ExportFile{}, FromStatus(rerr)
			}
		}
		return ExportFile{}, FromStatus(err)
	}
	sendErr := make(chan error, 1)
	go func() {
		sendErr <- func() error {
			for {
				f, err := frames.Next()
				if errors.Is(err, io.EOF) {
					return stream.CloseSend()
				}
				if err != nil {
					cancel()
					return fmt.Errorf("read frames for export: %w", err)
				}
				if err := stream.Send(&pb.ExportRequest{Part: &pb.ExportRequest_Frame{Frame: FrameToProto(f)}}); err != nil {
					// The receive side reports the plugin's error.
					return nil
				}
			}
		}()
	}()
	var file ExportFile
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if serr := <-sendErr; serr != nil {
				return file, serr
			}
			return file, FromStatus(err)
		}
		if chunk.GetFileName() != "" {
			file.Name, file.MIMEType = chunk.GetFileName(), chunk.GetMimeType()
		}
		n, err := w.Write(chunk.GetData())
		file.Size += int64(n)
		if err != nil {
			return file, fmt.Errorf("write export: %w", err)
		}
	}
	if err := <-sendErr; err != nil {
		return file, err
	}
	return file, nil
}

// Close closes the connection (the host's plugin manager normally owns it).
func (c *Client) Close() error { return c.conn.Close() }

// hostServer adapts HostServices to the wire.
type hostServer struct {
	pb.UnimplementedHostServer
	impl HostServices
}

func (h *hostServer) GetState(ctx context.Context, r *pb.GetStateRequest) (*pb.GetStateResponse, error) {
	v, ok, err := h.impl.GetState(ctx, r.GetInstanceId(), r.GetKey())
	if err != nil {
		return nil, toStatus(err, noRedact)
	}
	return &pb.GetStateResponse{Found: ok, Value: v}, nil
}

func (h *hostServer) SetState(ctx context.Context, r *pb.SetStateRequest) (*pb.SetStateResponse, error) {
	if len(r.GetValue()) > 64<<10 {
		return nil, toStatus(ConfigError("/value", "state values are limited to 64 KiB, got %d bytes", len(r.GetValue())), noRedact)
	}
	if err := h.impl.SetState(ctx, r.GetInstanceId(), r.GetKey(), r.GetValue()); err != nil {
		return nil, toStatus(err, noRedact)
	}
	return &pb.SetStateResponse{}, nil
}

func (h *hostServer) ReportProgress(ctx context.Context, r *pb.ReportProgressRequest) (*pb.ReportProgressResponse, error) {
	if err := h.impl.ReportProgress(ctx, r.GetJobId(), r.GetDone(), r.GetTotal(), r.GetMessage()); err != nil {
		return nil, toStatus(err, noRedact)
	}
	return &pb.ReportProgressResponse{}, nil
}

func (h *hostServer) EmitRuns(ctx context.Context, r *pb.EmitRunsRequest) (*pb.EmitRunsResponse, error) {
	if err := h.impl.EmitRuns(ctx, r.GetInstanceId(), runsFromProto(r.GetRuns())); err != nil {
		return nil, toStatus(err, noRedact)
	}
	return &pb.EmitRunsResponse{}, nil
}

func noRedact(s string) string { return s }
