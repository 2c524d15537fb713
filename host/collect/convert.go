package collect

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/puod/puod/host/store"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// Conversions from the plugin's run types to the store's. An unknown state
// becomes "" (the store keeps the previous state).

var protoStates = map[pb.RunState]string{
	pb.RunState_RUN_STATE_QUEUED:    store.RunQueued,
	pb.RunState_RUN_STATE_RUNNING:   store.RunRunning,
	pb.RunState_RUN_STATE_SUCCEEDED: store.RunSucceeded,
	pb.RunState_RUN_STATE_FAILED:    store.RunFailed,
	pb.RunState_RUN_STATE_CANCELLED: store.RunCancelled,
	pb.RunState_RUN_STATE_SKIPPED:   store.RunSkipped,
	pb.RunState_RUN_STATE_TIMED_OUT: store.RunTimedOut,
}

func protoTime(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime()
	return &t
}

func runsFromProto(in []*pb.Run) []store.RunUpsert {
	out := make([]store.RunUpsert, len(in))
	for i, r := range in {
		u := store.RunUpsert{
			ExternalID:         r.GetExternalId(),
			PipelineExternalID: r.GetPipelineExternalId(),
			PipelineName:       r.GetPipelineName(),
			RunData: store.RunData{
				State:        protoStates[r.GetState()],
				RawState:     r.GetRawState(),
				QueuedAt:     protoTime(r.GetQueuedAt()),
				StartedAt:    protoTime(r.GetStartedAt()),
				EndedAt:      protoTime(r.GetEndedAt()),
				ErrorMessage: r.GetErrorMessage(),
				URL:          r.GetUrl(),
				Attempt:      int(r.GetAttempt()),
				Attributes:   r.GetAttributes(),
				Metrics:      r.GetMetrics(),
			},
		}
		if d := r.GetDuration(); d != nil && d.AsDuration() > 0 {
			ms := d.AsDuration().Milliseconds()
			u.DurationMS = &ms
		}
		if ts := r.GetTasks(); len(ts) > 0 {
			u.Tasks = make([]store.Task, len(ts))
			for j, t := range ts {
				u.Tasks[j] = store.Task{ExternalID: t.GetExternalId(), Name: t.GetName(), State: protoStates[t.GetState()],
					RawState: t.GetRawState(), StartedAt: protoTime(t.GetStartedAt()), EndedAt: protoTime(t.GetEndedAt()),
					Attempt: int(t.GetAttempt()), ErrorMessage: t.GetErrorMessage()}
			}
		}
		out[i] = u
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func sdkState(s sdk.RunState) string {
	if s.Valid() {
		return string(s)
	}
	return ""
}

func runsFromSDK(in []sdk.Run) []store.RunUpsert {
	out := make([]store.RunUpsert, len(in))
	for i, r := range in {
		u := store.RunUpsert{
			ExternalID:         r.ExternalID,
			PipelineExternalID: r.PipelineExternalID,
			PipelineName:       r.PipelineName,
			RunData: store.RunData{
				State: sdkState(r.State), RawState: r.RawState,
				QueuedAt: optTime(r.QueuedAt), StartedAt: optTime(r.StartedAt), EndedAt: optTime(r.EndedAt),
				ErrorMessage: r.ErrorMessage, URL: r.URL, Attempt: r.Attempt, Attributes: r.Attributes, Metrics: r.Metrics,
			},
		}
		if r.Duration > 0 {
			ms := r.Duration.Milliseconds()
			u.DurationMS = &ms
		}
		if len(r.Tasks) > 0 {
			u.Tasks = make([]store.Task, len(r.Tasks))
			for j, t := range r.Tasks {
				u.Tasks[j] = store.Task{ExternalID: t.ExternalID, Name: t.Name, State: sdkState(t.State), RawState: t.RawState,
					StartedAt: optTime(t.StartedAt), EndedAt: optTime(t.EndedAt), Attempt: t.Attempt, ErrorMessage: t.ErrorMessage}
			}
		}
		out[i] = u
	}
	return out
}
