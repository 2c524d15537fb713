// Command stateful is a test plugin that keeps a counter in the host's
// plugin state and can try to read another instance's state.
package main

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

type config struct {
	Peek string `json:"peek,omitempty"`
}

type inst struct {
	cfg config
	env sdk.Env
}

func (i *inst) ListPipelines(context.Context) ([]sdk.Pipeline, error) { return nil, nil }
func (i *inst) ListRuns(context.Context, string, func(sdk.RunBatch) error) error {
	return nil
}

// CheckHealth bumps the counter and reports it, or reports what reading the
// peeked instance's state answered.
func (i *inst) CheckHealth(ctx context.Context) (sdk.Health, error) {
	if i.cfg.Peek != "" {
		_, _, err := i.env.Host.GetState(ctx, i.cfg.Peek, "count")
		return sdk.Health{Status: sdk.HealthOK, Message: fmt.Sprintf("peek: %v", err)}, nil
	}
	v, _, err := i.env.Host.GetState(ctx, i.env.InstanceID, "count")
	if err != nil {
		return sdk.Health{}, err
	}
	n, _ := strconv.Atoi(string(v))
	n++
	if err := i.env.Host.SetState(ctx, i.env.InstanceID, "count", []byte(strconv.Itoa(n))); err != nil {
		return sdk.Health{}, err
	}
	return sdk.Health{Status: sdk.HealthOK, Message: "count=" + strconv.Itoa(n)}, nil
}

func main() {
	sdk.Serve(sdk.Plugin[config]{Manifest: manifest, New: func(_ context.Context, c config, env sdk.Env) (any, error) {
		return &inst{cfg: c, env: env}, nil
	}})
}
