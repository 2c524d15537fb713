package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestHello_smoke(t *testing.T) {
	c := plugintest.Serve(t, sdk.Plugin[Config]{Manifest: manifest, New: newHello})
	ctx := context.Background()
	d, err := c.Describe(ctx, sdk.DescribeOptions{})
	if err != nil || d.ID != "acme.hello" {
		t.Fatalf("describe: %v %+v", err, d)
	}
	t.Logf("schema: %s", d.ConfigSchema)
	fe, err := c.ValidateConfig(ctx, []byte(`{"runs": -1}`), nil)
	if err != nil || len(fe) == 0 {
		t.Fatalf("want field errors, got %v %v", fe, err)
	}
	t.Logf("field errors: %+v", fe)
	if err := c.Configure(ctx, sdk.InstanceConfig{ID: "s1", Revision: 1, Config: []byte(`{"greeting":"hi","runs":250}`), Secrets: map[string]string{"token": "fail"}}); !errors.Is(err, sdk.ErrAuth) || strings.Contains(err.Error(), "fail") {
		t.Fatalf("want auth error without the secret, got %v", err)
	} else {
		t.Logf("auth err: %v", err)
	}
	if err := c.Configure(ctx, sdk.InstanceConfig{ID: "s1", Revision: 1, Config: []byte(`{"greeting":"hi","runs":250}`), Secrets: map[string]string{"token": "abcd1234"}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	var cur string
	if err := c.ListRuns(ctx, "s1", "", 0, func(b sdk.RunBatch) error { n += len(b.Runs); cur = b.NextCursor; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 250 || cur != "250" {
		t.Fatalf("n=%d cur=%q", n, cur)
	}
}
