package main

import (
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestHello_conformance(t *testing.T) {
	plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[Config]{
		Plugin:      sdk.Plugin[Config]{Manifest: manifest, New: newHello},
		BundleDir:   ".",
		ValidConfig: []byte(`{"greeting": "hi", "runs": 250}`),
		Secrets:     map[string]string{"token": "hello-test-token"},
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "no greeting", Config: []byte(`{"runs": 3}`), Field: "/greeting"},
			{Name: "negative runs", Config: []byte(`{"greeting": "hi", "runs": -1}`), Field: "/runs"},
		},
		RejectedConfigs: []plugintest.RejectedConfig{
			{Name: "revoked token", Config: []byte(`{"greeting": "hi"}`), Secrets: map[string]string{"token": "revoked"}, Kind: sdk.KindAuth},
		},
		MinRuns: 250,
	})
}
