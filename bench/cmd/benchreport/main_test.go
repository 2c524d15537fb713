package main

import (
	"strings"
	"testing"
	"time"
)

// A run of the alerting benchmarks, as `go test -bench` prints it.
const alertingRun = `goos: linux
goarch: amd64
pkg: github.com/puod/puod/bench
cpu: Intel(R) Xeon(R) Processor
BenchmarkAlertLatency-2   	       1	41661642717 ns/op	         1.048 am-idle-p50-ms	        14.36 am-p99-ms	       166.9 puod-p99-ms	       120.5 puod-firing-p99-ms	       985.2 am-equiv-p99-ms	        12.40 am-equiv-firing-p99-ms	       990.1 am-equiv-resolved-p99-ms	        11.62 ratio	         8.391 firing-ratio	         0.1694 equiv-ratio	      1000 rules
BenchmarkAlertEval-2   	       1	33349827347 ns/op	       626.2 events/s	     33429 baseline-events/s	         0.01873 ratio	        52.46 rules-heap-MB
PASS
`

func TestRender_alertingSections(t *testing.T) {
	header, results := parse(strings.NewReader(alertingRun))
	if len(header) != 3 || len(results) != 2 {
		t.Fatalf("parsed %d header lines and %d results, want 3 and 2: %q %+v", len(header), len(results), header, results)
	}
	var out strings.Builder
	render(&out, header, results, time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC))
	doc := out.String()

	// Sections sorted by name, the -2 (GOMAXPROCS) suffix dropped.
	eval, latency := strings.Index(doc, "\n## AlertEval\n"), strings.Index(doc, "\n## AlertLatency\n")
	if eval < 0 || latency < 0 || eval > latency {
		t.Fatalf("want an AlertEval section, then an AlertLatency one:\n%s", doc)
	}
	evalSec, latencySec := doc[eval:latency], doc[latency:]
	for _, want := range []string{"Target: report throughput", "10,000 rules", "| events/s | 626.2 |", "| ratio | 0.01873 |"} {
		if !strings.Contains(evalSec, want) {
			t.Errorf("AlertEval section lacks %q:\n%s", want, evalSec)
		}
	}
	for _, want := range []string{
		"Target: ratio ≤ 1", "Alertmanager", "kill -9", "am-kill9-lost", "am-kill9-repeated",
		"| puod-p99-ms | 166.9 |", "| am-p99-ms | 14.36 |", "| ratio | 11.62 |",
	} {
		if !strings.Contains(latencySec, want) {
			t.Errorf("AlertLatency section lacks %q:\n%s", want, latencySec)
		}
	}
	// Both comparisons, each with its figures and what it means.
	for _, want := range []string{
		"| comparison | PUOD p99 (ms) | Alertmanager p99 (ms) | PUOD / Alertmanager |",
		"| (1) same events (fire, then resolve 6 s later) | 166.9 `puod-p99-ms` | 985.2 `am-equiv-p99-ms` | **0.1694** `equiv-ratio` |",
		"| (2) Alertmanager's best case (new firing alerts only) vs PUOD's firing messages | 120.5 `puod-firing-p99-ms` | 14.36 `am-p99-ms` | **8.391** `firing-ratio` |",
		"(1) Alertmanager delays the resolve of a group it has already notified", "just before the group's sixth tick",
		"(2) This is Alertmanager's fastest path",
		"crosses a plugin process by design",
		"| am-equiv-resolved-p99-ms | 990.1 |", "| equiv-ratio | 0.1694 |", "| firing-ratio | 8.391 |",
	} {
		if !strings.Contains(latencySec, want) {
			t.Errorf("AlertLatency section lacks %q:\n%s", want, latencySec)
		}
	}
	if strings.Contains(evalSec, "| comparison |") {
		t.Errorf("AlertEval has no comparisons, but got a table:\n%s", evalSec)
	}
	if strings.Contains(doc, "ns/op") {
		t.Error("ns/op is reported; it means nothing with -benchtime=1x")
	}
}

// An older run without the equivalent load: its comparison shows "–", the
// other one its figures.
func TestRender_comparisonMissingMetrics(t *testing.T) {
	_, results := parse(strings.NewReader("BenchmarkAlertLatency-2 1 5 ns/op 14.36 am-p99-ms 120.5 puod-firing-p99-ms 8.391 firing-ratio\n"))
	var out strings.Builder
	render(&out, nil, results, time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC))
	for _, want := range []string{
		"| (1) same events (fire, then resolve 6 s later) | – `puod-p99-ms` | – `am-equiv-p99-ms` | **–** `equiv-ratio` |",
		"| 120.5 `puod-firing-p99-ms` | 14.36 `am-p99-ms` | **8.391** `firing-ratio` |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
