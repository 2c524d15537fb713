package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk/manifest"
)

// server implements the gRPC services on the plugin side.
type server struct {
	def   *definition
	insts *instances

	hostMu sync.Mutex
	broker *plugin.GRPCBroker
	host   *hostClient
}

func newServer(d *definition) *server {
	s := &server{def: d}
	s.insts = &instances{byID: map[string]*instance{}, log: d.log}
	s.insts.build = func(ctx context.Context, id string, rev int64, cfg []byte, secrets map[string]string) (any, error) {
		env := Env{InstanceID: id, Revision: rev, Logger: d.log.Named(id), Host: s.hostServices()}
		return d.build(ctx, env, cfg, secrets)
	}
	return s
}

// grpcServer builds the gRPC server with panic recovery on every call.
func (s *server) grpcServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts,
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	)
	return grpc.NewServer(opts...)
}

func (s *server) register(broker *plugin.GRPCBroker, g *grpc.Server) {
	s.hostMu.Lock()
	s.broker = broker
	s.hostMu.Unlock()
	m := s.def.manifest
	pb.RegisterPluginServer(g, &pluginService{s: s})
	if m.HasKind(manifest.KindConnector) {
		pb.RegisterConnectorServer(g, &connectorService{s: s})
	}
	if m.HasKind(manifest.KindAlertSink) {
		pb.RegisterAlertSinkServer(g, &alertSinkService{s: s})
	}
	if m.HasKind(manifest.KindExporter) {
		pb.RegisterExporterServer(g, &exporterService{s: s})
	}
}

// panicError logs a recovered panic and turns it into an INTERNAL error.
// secrets are those the request carries (Configure, ValidateConfig): no
// instance holds them yet, and a panic in New may well print them.
func (s *server) panicError(method string, r any, secrets map[string]string) error {
	redact := s.insts.redactor(secrets)
	msg := redact(fmt.Sprint(r))
	s.def.log.Error("plugin panicked; the call fails, the plugin keeps serving", "method", method, "panic", msg, "stack", string(debug.Stack()))
	return toStatus(&Error{Kind: KindInternal, Message: fmt.Sprintf("plugin panicked in %s: %s", method, msg)}, redact)
}

// requestSecrets returns the secrets a request carries, if any.
func requestSecrets(req any) map[string]string {
	if r, ok := req.(interface{ GetSecrets() map[string]string }); ok {
		return r.GetSecrets()
	}
	return nil
}

func (s *server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, s.panicError(info.FullMethod, r, requestSecrets(req))
		}
	}()
	return h(ctx, req)
}

func (s *server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicError(info.FullMethod, r, nil)
		}
	}()
	return h(srv, ss)
}

// wire converts an error for the wire, redacting every known secret.
func (s *server) wire(err error) error {
	return toStatus(err, s.insts.redactor(nil))
}

func instanceAs[T any](s *server, id, capability string) (T, error) {
	var zero T
	inst, err := s.insts.get(id)
	if err != nil {
		return zero, err
	}
	v, ok := inst.value.(T)
	if !ok {
		return zero, &Error{Kind: KindUnimplemented, Message: fmt.Sprintf("plugin %s does not implement %s", s.def.manifest.ID, capability)}
	}
	return v, nil
}

// --- Plugin service ---

type pluginService struct {
	pb.UnimplementedPluginServer
	s *server
}

func (p *pluginService) Describe(_ context.Context, req *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	s := p.s
	if id := req.GetHostBrokerId(); id != 0 {
		s.hostMu.Lock()
		if s.broker != nil && s.host == nil {
			s.host = &hostClient{broker: s.broker, id: id}
		}
		s.hostMu.Unlock()
	}
	m := s.def.manifest
	out := &pb.DescribeResponse{
		Id: m.ID, Name: m.Name, Version: m.Version, Kinds: m.Kinds, ProtocolVersion: ProtocolVersion,
		ConfigSchemaJson: s.def.configSchema, Stability: m.Stability, SdkVersion: "go/" + Version,
	}
	for _, c := range m.Cards {
		out.Cards = append(out.Cards, cardToProto(c))
	}
	for _, e := range m.Exports {
		out.Exports = append(out.Exports, &pb.ExportFormat{Id: e.ID, MimeType: e.MIMEType, Extension: e.Extension, Title: e.Title})
	}
	return out, nil
}

func (p *pluginService) ValidateConfig(_ context.Context, req *pb.ValidateConfigRequest) (*pb.ValidateConfigResponse, error) {
	redact := p.s.insts.redactor(req.GetSecrets())
	out := &pb.ValidateConfigResponse{}
	for _, fe := range p.s.def.validate(req.GetConfigJson(), req.GetSecrets()) {
		out.Errors = append(out.Errors, &pb.FieldError{Field: fe.Field, Message: redact(fe.Message)})
	}
	return out, nil
}

func (p *pluginService) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	err := p.s.insts.configure(ctx, req.GetInstanceId(), req.GetRevision(), req.GetConfigJson(), req.GetSecrets())
	if err != nil {
		return nil, toStatus(err, p.s.insts.redactor(req.GetSecrets()))
	}
	return &pb.ConfigureResponse{}, nil
}

func (p *pluginService) RemoveInstance(_ context.Context, req *pb.RemoveInstanceRequest) (*pb.RemoveInstanceResponse, error) {
	p.s.insts.remove(req.GetInstanceId())
	return &pb.RemoveInstanceResponse{}, nil
}

func (p *pluginService) CheckHealth(ctx context.Context, req *pb.CheckHealthRequest) (*pb.CheckHealthResponse, error) {
	if req.GetInstanceId() == "" {
		return &pb.CheckHealthResponse{Status: pb.HealthStatus_HEALTH_STATUS_OK, Message: "plugin process is serving"}, nil
	}
	inst, err := p.s.insts.get(req.GetInstanceId())
	if err != nil {
		return nil, p.s.wire(err)
	}
	hc, ok := inst.value.(HealthChecker)
	if !ok {
		return &pb.CheckHealthResponse{Status: pb.HealthStatus_HEALTH_STATUS_OK, Message: "configured"}, nil
	}
	h, err := hc.CheckHealth(ctx)
	if err != nil {
		return nil, p.s.wire(err)
	}
	redact := p.s.insts.redactor(nil)
	h.Message = redact(h.Message)
	h.Details = redactDetails(h.Details, redact)
	return healthToProto(h), nil
}

// redactDetails redacts every string (keys included) of health details.
func redactDetails(d map[string]any, redact func(string) string) map[string]any {
	if len(d) == 0 {
		return d
	}
	b, err := json.Marshal(d)
	if err != nil {
		return d // healthToProto cannot encode them either: they are dropped
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		return d
	}
	out, _ := redactJSON(generic, redact).(map[string]any)
	return out
}

func redactJSON(v any, redact func(string) string) any {
	switch v := v.(type) {
	case string:
		return redact(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[redact(k)] = redactJSON(x, redact)
		}
		return out
	case []any:
		for i := range v {
			v[i] = redactJSON(v[i], redact)
		}
		return v
	}
	return v
}

// --- Connector service ---

type connectorService struct {
	pb.UnimplementedConnectorServer
	s *server
}

func (c *connectorService) ListPipelines(ctx context.Context, req *pb.ListPipelinesRequest) (*pb.ListPipelinesResponse, error) {
	conn, err := instanceAs[Connector](c.s, req.GetInstanceId(), "Connector")
	if err != nil {
		return nil, c.s.wire(err)
	}
	ps, err := conn.ListPipelines(ctx)
	if err != nil {
		return nil, c.s.wire(err)
	}
	out := &pb.ListPipelinesResponse{Pipelines: make([]*pb.Pipeline, len(ps))}
	for i := range ps {
		out.Pipelines[i] = pipelineToProto(&ps[i])
	}
	return out, nil
}

func (c *connectorService) ListRuns(req *pb.ListRunsRequest, stream grpc.ServerStreamingServer[pb.RunBatch]) error {
	conn, err := instanceAs[Connector](c.s, req.GetInstanceId(), "Connector")
	if err != nil {
		return c.s.wire(err)
	}
	ctx := stream.Context()
	max := int(req.GetMaxBatchSize())
	// committed is the cursor of the last batch sent whole: the parts of a
	// split batch carry it, so the host's cursor never moves backwards.
	committed := req.GetCursor()
	send := func(b RunBatch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, r := range b.Runs {
			if !r.State.Valid() {
				return &Error{Kind: KindInternal, Message: fmt.Sprintf("run %q has state %q, which is not a normalised state (one of %v)", r.ExternalID, r.State, RunStates)}
			}
		}
		// Split oversize batches; only the last part carries the cursor
		// forward, so a crash mid-batch never skips runs.
		runs := b.Runs
		for max > 0 && len(runs) > max {
			if err := stream.Send(&pb.RunBatch{Runs: runsToProto(runs[:max]), NextCursor: committed}); err != nil {
				return err
			}
			runs = runs[max:]
		}
		if err := stream.Send(&pb.RunBatch{Runs: runsToProto(runs), NextCursor: b.NextCursor}); err != nil {
			return err
		}
		committed = b.NextCursor
		return nil
	}
	return c.s.wire(conn.ListRuns(ctx, req.GetCursor(), send))
}

func (c *connectorService) QueryCard(ctx context.Context, req *pb.QueryCardRequest) (*pb.QueryCardResponse, error) {
	q, err := instanceAs[CardQuerier](c.s, req.GetInstanceId(), "CardQuerier")
	if err != nil {
		return nil, c.s.wire(err)
	}
	known := false
	for _, card := range c.s.def.manifest.Cards {
		known = known || card.Type == req.GetCardType()
	}
	if !known {
		return nil, c.s.wire(NotFoundError("plugin %s has no card type %q", c.s.def.manifest.ID, req.GetCardType()))
	}
	f, err := q.QueryCard(ctx, CardQuery{CardType: req.GetCardType(), Options: req.GetOptionsJson(), TimeRange: timeRangeFromProto(req.GetTimeRange())})
	if err != nil {
		return nil, c.s.wire(err)
	}
	if f == nil {
		return nil, c.s.wire(&Error{Kind: KindInternal, Message: "QueryCard returned no frame and no error"})
	}
	if err := f.Validate(); err != nil {
		return nil, c.s.wire(&Error{Kind: KindInternal, Message: err.Error()})
	}
	return &pb.QueryCardResponse{Frame: FrameToProto(f)}, nil
}

func (c *connectorService) HandleWebhook(ctx context.Context, req *pb.HandleWebhookRequest) (*pb.HandleWebhookResponse, error) {
	h, err := instanceAs[WebhookHandler](c.s, req.GetInstanceId(), "WebhookHandler")
	if err != nil {
		return nil, c.s.wire(err)
	}
	runs, err := h.HandleWebhook(ctx, Webhook{Headers: req.GetHeaders(), Body: req.GetBody()})
	if err != nil {
		return nil, c.s.wire(err)
	}
	return &pb.HandleWebhookResponse{Runs: runsToProto(runs)}, nil
}

// --- AlertSink service ---

type alertSinkService struct {
	pb.UnimplementedAlertSinkServer
	s *server
}

func (a *alertSinkService) Notify(ctx context.Context, req *pb.NotifyRequest) (*pb.NotifyResponse, error) {
	sink, err := instanceAs[AlertSink](a.s, req.GetInstanceId(), "AlertSink")
	if err != nil {
		return nil, a.s.wire(err)
	}
	err = sink.Notify(ctx, notificationFromProto(req.GetNotification()))
	if err == nil {
		return &pb.NotifyResponse{Outcome: pb.NotifyOutcome_NOTIFY_OUTCOME_DELIVERED}, nil
	}
	redact := a.s.insts.redactor(nil)
	out := &pb.NotifyResponse{Outcome: pb.NotifyOutcome_NOTIFY_OUTCOME_RETRYABLE, Reason: redact(err.Error())}
	var e *Error
	if errors.As(err, &e) {
		switch e.Kind {
		case KindPermanent, KindConfig, KindAuth, KindNotFound:
			out.Outcome = pb.NotifyOutcome_NOTIFY_OUTCOME_PERMANENT
		}
		if e.RetryAfter > 0 {
			out.RetryAfter = durationpbNew(e.RetryAfter)
		}
	}
	return out, nil
}

// --- Exporter service ---

type exporterService struct {
	pb.UnimplementedExporterServer
	s *server
}

// exportChunkSize bounds each chunk streamed back to the host.
const exportChunkSize = 64 << 10

type streamFrames struct {
	stream grpc.BidiStreamingServer[pb.ExportRequest, pb.ExportChunk]
}

func (f streamFrames) Next() (*Frame, error) {
	req, err := f.stream.Recv()
	if err != nil {
		return nil, err // io.EOF at the end
	}
	fr := req.GetFrame()
	if fr == nil {
		return nil, &Error{Kind: KindConfig, Message: "export stream: expected a frame after the header"}
	}
	return FrameFromProto(fr), nil
}

type chunkWriter struct {
	stream     grpc.BidiStreamingServer[pb.ExportRequest, pb.ExportChunk]
	buf        []byte
	first      bool
	name, mime string
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := exportChunkSize - len(w.buf)
		if room > len(p) {
			room = len(p)
		}
		w.buf = append(w.buf, p[:room]...)
		p = p[room:]
		if len(w.buf) == exportChunkSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	c := &pb.ExportChunk{Data: w.buf}
	if w.first {
		c.FileName, c.MimeType = w.name, w.mime
		w.first = false
	}
	err := w.stream.Send(c)
	w.buf = make([]byte, 0, exportChunkSize)
	return err
}

func (e *exporterService) Export(stream grpc.BidiStreamingServer[pb.ExportRequest, pb.ExportChunk]) error {
	first, err := stream.Recv()
	if err != nil {
		return e.s.wire(fmt.Errorf("export stream: read header: %w", err))
	}
	h := first.GetHeader()
	if h == nil {
		return e.s.wire(ConfigError("", "export stream must start with a header"))
	}
	exp, err := instanceAs[Exporter](e.s, h.GetInstanceId(), "Exporter")
	if err != nil {
		return e.s.wire(err)
	}
	var format *manifest.ExportFormat
	for i := range e.s.def.manifest.Exports {
		if e.s.def.manifest.Exports[i].ID == h.GetFormat() {
			format = &e.s.def.manifest.Exports[i]
		}
	}
	if format == nil {
		return e.s.wire(NotFoundError("plugin %s does not export format %q", e.s.def.manifest.ID, h.GetFormat()))
	}
	name := h.GetTitle()
	if name == "" {
		name = "export"
	}
	w := &chunkWriter{stream: stream, first: true, name: name + "." + format.Extension, mime: format.MIMEType, buf: make([]byte, 0, exportChunkSize)}
	hdr := ExportHeader{Format: h.GetFormat(), Title: h.GetTitle(), TimeRange: timeRangeFromProto(h.GetTimeRange()), Parameters: h.GetParameters(), JobID: h.GetJobId()}
	if err := exp.Export(stream.Context(), hdr, streamFrames{stream: stream}, w); err != nil && !errors.Is(err, io.EOF) {
		return e.s.wire(err)
	}
	if len(w.buf) > 0 || w.first {
		if err := w.flush(); err != nil {
			return e.s.wire(err)
		}
	}
	return nil
}
