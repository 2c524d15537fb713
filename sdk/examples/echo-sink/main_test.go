package main

import (
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestEchoSink_conformance(t *testing.T) {
	dead := plugintest.SampleNotifications()[0]
	dead.ID, dead.Labels = "to-blackhole", map[string]string{"channel": "blackhole"}
	plugintest.RunAlertSinkSuite(t, plugintest.AlertSinkSuite[Config]{
		Plugin:      sdk.Plugin[Config]{Manifest: manifest, New: newEcho},
		BundleDir:   ".",
		ValidConfig: []byte(`{"fail_channel": "blackhole"}`),
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "bad channel", Config: []byte(`{"fail_channel": "Black Hole"}`), Field: "/fail_channel"},
		},
		Permanent: []sdk.Notification{dead},
	})
}
