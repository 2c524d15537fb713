package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

func run(id string, state sdk.RunState) sdk.Run {
	return sdk.Run{ExternalID: id, PipelineExternalID: "p", State: state}
}

func TestListRuns_rejectsNonNormalisedState(t *testing.T) {
	var runs atomic.Pointer[[]sdk.Run]
	sendErr := make(chan error, 1)
	s := serveKit(t, &behaviour{
		runs: func(_ context.Context, _ string, send func(sdk.RunBatch) error) error {
			err := send(sdk.RunBatch{Runs: *runs.Load(), NextCursor: "next"})
			sendErr <- err
			return err
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	cases := []struct {
		name  string
		state sdk.RunState
		bad   bool
	}{
		{"vendor spelling", "SUCCESS", true},
		{"empty", "", true},
		{"capitalised", "Succeeded", true},
		{"near miss", "canceled", true},
	}
	for _, st := range sdk.RunStates {
		cases = append(cases, struct {
			name  string
			state sdk.RunState
			bad   bool
		}{string(st), st, false})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			batch := []sdk.Run{run("ok-1", sdk.StateSucceeded), run("r-2", c.state)}
			runs.Store(&batch)
			var got []sdk.RunBatch
			err := s.ListRuns(ctx(t), "i", "", 0, func(b sdk.RunBatch) error { got = append(got, b); return nil })
			if perr := <-sendErr; (perr != nil) != c.bad {
				t.Errorf("send returned %v to the plugin", perr)
			}
			if !c.bad {
				if err != nil || len(got) != 1 || got[0].Runs[1].State != c.state {
					t.Errorf("valid state %q: err %v, batches %+v", c.state, err, got)
				}
				return
			}
			e := assertTyped(t, err, sdk.KindInternal)
			for _, want := range []string{`"r-2"`, fmt.Sprintf("%q", c.state), "not a normalised state", "succeeded"} {
				if !strings.Contains(e.Message, want) {
					t.Errorf("message %q does not contain %s", e.Message, want)
				}
			}
			if len(got) != 0 {
				t.Errorf("a batch with an invalid run was delivered: %+v", got)
			}
		})
	}
}

func TestListRuns_splitsOversizeBatches(t *testing.T) {
	var sizes atomic.Pointer[[]int]
	s := serveKit(t, &behaviour{
		runs: func(_ context.Context, _ string, send func(sdk.RunBatch) error) error {
			n := 0
			for bi, size := range *sizes.Load() {
				b := sdk.RunBatch{NextCursor: "c" + strconv.Itoa(bi+1)}
				for range size {
					n++
					b.Runs = append(b.Runs, run(strconv.Itoa(n), sdk.StateSucceeded))
				}
				if err := send(b); err != nil {
					return err
				}
			}
			return nil
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	type part struct {
		runs   int
		cursor string
	}
	cases := []struct {
		name    string
		max     int
		batches []int
		want    []part
	}{
		{"no limit", 0, []int{3, 5}, []part{{3, "c1"}, {5, "c2"}}},
		{"fits", 5, []int{5, 1}, []part{{5, "c1"}, {1, "c2"}}},
		{"one oversize batch", 2, []int{3}, []part{{2, "c0"}, {1, "c1"}}},
		{"exact multiple", 2, []int{4}, []part{{2, "c0"}, {2, "c1"}}},
		{
			"oversize batch after another keeps the cursor of the one before",
			2, []int{3, 5},
			[]part{{2, "c0"}, {1, "c1"}, {2, "c1"}, {2, "c1"}, {1, "c2"}},
		},
		{"limit of one", 1, []int{2, 2}, []part{{1, "c0"}, {1, "c1"}, {1, "c1"}, {1, "c2"}}},
		{"empty batch still moves the cursor", 2, []int{0, 3}, []part{{0, "c1"}, {2, "c1"}, {1, "c2"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sizes.Store(&c.batches)
			var got []part
			next := 1
			err := s.ListRuns(ctx(t), "i", "c0", c.max, func(b sdk.RunBatch) error {
				got = append(got, part{len(b.Runs), b.NextCursor})
				for _, r := range b.Runs {
					if r.ExternalID != strconv.Itoa(next) {
						t.Errorf("run %s arrived where run %d was due", r.ExternalID, next)
					}
					next++
				}
				return nil
			})
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("parts (runs, cursor) = %v, want %v", got, c.want)
			}
		})
	}
}

func TestListRuns_callbackErrorStopsThePlugin(t *testing.T) {
	pluginErr := make(chan error, 1)
	s := serveKit(t, &behaviour{
		runs: func(ctx context.Context, _ string, send func(sdk.RunBatch) error) error {
			for i := 0; ; i++ {
				if err := send(sdk.RunBatch{Runs: []sdk.Run{run(strconv.Itoa(i), sdk.StateRunning)}, NextCursor: strconv.Itoa(i)}); err != nil {
					pluginErr <- err
					return err
				}
				if i > 100000 {
					pluginErr <- errors.New("send never failed")
					return nil
				}
			}
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	stop := errors.New("storage is full")
	calls := 0
	err := s.ListRuns(ctx(t), "i", "", 0, func(sdk.RunBatch) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("ListRuns returned %v, want the callback's error as is", err)
	}
	select {
	case perr := <-pluginErr:
		if perr == nil || perr.Error() == "send never failed" {
			t.Errorf("the plugin's send did not fail after the host stopped: %v", perr)
		}
	case <-time.After(5 * time.Second):
		t.Error("the plugin kept running after the host stopped the stream")
	}
}

func TestQueryCard_checksAnswerAndPassesQuery(t *testing.T) {
	var answer atomic.Pointer[func(sdk.CardQuery) (*sdk.Frame, error)]
	s := serveKit(t, &behaviour{
		card: func(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) { return (*answer.Load())(q) },
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	q := sdk.CardQuery{CardType: "runs", Options: []byte(`{"limit":5}`), TimeRange: sdk.TimeRange{From: from, To: from.Add(time.Hour)}}
	cases := []struct {
		name     string
		cardType string
		answer   func(sdk.CardQuery) (*sdk.Frame, error)
		kind     sdk.ErrorKind // "" : success
		message  string
	}{
		{"query arrives intact", "runs", func(got sdk.CardQuery) (*sdk.Frame, error) {
			if got.CardType != q.CardType || string(got.Options) != string(q.Options) || !got.TimeRange.From.Equal(from) || !got.TimeRange.To.Equal(q.TimeRange.To) {
				return nil, fmt.Errorf("query = %+v", got)
			}
			return sdk.NewFrame("f", sdk.FrameStat, sdk.IntField("n", 1)), nil
		}, "", ""},
		{"unknown card type", "nope", nil, sdk.KindNotFound, `no card type "nope"`},
		{"nil frame", "runs", func(sdk.CardQuery) (*sdk.Frame, error) { return nil, nil }, sdk.KindInternal, "no frame and no error"},
		{"invalid frame", "runs", func(sdk.CardQuery) (*sdk.Frame, error) {
			return sdk.NewFrame("f", sdk.FrameTable, sdk.IntField("a", 1, 2), sdk.IntField("b", 1)), nil
		}, sdk.KindInternal, `field "b" has 1 values`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answer.Store(&c.answer)
			qq := q
			qq.CardType = c.cardType
			f, err := s.QueryCard(ctx(t), "i", qq)
			if c.kind == "" {
				if err != nil || f == nil || f.Name != "f" {
					t.Fatalf("QueryCard = %v, %v", f, err)
				}
				return
			}
			e := assertTyped(t, err, c.kind)
			if !strings.Contains(e.Message, c.message) {
				t.Errorf("message %q does not contain %q", e.Message, c.message)
			}
		})
	}
}

func TestHandleWebhook_passesRequestAndRuns(t *testing.T) {
	s := serveKit(t, &behaviour{
		webhook: func(_ context.Context, w sdk.Webhook) ([]sdk.Run, error) {
			if w.Headers["X-Sig"] != "abc" || string(w.Body) != `{"id": 1}` {
				return nil, sdk.PermanentError("webhook = %+v", w)
			}
			return []sdk.Run{{ExternalID: "w1", PipelineExternalID: "p", State: sdk.StateFailed, ErrorMessage: "oops"}}, nil
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	runs, err := s.HandleWebhook(ctx(t), "i", sdk.Webhook{Headers: map[string]string{"X-Sig": "abc"}, Body: []byte(`{"id": 1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ExternalID != "w1" || runs[0].State != sdk.StateFailed || runs[0].ErrorMessage != "oops" {
		t.Errorf("runs = %+v", runs)
	}
}

func TestRunProto_roundTrip(t *testing.T) {
	t0 := time.Date(2026, 5, 17, 10, 11, 12, 123456789, time.UTC)
	full := sdk.Run{
		ExternalID: "r1", PipelineExternalID: "p1", PipelineName: "Pipeline one",
		State: sdk.StateFailed, RawState: "FAILED_WITH_ERRORS",
		QueuedAt: t0, StartedAt: t0.Add(time.Second), EndedAt: t0.Add(time.Minute),
		Duration: 59 * time.Second, ErrorMessage: "task t2 failed", URL: "https://x.example/r1",
		Attributes: map[string]string{"cluster": "c1", "trigger": "cron"},
		Tasks: []sdk.TaskRun{
			{ExternalID: "t1", Name: "extract", State: sdk.StateSucceeded, RawState: "OK", StartedAt: t0.Add(time.Second), EndedAt: t0.Add(2 * time.Second), Attempt: 1},
			{ExternalID: "t2", Name: "load", State: sdk.StateFailed, RawState: "ERR", StartedAt: t0.Add(3 * time.Second), Attempt: 3, ErrorMessage: "disk full"},
		},
		Attempt: 2,
		Metrics: map[string]float64{"rows": 1234, "bytes": 5.5e9},
	}
	cases := []struct {
		name string
		run  sdk.Run
	}{
		{"every field", full},
		{"zero run", sdk.Run{}},
		{"times in another zone", sdk.Run{ExternalID: "z", State: sdk.StateRunning, StartedAt: t0.In(time.FixedZone("X", 5*3600))}},
	}
	for _, st := range sdk.RunStates {
		cases = append(cases, struct {
			name string
			run  sdk.Run
		}{"state " + string(st), sdk.Run{ExternalID: "s", State: st, Tasks: []sdk.TaskRun{{ExternalID: "t", State: st}}}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Marshal through the wire bytes too, not only the structs.
			wire, err := proto.Marshal(sdk.RunToProto(&c.run))
			if err != nil {
				t.Fatal(err)
			}
			var back pb.Run
			if err := proto.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			got := sdk.RunFromProto(&back)
			if !runsEqual(got, c.run) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c.run)
			}
		})
	}
}

// runsEqual compares runs, times by instant.
func runsEqual(a, b sdk.Run) bool {
	norm := func(r sdk.Run) sdk.Run {
		r.QueuedAt, r.StartedAt, r.EndedAt = utc(r.QueuedAt), utc(r.StartedAt), utc(r.EndedAt)
		r.Tasks = append([]sdk.TaskRun(nil), r.Tasks...)
		for i := range r.Tasks {
			r.Tasks[i].StartedAt, r.Tasks[i].EndedAt = utc(r.Tasks[i].StartedAt), utc(r.Tasks[i].EndedAt)
		}
		if len(r.Attributes) == 0 {
			r.Attributes = nil
		}
		if len(r.Metrics) == 0 {
			r.Metrics = nil
		}
		if len(r.Tasks) == 0 {
			r.Tasks = nil
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func TestRunFromProto_unknownStateIsEmpty(t *testing.T) {
	cases := []struct {
		name  string
		state pb.RunState
		want  sdk.RunState
	}{
		{"unspecified", pb.RunState_RUN_STATE_UNSPECIFIED, ""},
		{"newer than this SDK", pb.RunState(99), ""},
		{"known", pb.RunState_RUN_STATE_TIMED_OUT, sdk.StateTimedOut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sdk.RunFromProto(&pb.Run{ExternalId: "r", State: c.state, Tasks: []*pb.TaskRun{{ExternalId: "t", State: c.state}}})
			if r.State != c.want || r.Tasks[0].State != c.want {
				t.Errorf("state = %q, task state = %q, want %q", r.State, r.Tasks[0].State, c.want)
			}
		})
	}
	if got := sdk.RunToProto(&sdk.Run{State: "bogus"}).GetState(); got != pb.RunState_RUN_STATE_UNSPECIFIED {
		t.Errorf("an invalid Go state goes on the wire as %v, want UNSPECIFIED", got)
	}
}

func TestRunState_validAndTerminal(t *testing.T) {
	cases := []struct {
		state           sdk.RunState
		valid, terminal bool
	}{
		{sdk.StateQueued, true, false},
		{sdk.StateRunning, true, false},
		{sdk.StateSucceeded, true, true},
		{sdk.StateFailed, true, true},
		{sdk.StateCancelled, true, true},
		{sdk.StateSkipped, true, true},
		{sdk.StateTimedOut, true, true},
		{"", false, false},
		{"SUCCEEDED", false, false},
	}
	for _, c := range cases {
		if c.state.Valid() != c.valid || c.state.Terminal() != c.terminal {
			t.Errorf("%q: Valid %v Terminal %v, want %v %v", c.state, c.state.Valid(), c.state.Terminal(), c.valid, c.terminal)
		}
	}
}
