package sdk

import (
	"encoding/json"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk/manifest"
)

// Conversions between the SDK's Go types and the wire types. They live here
// so the plugin side and the host side (Client) share one definition.

var stateToProto = map[RunState]pb.RunState{
	StateQueued:    pb.RunState_RUN_STATE_QUEUED,
	StateRunning:   pb.RunState_RUN_STATE_RUNNING,
	StateSucceeded: pb.RunState_RUN_STATE_SUCCEEDED,
	StateFailed:    pb.RunState_RUN_STATE_FAILED,
	StateCancelled: pb.RunState_RUN_STATE_CANCELLED,
	StateSkipped:   pb.RunState_RUN_STATE_SKIPPED,
	StateTimedOut:  pb.RunState_RUN_STATE_TIMED_OUT,
}

var stateFromProto = func() map[pb.RunState]RunState {
	m := make(map[pb.RunState]RunState, len(stateToProto))
	for k, v := range stateToProto {
		m[v] = k
	}
	return m
}()

func tsToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromProto(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// RunToProto converts a run to its wire form.
func RunToProto(r *Run) *pb.Run {
	out := &pb.Run{
		ExternalId:         r.ExternalID,
		PipelineExternalId: r.PipelineExternalID,
		PipelineName:       r.PipelineName,
		State:              stateToProto[r.State],
		RawState:           r.RawState,
		QueuedAt:           tsToProto(r.QueuedAt),
		StartedAt:          tsToProto(r.StartedAt),
		EndedAt:            tsToProto(r.EndedAt),
		ErrorMessage:       r.ErrorMessage,
		Url:                r.URL,
		Attributes:         r.Attributes,
		Attempt:            int32(r.Attempt),
		Metrics:            r.Metrics,
	}
	if r.Duration != 0 {
		out.Duration = durationpb.New(r.Duration)
	}
	if len(r.Tasks) > 0 {
		out.Tasks = make([]*pb.TaskRun, len(r.Tasks))
		for i := range r.Tasks {
			t := &r.Tasks[i]
			out.Tasks[i] = &pb.TaskRun{
				ExternalId: t.ExternalID, Name: t.Name, State: stateToProto[t.State], RawState: t.RawState,
				StartedAt: tsToProto(t.StartedAt), EndedAt: tsToProto(t.EndedAt), Attempt: int32(t.Attempt),
				ErrorMessage: t.ErrorMessage,
			}
		}
	}
	return out
}

// RunFromProto converts a wire run. An unknown state becomes "" (the host
// then keeps the run's previous state).
func RunFromProto(r *pb.Run) Run {
	out := Run{
		ExternalID:         r.GetExternalId(),
		PipelineExternalID: r.GetPipelineExternalId(),
		PipelineName:       r.GetPipelineName(),
		State:              stateFromProto[r.GetState()],
		RawState:           r.GetRawState(),
		QueuedAt:           tsFromProto(r.GetQueuedAt()),
		StartedAt:          tsFromProto(r.GetStartedAt()),
		EndedAt:            tsFromProto(r.GetEndedAt()),
		ErrorMessage:       r.GetErrorMessage(),
		URL:                r.GetUrl(),
		Attributes:         r.GetAttributes(),
		Attempt:            int(r.GetAttempt()),
		Metrics:            r.GetMetrics(),
	}
	if d := r.GetDuration(); d != nil {
		out.Duration = d.AsDuration()
	}
	if ts := r.GetTasks(); len(ts) > 0 {
		out.Tasks = make([]TaskRun, len(ts))
		for i, t := range ts {
			out.Tasks[i] = TaskRun{
				ExternalID: t.GetExternalId(), Name: t.GetName(), State: stateFromProto[t.GetState()], RawState: t.GetRawState(),
				StartedAt: tsFromProto(t.GetStartedAt()), EndedAt: tsFromProto(t.GetEndedAt()), Attempt: int(t.GetAttempt()),
				ErrorMessage: t.GetErrorMessage(),
			}
		}
	}
	return out
}

func runsToProto(runs []Run) []*pb.Run {
	out := make([]*pb.Run, len(runs))
	for i := range runs {
		out[i] = RunToProto(&runs[i])
	}
	return out
}

func runsFromProto(runs []*pb.Run) []Run {
	out := make([]Run, len(runs))
	for i, r := range runs {
		out[i] = RunFromProto(r)
	}
	return out
}

func pipelineToProto(p *Pipeline) *pb.Pipeline {
	return &pb.Pipeline{ExternalId: p.ExternalID, Name: p.Name, Tags: p.Tags, Url: p.URL, Attributes: p.Attributes}
}

func pipelineFromProto(p *pb.Pipeline) Pipeline {
	return Pipeline{ExternalID: p.GetExternalId(), Name: p.GetName(), Tags: p.GetTags(), URL: p.GetUrl(), Attributes: p.GetAttributes()}
}

func timeRangeToProto(tr TimeRange) *pb.TimeRange {
	return &pb.TimeRange{From: tsToProto(tr.From), To: tsToProto(tr.To)}
}

func timeRangeFromProto(tr *pb.TimeRange) TimeRange {
	return TimeRange{From: tsFromProto(tr.GetFrom()), To: tsFromProto(tr.GetTo())}
}

var frameTypes = map[FrameType]pb.FrameType{
	FrameTable: pb.FrameType_FRAME_TYPE_TABLE, FrameTimeSeries: pb.FrameType_FRAME_TYPE_TIMESERIES,
	FrameStat: pb.FrameType_FRAME_TYPE_STAT, FrameCategories: pb.FrameType_FRAME_TYPE_CATEGORIES,
	FrameStatusGrid: pb.FrameType_FRAME_TYPE_STATUS_GRID,
}

var fieldTypes = map[FieldType]pb.FieldType{
	FieldString: pb.FieldType_FIELD_TYPE_STRING, FieldInt: pb.FieldType_FIELD_TYPE_INT,
	FieldFloat: pb.FieldType_FIELD_TYPE_FLOAT, FieldBool: pb.FieldType_FIELD_TYPE_BOOL,
	FieldTime: pb.FieldType_FIELD_TYPE_TIME, FieldDuration: pb.FieldType_FIELD_TYPE_DURATION,
}

func reverse[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var frameTypesBack = reverse(frameTypes)
var fieldTypesBack = reverse(fieldTypes)

// FrameToProto converts a frame to its wire form.
func FrameToProto(f *Frame) *pb.Frame {
	if f == nil {
		return nil
	}
	out := &pb.Frame{Name: f.Name, Type: frameTypes[f.Type], Fields: make([]*pb.Field, len(f.Fields))}
	if len(f.Meta) > 0 {
		out.MetaJson, _ = json.Marshal(f.Meta)
	}
	for i, fld := range f.Fields {
		pf := &pb.Field{Name: fld.Name, Label: fld.Label, Unit: fld.Unit, Type: fieldTypes[fld.Type]}
		switch fld.Type {
		case FieldString:
			pf.StringValues = fld.Strings
		case FieldInt:
			pf.IntValues = fld.Ints
		case FieldFloat:
			pf.FloatValues = fld.Floats
		case FieldBool:
			pf.BoolValues = fld.Bools
		case FieldTime:
			pf.IntValues = make([]int64, len(fld.Times))
			for j, t := range fld.Times {
				if !t.IsZero() {
					pf.IntValues[j] = t.UnixNano()
				}
			}
		case FieldDuration:
			pf.IntValues = make([]int64, len(fld.Durations))
			for j, d := range fld.Durations {
				pf.IntValues[j] = int64(d)
			}
		}
		if fld.Nulls != nil {
			bits := make([]byte, (len(fld.Nulls)+7)/8)
			any := false
			for j, n := range fld.Nulls {
				if n {
					bits[j/8] |= 1 << (j % 8)
					any = true
				}
			}
			if any {
				pf.Nulls = bits
			}
		}
		out.Fields[i] = pf
	}
	return out
}

// FrameFromProto converts a wire frame.
func FrameFromProto(p *pb.Frame) *Frame {
	if p == nil {
		return nil
	}
	f := &Frame{Name: p.GetName(), Type: frameTypesBack[p.GetType()], Fields: make([]*Field, len(p.GetFields()))}
	if len(p.GetMetaJson()) > 0 {
		_ = json.Unmarshal(p.GetMetaJson(), &f.Meta)
	}
	for i, pf := range p.GetFields() {
		fld := &Field{Name: pf.GetName(), Label: pf.GetLabel(), Unit: pf.GetUnit(), Type: fieldTypesBack[pf.GetType()]}
		n := 0
		switch fld.Type {
		case FieldString:
			fld.Strings, n = pf.GetStringValues(), len(pf.GetStringValues())
		case FieldInt:
			fld.Ints, n = pf.GetIntValues(), len(pf.GetIntValues())
		case FieldFloat:
			fld.Floats, n = pf.GetFloatValues(), len(pf.GetFloatValues())
		case FieldBool:
			fld.Bools, n = pf.GetBoolValues(), len(pf.GetBoolValues())
		case FieldTime:
			n = len(pf.GetIntValues())
			fld.Times = make([]time.Time, n)
			for j, v := range pf.GetIntValues() {
				if v != 0 {
					fld.Times[j] = time.Unix(0, v).UTC()
				}
			}
		case FieldDuration:
			n = len(pf.GetIntValues())
			fld.Durations = make([]time.Duration, n)
			for j, v := range pf.GetIntValues() {
				fld.Durations[j] = time.Duration(v)
			}
		}
		if bits := pf.GetNulls(); len(bits) > 0 {
			fld.Nulls = make([]bool, n)
			for j := 0; j < n && j/8 < len(bits); j++ {
				fld.Nulls[j] = bits[j/8]&(1<<(j%8)) != 0
			}
		}
		f.Fields[i] = fld
	}
	return f
}

var notifStatus = map[NotificationStatus]pb.NotificationStatus{
	NotificationFiring:   pb.NotificationStatus_NOTIFICATION_STATUS_FIRING,
	NotificationResolved: pb.NotificationStatus_NOTIFICATION_STATUS_RESOLVED,
}
var notifStatusBack = reverse(notifStatus)

func notificationToProto(n *Notification) *pb.Notification {
	out := &pb.Notification{
		Id: n.ID, Status: notifStatus[n.Status], RuleId: n.RuleID, RuleName: n.RuleName, Severity: n.Severity,
		Title: n.Title, Summary: n.Summary, Labels: n.Labels, Annotations: n.Annotations, PipelineName: n.PipelineName,
		RunExternalId: n.RunExternalID, Value: n.Value, Threshold: n.Threshold, StartsAt: tsToProto(n.StartsAt),
		EndsAt: tsToProto(n.EndsAt), GroupKey: n.GroupKey,
	}
	for _, l := range n.Links {
		out.Links = append(out.Links, &pb.Link{Title: l.Title, Url: l.URL})
	}
	for i := range n.Alerts {
		out.Alerts = append(out.Alerts, notificationToProto(&n.Alerts[i]))
	}
	return out
}

func notificationFromProto(n *pb.Notification) Notification {
	out := Notification{
		ID: n.GetId(), Status: notifStatusBack[n.GetStatus()], RuleID: n.GetRuleId(), RuleName: n.GetRuleName(),
		Severity: n.GetSeverity(), Title: n.GetTitle(), Summary: n.GetSummary(), Labels: n.GetLabels(),
		Annotations: n.GetAnnotations(), PipelineName: n.GetPipelineName(), RunExternalID: n.GetRunExternalId(),
		Value: n.GetValue(), Threshold: n.GetThreshold(), StartsAt: tsFromProto(n.GetStartsAt()),
		EndsAt: tsFromProto(n.GetEndsAt()), GroupKey: n.GetGroupKey(),
	}
	for _, l := range n.GetLinks() {
		out.Links = append(out.Links, Link{Title: l.GetTitle(), URL: l.GetUrl()})
	}
	for _, a := range n.GetAlerts() {
		out.Alerts = append(out.Alerts, notificationFromProto(a))
	}
	return out
}

func cardToProto(c manifest.Card) *pb.CardType {
	out := &pb.CardType{Type: c.Type, Title: c.Title, Description: c.Description, Visualization: c.Visualization, OptionsSchemaJson: c.Options}
	if c.DefaultSize != nil {
		out.DefaultWidth, out.DefaultHeight = int32(c.DefaultSize.W), int32(c.DefaultSize.H)
	}
	return out
}

func cardFromProto(c *pb.CardType) manifest.Card {
	out := manifest.Card{Type: c.GetType(), Title: c.GetTitle(), Description: c.GetDescription(), Visualization: c.GetVisualization(), Options: c.GetOptionsSchemaJson()}
	if c.GetDefaultWidth() > 0 || c.GetDefaultHeight() > 0 {
		out.DefaultSize = &manifest.Size{W: int(c.GetDefaultWidth()), H: int(c.GetDefaultHeight())}
	}
	return out
}

func healthFromProto(h *pb.CheckHealthResponse) Health {
	out := Health{Message: h.GetMessage()}
	switch h.GetStatus() {
	case pb.HealthStatus_HEALTH_STATUS_OK:
		out.Status = HealthOK
	case pb.HealthStatus_HEALTH_STATUS_DEGRADED:
		out.Status = HealthDegraded
	default:
		out.Status = HealthError
	}
	if len(h.GetDetailsJson()) > 0 {
		_ = json.Unmarshal(h.GetDetailsJson(), &out.Details)
	}
	return out
}

func healthToProto(h Health) *pb.CheckHealthResponse {
	out := &pb.CheckHealthResponse{Message: h.Message}
	switch h.Status {
	case HealthOK:
		out.Status = pb.HealthStatus_HEALTH_STATUS_OK
	case HealthDegraded:
		out.Status = pb.HealthStatus_HEALTH_STATUS_DEGRADED
	default:
		out.Status = pb.HealthStatus_HEALTH_STATUS_ERROR
	}
	if len(h.Details) > 0 {
		out.DetailsJson, _ = json.Marshal(h.Details)
	}
	return out
}

func durationpbNew(d time.Duration) *durationpb.Duration { return durationpb.New(d) }
