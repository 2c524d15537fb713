package cards

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the type_kind label.
const (
	kindBuiltin = "builtin"
	kindPlugin  = "plugin"
)

// metrics count card queries. Labels are bounded: type_kind (builtin or
// plugin; never a plugin's card type, which plugins choose freely),
// outcome (ok or error) and cached (true or false).
type metrics struct {
	queries *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// queryBuckets span a cache hit (well under a millisecond) to a plugin
// call near its 10 s timeout.
var queryBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// newMetrics builds the card query metrics and registers them with reg
// (may be nil: then they are kept but not exported). Collectors already
// registered by an earlier service on the same registry are reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_card_queries_total",
			Help: "Card queries answered, by kind of card type (builtin or plugin), outcome (ok or error) and whether the answer came from the cache.",
		}, []string{"type_kind", "outcome", "cached"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "puod_card_query_seconds",
			Help:    "Time to answer a card query (refused and failed queries included), by kind of card type and whether the answer came from the cache.",
			Buckets: queryBuckets,
		}, []string{"type_kind", "cached"}),
	}
	if reg != nil {
		m.queries = register(reg, m.queries)
		m.seconds = register(reg, m.seconds)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Another collector under our name is a programming error that
		// would otherwise silently hide these metrics.
		panic("cards: register metrics: " + err.Error())
	}
	return c
}

// typeKind is "plugin" for a plugin's card type ("<plugin id>/<type>")
// and "builtin" for every other name, the host's own namespace (unknown
// names and an absent type included).
func typeKind(typ string) string {
	if strings.Contains(typ, "/") {
		return kindPlugin
	}
	return kindBuiltin
}

// observe counts one query and its duration.
func (m *metrics) observe(typ string, res *Result, err error, took time.Duration) {
	kind := typeKind(strings.TrimSpace(typ))
	outcome := "ok"
	cached := false
	if err != nil {
		outcome = "error"
	} else if res != nil {
		cached = res.Cached
	}
	c := strconv.FormatBool(cached)
	m.queries.WithLabelValues(kind, outcome, c).Inc()
	m.seconds.WithLabelValues(kind, c).Observe(took.Seconds())
}
