package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the manager's Prometheus metrics.
type metrics struct {
	state    *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	calls    *prometheus.HistogramVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "puod", Subsystem: "plugin", Name: "state",
			Help: "1 for the state each plugin is in (starting, running, backoff, failed, draining, stopped), 0 for the others.",
		}, []string{"plugin", "state"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "puod", Subsystem: "plugin", Name: "restarts_total",
			Help: "Restarts of a plugin after a crash or missed health checks.",
		}, []string{"plugin"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "puod", Subsystem: "plugin", Name: "call_duration_seconds",
			Help:    "Duration of calls to plugins, by plugin, method and outcome (ok, error, timeout).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"plugin", "method", "outcome"}),
	}
	if r != nil {
		for _, c := range []prometheus.Collector{m.state, m.restarts, m.calls} {
			if err := r.Register(c); err != nil {
				return nil, fmt.Errorf("plugins: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) setState(plugin, state string) {
	for _, s := range allStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.state.WithLabelValues(plugin, s).Set(v)
	}
}

func (m *metrics) observe(plugin, method string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		outcome = "timeout"
	default:
		outcome = "error"
	}
	m.calls.WithLabelValues(plugin, method, outcome).Observe(time.Since(start).Seconds())
}

// forget drops the series of a plugin that is gone.
func (m *metrics) forget(plugin string) {
	m.state.DeletePartialMatch(prometheus.Labels{"plugin": plugin})
	m.restarts.DeletePartialMatch(prometheus.Labels{"plugin": plugin})
	m.calls.DeletePartialMatch(prometheus.Labels{"plugin": plugin})
}
