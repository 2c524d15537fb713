// Package demo runs what `puod serve --demo` adds: local simulators of the
// Databricks, Synapse and Airflow APIs, speaking their real REST formats
// with a steady flow of realistic runs, a local Slack receiver (the fake
// Slack of plugins/sim/slack) for the demo's alerts, and demo sources in the
// default profile pointed at them, plus the seed alert rule (SeedRules). The connectors cannot tell the simulators from
// the real services; nothing else in the host knows it is a demo.
package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
	databrickssim "github.com/puod/puod/plugins/sim/databricks"
	slacksim "github.com/puod/puod/plugins/sim/slack"
	synapsesim "github.com/puod/puod/plugins/sim/synapse"
)

// Simulator is one running vendor simulator and the source that reads it.
type Simulator struct {
	// PluginID is the connector that reads it.
	PluginID string
	// SourceName is the demo source's name.
	SourceName string
	// URL is where the simulator listens.
	URL string
	// Config and Secrets configure the demo source.
	Config  json.RawMessage
	Secrets map[string]string
	// Sink marks an alert-sink receiver (the fake Slack): its source is
	// not polled.
	Sink bool

	srv *http.Server
}

// SlackSourceName is the demo's Slack sink source.
const SlackSourceName = "Slack (demo)"

// SeedSinkPlaceholder is the sink id in SeedRules that stands for the
// demo's Slack source.
const SeedSinkPlaceholder = "demo-slack"

// SeedRules is the demo's alert rules as code (alert.ParseYAML): the seed
// example "duration of pipeline ETL_Vendas > 5 min → notify Slack", with
// SeedSinkPlaceholder as its sink.
//
//go:embed rules/etl_vendas.yaml
var SeedRules []byte

// Demo is the set of running simulators.
type Demo struct {
	Simulators []*Simulator
	// Slack is the local Slack receiver the demo's alerts reach.
	Slack  *slacksim.Server
	log    hclog.Logger
	cancel context.CancelFunc
}

// Start launches the simulators on loopback ports chosen by the system.
func Start(ctx context.Context, log hclog.Logger) (*Demo, error) {
	ctx, cancel := context.WithCancel(ctx)
	d := &Demo{log: log.Named("demo"), cancel: cancel}

	dbx := databrickssim.New(databrickssim.Options{Token: "dapi-demo-0123456789abcdef"})
	dbx.StartScenario(databrickssim.Scenario{History: 24 * time.Hour, Jobs: databrickssim.DefaultJobs()})
	go dbx.Run(ctx, 2*time.Second)
	if err := d.serve("puod.databricks", "Databricks (demo)", withTriggers(dbx), func(url string) (json.RawMessage, map[string]string) {
		return dbx.ConnectorConfig(url)
	}); err != nil {
		d.Close()
		return nil, err
	}

	syn := synapsesim.New(synapsesim.Options{})
	if err := d.serve("puod.synapse", "Synapse (demo)", syn, syn.SourceConfig); err != nil {
		d.Close()
		return nil, err
	}

	af := airflowsim.New(airflowsim.Options{})
	if err := af.StartScenario(airflowsim.DefaultScenario(), time.Now().Add(-24*time.Hour)); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: airflow scenario: %w", err)
	}
	go af.Run(ctx, 2*time.Second)
	if err := d.serve("puod.airflow", "Airflow (demo)", af, af.ConnectorConfig); err != nil {
		d.Close()
		return nil, err
	}

	// The local Slack receiver: the Slack sink posts to an incoming
	// webhook of its #alerts channel.
	d.Slack = slacksim.New(slacksim.Options{})
	if err := d.serve("puod.slack", SlackSourceName, d.Slack, func(url string) (json.RawMessage, map[string]string) {
		return json.RawMessage(`{}`), map[string]string{"webhook_url": d.Slack.WebhookURL(url, slacksim.DefaultChannel)}
	}); err != nil {
		d.Close()
		return nil, err
	}
	d.Simulators[len(d.Simulators)-1].Sink = true
	return d, nil
}

func (d *Demo) serve(pluginID, name string, h http.Handler, config func(url string) (json.RawMessage, map[string]string)) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen for the %s simulator: %w", pluginID, err)
	}
	url := "http://" + ln.Addr().String()
	sim := &Simulator{PluginID: pluginID, SourceName: name, URL: url, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	sim.Config, sim.Secrets = config(url)
	go func() {
		if err := sim.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("simulator stopped", "plugin", pluginID, "error", err)
		}
	}()
	d.log.Info("simulator listening", "plugin", pluginID, "url", url)
	d.Simulators = append(d.Simulators, sim)
	return nil
}

// Close stops the simulators.
func (d *Demo) Close() {
	d.cancel()
	if d.Slack != nil {
		d.Slack.Close()
	}
	for _, s := range d.Simulators {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.srv.Shutdown(ctx)
		cancel()
	}
}

// SourceConfig merges a simulator's config and secrets into the settings
// object the sources API takes (secrets are fields marked x-secret).
func (s *Simulator) SourceConfig() (json.RawMessage, error) {
	var cfg map[string]any
	if err := json.Unmarshal(s.Config, &cfg); err != nil {
		return nil, err
	}
	for k, v := range s.Secrets {
		cfg[k] = v
	}
	return json.Marshal(cfg)
}
