// Command hang is a test plugin that freezes (stops answering anything,
// health checks included) when a file named hang.flag appears next to its
// executable. It deletes the flag first, so a restarted process serves.
package main

import (
	"context"
	_ "embed"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

type config struct{}

type conn struct{}

func (conn) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "hang", Name: "hang"}}, nil
}

func (conn) ListRuns(context.Context, string, func(sdk.RunBatch) error) error { return nil }

func freezeOnFlag() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	flag := filepath.Join(filepath.Dir(exe), "hang.flag")
	for range time.Tick(20 * time.Millisecond) {
		if os.Remove(flag) == nil {
			_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		}
	}
}

func main() {
	go freezeOnFlag()
	sdk.Serve(sdk.Plugin[config]{Manifest: manifest, New: func(context.Context, config, sdk.Env) (any, error) { return conn{}, nil }})
}
