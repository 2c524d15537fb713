// Command version is a test plugin whose version is set at build time
// (-ldflags "-X main.version=2.0.0"), to build two generations of the
// same plugin. It names its only pipeline after its version.
package main

import (
	"context"
	_ "embed"
	"encoding/json"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifestTemplate []byte

var version = "1.0.0"

type config struct{}

type conn struct{}

func (conn) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "v", Name: version}}, nil
}

func (conn) ListRuns(context.Context, string, func(sdk.RunBatch) error) error { return nil }

func (conn) QueryCard(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	return sdk.NewFrame(q.CardType, sdk.FrameCategories, sdk.StringField("version", version)), nil
}

func main() {
	var m map[string]any
	if err := json.Unmarshal(manifestTemplate, &m); err != nil {
		panic(err)
	}
	m["version"] = version
	manifest, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	sdk.Serve(sdk.Plugin[config]{Manifest: manifest, New: func(context.Context, config, sdk.Env) (any, error) { return conn{}, nil }})
}
