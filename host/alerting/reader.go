package alerting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// asProfile acts as the system inside one profile: the engine serves every
// profile from one event stream, the store's repositories are scoped.
func asProfile(ctx context.Context, profileID string) context.Context {
	return identity.With(ctx, identity.Principal{UserID: "system", Username: "puod-alerting", ProfileID: profileID,
		Role: identity.RoleAdmin, Via: "system"})
}

// StoreReader reads runs, pipelines and metric windows from the store for
// the engine (alert.RunReader and alert.MetricReader).
type StoreReader struct{ DB *store.DB }

var (
	_ alert.RunReader    = StoreReader{}
	_ alert.MetricReader = StoreReader{}
)

// Run returns a run with its pipeline.
func (r StoreReader) Run(ctx context.Context, profileID, runID string) (alert.Run, error) {
	ctx = asProfile(ctx, profileID)
	sr, err := r.DB.Runs().Get(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return alert.Run{}, fmt.Errorf("run %s: %w", runID, alert.ErrNotFound)
	}
	if err != nil {
		return alert.Run{}, err
	}
	return r.withPipeline(ctx, sr)
}

func (r StoreReader) withPipeline(ctx context.Context, sr store.Run) (alert.Run, error) {
	out := convertRun(sr)
	if sr.PipelineID == "" {
		return out, nil
	}
	p, err := r.DB.Pipelines().Get(ctx, sr.PipelineID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleted since: keep what the run row knows.
		out.Pipeline = alert.Pipeline{ID: sr.PipelineID, SourceID: sr.SourceID, ExternalID: sr.PipelineExternalID, Name: sr.PipelineName}
	case err != nil:
		return alert.Run{}, fmt.Errorf("pipeline %s of run %s: %w", sr.PipelineID, sr.ID, err)
	default:
		out.Pipeline = convertPipeline(p.Pipeline)
	}
	return out, nil
}

// Pipelines lists every pipeline of the profile.
func (r StoreReader) Pipelines(ctx context.Context, profileID string) ([]alert.Pipeline, error) {
	ctx = asProfile(ctx, profileID)
	var out []alert.Pipeline
	for page := (store.Page{Limit: store.MaxPageLimit}); ; {
		ps, next, err := r.DB.Pipelines().List(ctx, store.PipelineFilter{}, page)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out = append(out, convertPipeline(p.Pipeline))
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

// LastRun returns the newest run of the pipeline in one of states.
func (r StoreReader) LastRun(ctx context.Context, profileID, pipelineID string, states ...string) (alert.Run, bool, error) {
	ctx = asProfile(ctx, profileID)
	if len(states) == 0 {
		states = []string{""}
	}
	var (
		best  store.Run
		found bool
	)
	for _, st := range states {
		rs, _, err := r.DB.Runs().List(ctx, store.RunFilter{PipelineID: pipelineID, State: st}, store.Page{Limit: 1})
		if err != nil {
			return alert.Run{}, false, err
		}
		if len(rs) > 0 && (!found || rs[0].SortAt.After(best.SortAt)) {
			best, found = rs[0], true
		}
	}
	if !found {
		return alert.Run{}, false, nil
	}
	run, err := r.withPipeline(ctx, best)
	return run, err == nil, err
}

// MetricWindow returns the points of series with from <= time <= to.
func (r StoreReader) MetricWindow(ctx context.Context, profileID, series string, from, to time.Time) ([]alert.MetricPoint, error) {
	ctx = asProfile(ctx, profileID)
	// Range excludes its upper bound; the engine's window includes it.
	ps, err := r.DB.Metrics().Range(ctx, series, from, to.Add(time.Nanosecond), store.MaxPageLimit)
	if err != nil {
		return nil, err
	}
	out := make([]alert.MetricPoint, len(ps))
	for i, p := range ps {
		out[i] = alert.MetricPoint{Time: p.Time, Value: p.Value}
	}
	return out, nil
}

func convertPipeline(p store.Pipeline) alert.Pipeline {
	return alert.Pipeline{ID: p.ID, SourceID: p.SourceID, ExternalID: p.ExternalID, Name: p.Name, URL: p.URL,
		Tags: p.Tags, CreatedAt: p.CreatedAt}
}

func convertRun(sr store.Run) alert.Run {
	deref := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	out := alert.Run{
		ID: sr.ID, SourceID: sr.SourceID, ExternalID: sr.ExternalID, State: sr.State, ErrorMessage: sr.ErrorMessage,
		URL: sr.URL, QueuedAt: deref(sr.QueuedAt), StartedAt: deref(sr.StartedAt), EndedAt: deref(sr.EndedAt),
		SortAt: sr.SortAt,
		Pipeline: alert.Pipeline{ID: sr.PipelineID, SourceID: sr.SourceID, ExternalID: sr.PipelineExternalID,
			Name: sr.PipelineName},
	}
	if sr.DurationMS != nil {
		out.Duration = time.Duration(*sr.DurationMS) * time.Millisecond
	}
	return out
}
