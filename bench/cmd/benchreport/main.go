// Command benchreport turns `go test -bench` output (stdin) into
// BENCHMARKS.md (stdout): one section per benchmark with its metrics, the
// ratio to the baseline measured in the same run, and the target.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// targets says, per benchmark, what the ratio (or another metric) must be.
var targets = map[string]string{
	"DashboardRender": "initial JavaScript ≤ 300 KB gzipped; first render of the default dashboard in headless Chromium reported (median of 5 page loads, until every card is drawn)",
	"UnaryCall":       "ratio ≤ 1.3 (PUOD manager + client + SDK vs bare go-plugin + gRPC)",
	"ListRunsStream":  "ratio ≥ 0.70 of the bare gRPC stream, and ≥ 500,000 runs/s",
	"HostStart":       "ratio ≤ 2 (5 bundles until all running vs one bare go-plugin process); ratio-to-5-bare compares with five bare go-plugin processes started concurrently, the floor on this machine (medians of 5 rounds)",
	"IdleMemory":      "host ≤ 80 MB RSS, plugin ≤ 30 MB RSS",
	"SourcesList":     "ratio ≥ 0.40 of gin hello-world at 64 connections",
	"Login":           "report cost; limiter holds under a burst of 1,000 attempts",
	"Ingest":          "ratio ≥ 0.50 of direct db.Runs().Ingest (1,000,000 runs, 200 pipelines, batches of 500, plugin → puod serve → store), host peak RSS ≤ 150 MB",
	"CardsCached":     "ratio ≥ 0.50 of gin hello-world at 64 connections (cached POST /api/v1/cards/query), memory and Redis cache; stat = puod.success_rate (about 0.5 KB), table = puod.pipelines_overview of 50 pipelines (about 4.4 KB, against the baseline's 17 bytes)",
	"CardsUncached":   "p99 ≤ 200 ms on PostgreSQL for every built-in card type over 1,000,000 runs (time ranges now-7d = 20,160 runs and now-30d = 86,400 runs; no cache)",
	"Freshness":       "p99 ≤ 100 ms from a run finishing in the Databricks simulator to its run.changed event (webhook path); ratio = p99 / p99 of the bare webhook POST round trip",
	"AlertLatency":    "ratio ≤ 1: PUOD's p99 from a run event (OpenLineage POST) to the message at a local Slack receiver (outbox, puod.slack plugin), with 1,000 rules and 10,000 events per minute, no worse than Prometheus Alertmanager's p99 from POST /api/v2/alerts to its webhook receiver at the same rate, in the same run (group_wait 0s, group_interval 1s on both)",
	"AlertEval":       "report throughput (run.changed events/s) and memory of the alert engine with 10,000 rules; ratio = events/s with 10,000 rules / events/s with 1 rule matching the same events, in the same run",
}

// notes explain a benchmark's figures beyond its target.
var notes = map[string]string{
	"AlertLatency": `How it is measured: one side after the other in one run (Alertmanager's two loads, each on a fresh ` +
		`process, then PUOD). PUOD is a whole host (SQLite) with 1,000 run_failed rules grouped by pipeline (group wait 0s, ` +
		`interval 1s); each event is an OpenLineage FAIL or COMPLETE POSTed to /api/v1/lineage that fires or resolves one ` +
		`alert (each pipeline fails, then succeeds 6 s later), so every event produces one Slack message. Alertmanager ` +
		`(Debian's prometheus-alertmanager, group_by alertname and pipeline, group_wait 0s, group_interval 1s, webhook ` +
		`with send_resolved) gets, one alert per POST /api/v2/alerts: am-equiv-*, PUOD's events themselves (same count, ` +
		`rate and order; a FAIL posts the firing alert, the COMPLETE the same alert resolved); am-*, as many alerts at ` +
		`the same rate, each a new firing alert (its best case). Latency = arrival at the receiver − start of the POST, ` +
		`matched by pipeline and status; a message that never arrives counts 30 s (lost). ratio (the target) sets PUOD's ` +
		`whole load against Alertmanager's best case. idle = one alert at a time. stage-* split PUOD's latency: ` +
		`answer = the lineage POST's answer; bus = run.changed ` +
		`published; decide = run.changed → outbox row stamped (runner queue, store reads, evaluation); deliver = outbox ` +
		`row → message at Slack (outbox and state transactions, worker wake-up and claim, gRPC to the plugin, its HTTP ` +
		`post); mark = message → row marked delivered. sink-call = the Slack plugin called directly (gRPC + HTTP), one ` +
		`at a time.` + "\n\n" +
		`What Alertmanager gives up for its latency: alerts and the notifications waiting in its aggregation groups live ` +
		`in memory only; what it sent (the notification log) and silences are written to --storage.path every ` +
		`--data.maintenance-interval (15 min by default) and at a clean shutdown. After kill -9 it has lost every ` +
		`notification not yet sent (am-kill9-lost, of 10: alerts whose webhook was failing at the kill and that nobody ` +
		`posts again), and it has forgotten what it sent since the last snapshot, so alerts posted again after the restart, as ` +
		`Prometheus does, are notified a second time (am-kill9-repeated, of 10). PUOD writes every notification to its outbox ` +
		`before sending it and marks it delivered right after the sink's success (host/notify): after kill -9 nothing ` +
		`is lost and only a send in flight at the crash can repeat (host/app TestServe_killedHostDeliversPendingOnce, in make test).`,
}

// comparison is one row of a benchmark's comparison table: PUOD's metric,
// the baseline's, their ratio (metric names) and what the ratio means.
type comparison struct {
	what, puod, peer, ratio, meaning string
}

// comparisons are the benchmarks whose baseline is measured in more than
// one way, with the name of the baseline.
var comparisons = map[string]struct {
	peer string
	rows []comparison
}{
	"AlertLatency": {peer: "Alertmanager", rows: []comparison{
		{
			what: "same events (fire, then resolve 6 s later)", puod: "puod-p99-ms", peer: "am-equiv-p99-ms", ratio: "equiv-ratio",
			meaning: "Alertmanager delays the resolve of a group it has already notified to that group's next " +
				"group_interval tick (every 1 s from its first notification), but in this plan every resolve comes exactly " +
				"6 s after its firing alert, just before the group's sixth tick, so it waits only milliseconds " +
				"(am-equiv-resolved-p99-ms), where resolves at arbitrary times would wait anywhere from 0 to 1 s; PUOD " +
				"sends a resolve at once, its group interval counting from the group's last message.",
		},
		{
			what: "Alertmanager's best case (new firing alerts only) vs PUOD's firing messages", puod: "puod-firing-p99-ms", peer: "am-p99-ms", ratio: "firing-ratio",
			meaning: "This is Alertmanager's fastest path, sending from its own process, while each PUOD message is written " +
				"to the outbox before it is sent and crosses a plugin process by design (gRPC to puod.slack, which posts " +
				"over HTTP; stage-* and sink-call show where the time goes).",
		},
		{
			what: "both at the same time, same events", puod: "conc-puod-p99-ms", peer: "conc-am-p99-ms", ratio: "conc-ratio",
			meaning: "The two services share the machine's two cores, as when both run on one host; each side's " +
				"latency includes the other's load. A p99 near 1,000 ms on Alertmanager's side is its resolves missing " +
				"their group's tick and waiting for the next one (group_interval 1 s).",
		},
	}},
}

type result struct {
	name    string
	metrics [][2]string
}

func parse(r io.Reader) (header []string, results []result) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "goos:"), strings.HasPrefix(line, "goarch:"), strings.HasPrefix(line, "cpu:"):
			header = append(header, line)
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			name := strings.TrimPrefix(f[0], "Benchmark")
			if i := strings.LastIndex(name, "-"); i > 0 {
				if _, err := strconv.Atoi(name[i+1:]); err == nil {
					name = name[:i]
				}
			}
			res := result{name: name}
			for i := 2; i+1 < len(f); i += 2 {
				res.metrics = append(res.metrics, [2]string{f[i+1], f[i]})
			}
			results = append(results, res)
		}
	}
	return header, results
}

func main() {
	header, results := parse(os.Stdin)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	render(w, header, results, time.Now())
}

// render writes BENCHMARKS.md: one section per result, sorted by name,
// with its target, comparisons and notes.
func render(w io.Writer, header []string, results []result, now time.Time) {
	sort.SliceStable(results, func(i, j int) bool { return results[i].name < results[j].name })
	fmt.Fprintln(w, "# PUOD benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Written by `make bench` on %s (%s/%s, %d CPUs). Every figure is measured next to its\n", now.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintln(w, "baseline in the same run; `ratio` compares PUOD with that baseline.")
	for _, h := range header {
		fmt.Fprintf(w, "\n`%s`", h)
	}
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "\n## %s\n\n", r.name)
		if t, ok := targets[strings.Split(r.name, "/")[0]]; ok {
			fmt.Fprintf(w, "Target: %s\n\n", t)
		}
		if c, ok := comparisons[strings.Split(r.name, "/")[0]]; ok {
			renderComparisons(w, r, c.peer, c.rows)
		}
		if n, ok := notes[strings.Split(r.name, "/")[0]]; ok {
			fmt.Fprintf(w, "%s\n\n", n)
		}
		fmt.Fprintln(w, "| metric | value |")
		fmt.Fprintln(w, "|---|---|")
		for _, m := range r.metrics {
			if m[0] == "ns/op" {
				continue
			}
			fmt.Fprintf(w, "| %s | %s |\n", m[0], m[1])
		}
	}
}

// renderComparisons writes the table of a benchmark's comparisons (p99s
// and ratio from its metrics, "–" where the run lacks one) and what each
// one means.
func renderComparisons(w io.Writer, r result, peer string, rows []comparison) {
	metric := func(name string) string {
		for _, m := range r.metrics {
			if m[0] == name {
				return m[1]
			}
		}
		return "–"
	}
	fmt.Fprintf(w, "| comparison | PUOD p99 (ms) | %s p99 (ms) | PUOD / %s |\n", peer, peer)
	fmt.Fprintln(w, "|---|---|---|---|")
	for i, c := range rows {
		fmt.Fprintf(w, "| (%d) %s | %s `%s` | %s `%s` | **%s** `%s` |\n", i+1, c.what, metric(c.puod), c.puod, metric(c.peer), c.peer, metric(c.ratio), c.ratio)
	}
	fmt.Fprintln(w)
	for i, c := range rows {
		fmt.Fprintf(w, "(%d) %s\n\n", i+1, c.meaning)
	}
}
