package plugintest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// Sync is what one ListRuns call delivered: its batches, in order.
type Sync struct {
	// From is the cursor the call started from.
	From    string
	Batches []sdk.RunBatch
}

// Runs returns every run delivered, in order.
func (s *Sync) Runs() []sdk.Run {
	var out []sdk.Run
	for _, b := range s.Batches {
		out = append(out, b.Runs...)
	}
	return out
}

// IDs returns the set of external run ids delivered.
func (s *Sync) IDs() map[string]bool {
	ids := map[string]bool{}
	for _, b := range s.Batches {
		for _, r := range b.Runs {
			ids[r.ExternalID] = true
		}
	}
	return ids
}

// Cursor is the cursor after the last batch (From when there was none):
// where the host's next poll starts.
func (s *Sync) Cursor() string {
	if len(s.Batches) == 0 {
		return s.From
	}
	return s.Batches[len(s.Batches)-1].NextCursor
}

// Poll lists an instance's runs from cursor to the end, as one host poll
// does. The error is the plugin's (typed), and it is recorded in the
// instance's transcript, as are the runs.
func Poll(in *Instance, cursor string) (*Sync, error) {
	ctx, cancel := in.context()
	defer cancel()
	s := &Sync{From: cursor}
	err := in.Client.ListRuns(ctx, in.ID(), cursor, in.MaxBatch, func(b sdk.RunBatch) error {
		s.Batches = append(s.Batches, b)
		return nil
	})
	in.Transcript.RecordError("ListRuns", err)
	in.Transcript.recordRuns("ListRuns", s.Runs())
	return s, err
}

// ValidateRun checks one run as the host stores it: an external id and a
// pipeline external id, a normalised state, and times in order.
func ValidateRun(r sdk.Run) error {
	var probs []string
	if r.ExternalID == "" {
		probs = append(probs, "empty external id")
	}
	if r.PipelineExternalID == "" {
		probs = append(probs, "empty pipeline external id")
	}
	if !r.State.Valid() {
		probs = append(probs, fmt.Sprintf("state %q is not one of %v (keep the vendor's value in RawState)", r.State, sdk.RunStates))
	}
	if before(r.EndedAt, r.StartedAt) {
		probs = append(probs, fmt.Sprintf("ended at %s, before it started at %s", r.EndedAt.Format(time.RFC3339), r.StartedAt.Format(time.RFC3339)))
	}
	if before(r.StartedAt, r.QueuedAt) {
		probs = append(probs, fmt.Sprintf("started at %s, before it was queued at %s", r.StartedAt.Format(time.RFC3339), r.QueuedAt.Format(time.RFC3339)))
	}
	if r.Duration < 0 {
		probs = append(probs, fmt.Sprintf("negative duration %s", r.Duration))
	}
	for _, task := range r.Tasks {
		if task.State != "" && !task.State.Valid() {
			probs = append(probs, fmt.Sprintf("task %q has state %q, not a normalised state", task.ExternalID, task.State))
		}
		if before(task.EndedAt, task.StartedAt) {
			probs = append(probs, fmt.Sprintf("task %q ended before it started", task.ExternalID))
		}
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// before reports a < b when both are set.
func before(a, b time.Time) bool { return !a.IsZero() && !b.IsZero() && a.Before(b) }

// CheckFullSync lists every run from an empty cursor, as the first poll of
// a new source does, and checks there are at least minRuns, each valid
// (ValidateRun) and delivered once. It returns the sync for the checks
// that compare with it.
func CheckFullSync(t testing.TB, in *Instance, minRuns int) *Sync {
	t.Helper()
	s, err := Poll(in, "")
	if err != nil {
		checkTyped(t, "ListRuns", err)
		t.Fatalf("a full sync from an empty cursor failed after %d batches: %v", len(s.Batches), err)
	}
	if n := len(s.Runs()); n < minRuns {
		t.Errorf("a full sync delivered %d runs, want at least %d: point ValidConfig at a source with enough runs, or lower MinRuns", n, minRuns)
	}
	first := map[string]int{}
	for bi, b := range s.Batches {
		for _, r := range b.Runs {
			if err := ValidateRun(r); err != nil {
				t.Errorf("run %q (batch %d) is invalid: %v", r.ExternalID, bi, err)
			}
			if prev, dup := first[r.ExternalID]; dup {
				t.Errorf("run %q is delivered twice in one sync (batches %d and %d): the cursor of batch %d must be past every run it holds", r.ExternalID, prev, bi, prev)
				continue
			}
			first[r.ExternalID] = bi
		}
	}
	return s
}

// CheckCursorAdvances checks that a sync moved the cursor: the cursor
// after it differs from where it started whenever runs were delivered
// (else the host polls the same runs forever), and it never returns to a
// value it had left.
func CheckCursorAdvances(t testing.TB, s *Sync) {
	t.Helper()
	if len(s.Runs()) > 0 && s.Cursor() == s.From {
		t.Errorf("the cursor did not advance: after %d runs in %d batches the last NextCursor is %q, the cursor the sync started from: set RunBatch.NextCursor to the position after the batch's runs", len(s.Runs()), len(s.Batches), s.From)
	}
	left := map[string]bool{}
	cur := s.From
	for i, b := range s.Batches {
		if b.NextCursor == cur {
			continue
		}
		if left[b.NextCursor] {
			t.Errorf("batch %d moves the cursor back to %q, a position an earlier batch had left: cursors must only move forward", i, b.NextCursor)
		}
		left[cur] = true
		cur = b.NextCursor
	}
}

// CheckReplay polls again from the cursor a full sync ended at: nothing
// new may come back (the source does not change during the test). Runs
// already seen may come back only unchanged, and not all of them.
func CheckReplay(t testing.TB, in *Instance, full *Sync) {
	t.Helper()
	again, err := Poll(in, full.Cursor())
	if err != nil {
		checkTyped(t, "ListRuns", err)
		t.Fatalf("a poll from the final cursor %q failed: %v", full.Cursor(), err)
	}
	seen := runsByID(full)
	replayed := 0
	for _, r := range again.Runs() {
		old, ok := seen[r.ExternalID]
		switch {
		case !ok:
			t.Errorf("a poll from the final cursor %q delivers run %q, which the full sync did not: the full sync must reach the end, and the cursor must not skip runs", full.Cursor(), r.ExternalID)
		case runKey(old) != runKey(r):
			t.Errorf("a poll from the final cursor %q delivers run %q changed although the source did not change: the run's content must be deterministic", full.Cursor(), r.ExternalID)
		default:
			replayed++
		}
	}
	if replayed > 1 && replayed >= len(seen) {
		t.Errorf("a poll from the final cursor %q delivers all %d runs again: the cursor leads back to the start", full.Cursor(), replayed)
	}
}

// maxResumePoints bounds how many intermediate cursors CheckResume tries.
const maxResumePoints = 12

// CheckResume resumes from the cursor after each intermediate batch of a
// full sync (at most 12, spread evenly), as the host does after a restart,
// and checks that the runs before the cursor plus the runs after it are
// exactly the full sync's: none lost, none unknown.
func CheckResume(t testing.TB, in *Instance, full *Sync) {
	t.Helper()
	all := full.IDs()
	type point struct {
		batch  int
		cursor string
	}
	var points []point
	cur := full.From
	for i, b := range full.Batches[:max(len(full.Batches)-1, 0)] {
		if b.NextCursor != cur {
			points = append(points, point{i, b.NextCursor})
			cur = b.NextCursor
		}
	}
	if len(points) == 0 {
		t.Logf("the full sync has no intermediate cursor (%d batches): resuming is not exercised; use a source with enough runs for several batches", len(full.Batches))
		return
	}
	if len(points) > maxResumePoints {
		spread := make([]point, maxResumePoints)
		for i := range spread {
			spread[i] = points[i*(len(points)-1)/(maxResumePoints-1)]
		}
		points = spread
	}
	for _, p := range points {
		got := map[string]bool{}
		for _, b := range full.Batches[:p.batch+1] {
			for _, r := range b.Runs {
				got[r.ExternalID] = true
			}
		}
		after, err := Poll(in, p.cursor)
		if err != nil {
			checkTyped(t, "ListRuns", err)
			t.Errorf("resuming from cursor %q (after batch %d) failed: %v", p.cursor, p.batch, err)
			continue
		}
		var unknown []string
		for _, r := range after.Runs() {
			if !all[r.ExternalID] {
				unknown = append(unknown, r.ExternalID)
			}
			got[r.ExternalID] = true
		}
		if len(unknown) > 0 {
			t.Errorf("resuming from cursor %q (after batch %d) delivers runs the full sync did not: %v", p.cursor, p.batch, firstFew(unknown))
		}
		if lost := missing(all, got); len(lost) > 0 {
			t.Errorf("resuming from cursor %q (after batch %d) loses runs %v: neither the batches up to the cursor nor the poll from it deliver them; the cursor must point just after the batch's last run", p.cursor, p.batch, firstFew(lost))
		}
	}
}

// CheckPipelines lists the instance's pipelines and checks each has a
// unique, non-empty external id.
func CheckPipelines(t testing.TB, in *Instance) []sdk.Pipeline {
	t.Helper()
	ctx, cancel := in.context()
	defer cancel()
	ps, err := in.Client.ListPipelines(ctx, in.ID())
	in.Transcript.RecordError("ListPipelines", err)
	if err != nil {
		checkTyped(t, "ListPipelines", err)
		t.Fatalf("ListPipelines failed: %v", err)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		in.Transcript.Record("pipeline "+p.ExternalID+" name", p.Name)
		in.Transcript.Record("pipeline "+p.ExternalID+" url", p.URL)
		if p.ExternalID == "" {
			t.Errorf("pipeline %d (%q) has an empty external id", i, p.Name)
		}
		if seen[p.ExternalID] {
			t.Errorf("pipeline external id %q is listed twice", p.ExternalID)
		}
		seen[p.ExternalID] = true
	}
	return ps
}

// CheckCards queries each card type with empty options ({}) over the last
// day, and checks the plugin answers a valid frame. Card types whose
// options schema rejects {} are skipped (logged).
func CheckCards(t testing.TB, in *Instance, cards []manifest.Card) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Minute)
	for _, card := range cards {
		if len(card.Options) > 0 {
			s, err := schema.Compile(card.Options)
			if err != nil {
				t.Errorf("card type %q: options schema does not compile: %v", card.Type, err)
				continue
			}
			if probs := s.ValidateJSON([]byte(`{}`)); len(probs) > 0 {
				t.Logf("card type %q needs options (%v): not queried", card.Type, probs)
				continue
			}
		}
		ctx, cancel := in.context()
		f, err := in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: card.Type, Options: json.RawMessage(`{}`), TimeRange: sdk.TimeRange{From: now.Add(-24 * time.Hour), To: now}})
		cancel()
		in.Transcript.RecordError("QueryCard", err)
		switch {
		case err != nil:
			checkTyped(t, "QueryCard", err)
			t.Errorf("QueryCard(%q) failed: %v", card.Type, err)
		case f == nil:
			t.Errorf("QueryCard(%q) answers no frame", card.Type)
		default:
			if err := f.Validate(); err != nil {
				t.Errorf("QueryCard(%q) answers an invalid frame: %v", card.Type, err)
			}
		}
	}
}

func runsByID(s *Sync) map[string]sdk.Run {
	out := map[string]sdk.Run{}
	for _, r := range s.Runs() {
		out[r.ExternalID] = r
	}
	return out
}

// runKey is a run's content, for comparing two deliveries of one run.
func runKey(r sdk.Run) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// missing returns the ids of want absent from got, sorted.
func missing(want, got map[string]bool) []string {
	var out []string
	for id := range want {
		if !got[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// firstFew shortens a list of ids for a failure message.
func firstFew(ids []string) string {
	const n = 10
	if len(ids) <= n {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v and %d more", ids[:n], len(ids)-n)
}
