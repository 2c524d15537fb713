// Command acme-hello is an example third-party PUOD connector: it serves a
// fixed list of runs, pages through them with a cursor and answers one card.
package main

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// Config is one source's configuration; its JSON Schema is derived from it.
type Config struct {
	Greeting string `json:"greeting" jsonschema:"required,minLength=1,description=Name of the example pipeline"`
	Runs     int    `json:"runs,omitempty" jsonschema:"minimum=0,maximum=100000,description=How many runs the source has"`
	Token    string `json:"token,omitempty" secret:"true" jsonschema:"description=API token"`
}

type hello struct{ cfg Config }

func newHello(_ context.Context, cfg Config, _ sdk.Env) (any, error) {
	if cfg.Token == "revoked" {
		return nil, sdk.AuthError("the token was revoked: create a new one")
	}
	return &hello{cfg: cfg}, nil
}

func (h *hello) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "hello", Name: h.cfg.Greeting}}, nil
}

// ListRuns sends runs 1..Runs in batches of 100; the cursor is the number
// of the last run sent. send fails once ctx is cancelled: return its error.
func (h *hello) ListRuns(_ context.Context, cursor string, send func(sdk.RunBatch) error) error {
	last, _ := strconv.Atoi(cursor) // "" (first sync) is 0
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for last < h.cfg.Runs {
		var b sdk.RunBatch
		for ; last < h.cfg.Runs && len(b.Runs) < 100; last++ {
			start := base.Add(time.Duration(last) * time.Minute)
			b.Runs = append(b.Runs, sdk.Run{
				ExternalID: strconv.Itoa(last + 1), PipelineExternalID: "hello", PipelineName: h.cfg.Greeting,
				State: sdk.StateSucceeded, RawState: "OK", StartedAt: start, EndedAt: start.Add(time.Second), Duration: time.Second,
			})
		}
		b.NextCursor = strconv.Itoa(last)
		if err := send(b); err != nil {
			return err
		}
	}
	return nil
}

func (h *hello) QueryCard(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	return sdk.NewFrame(q.CardType, sdk.FrameCategories,
		sdk.StringField("pipeline", h.cfg.Greeting), sdk.IntField("runs", int64(h.cfg.Runs))), nil
}

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: newHello})
}
