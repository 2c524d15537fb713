package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
)

// alertEvents is how many run events BenchmarkAlertLatency sends to each
// side (10,000 at 10,000 per minute: one minute of load); -short sends
// 2,000 at the same rate.
var alertEvents = flag.Int("alert.events", 10000, "run events BenchmarkAlertLatency sends to PUOD and to Alertmanager each, at 10,000 per minute")

const (
	alertRules     = 1000
	alertPerMinute = 10000
	alertIdle      = 50 // one-at-a-time alerts per side
	alertCrash     = 10 // alerts of each kind in Alertmanager's kill -9 check
	alertWait      = 30 * time.Second
)

// BenchmarkAlertLatency measures event → message latency under load, side
// by side with Prometheus Alertmanager in the same run, one side after the
// other (never both at once, so neither takes the other's CPU).
//
// PUOD: a whole host (app.New + Run, SQLite, real HTTP over TCP) with the
// puod.slack sink plugin process posting to the fake Slack
// (plugins/sim/slack) over an incoming webhook, and 1,000 run_failed rules,
// rule i watching the pipelines p<i>-*, each grouped by pipeline with
// group wait 0s and group interval 1s (Alertmanager's settings below). Run
// events are OpenLineage FAIL and COMPLETE events POSTed one per request to
// /api/v1/lineage with an editor API token: the real ingestion path (store,
// run.changed, engine, outbox, notify worker, gRPC to the plugin, HTTP to
// Slack). Every event changes an alert state: each pipeline gets a FAIL
// (firing) and, one round of the 1,000 rules later (6 s), a COMPLETE
// (resolved), so each series fires and resolves once (no flap damping) and
// a rule's consecutive events are 6 s apart (no group interval to wait
// for). The pipelines exist beforehand (one earlier successful run each,
// sent before measuring), as they would in production.
//
// Alertmanager: Debian's prometheus-alertmanager (scripts/bench.sh installs
// it; ALERTMANAGER overrides the path) with group_wait 0s, group_interval
// 1s, grouped by alertname and pipeline, one webhook receiver posting to a
// local listener (send_resolved: true), alerts posted one per POST
// /api/v2/alerts. It gets two loads, each on a fresh process:
//
//   - best case (am-*): the same number of alerts at the same rate, each a
//     new firing alert (a new group is flushed at once, while a change to a
//     group already notified — a resolve — waits for the group's next
//     group_interval tick);
//   - equivalent (am-equiv-*): PUOD's plan itself (firingThenResolved: same
//     events, rate and order), a FAIL posted as the firing alert (labels
//     alertname = the rule, pipeline; startsAt now), the COMPLETE 6 s later
//     as the same alert resolved (endsAt now). 6 s is six group_interval
//     ticks after the group's first notification, and the ticks run a few
//     ms late: each resolve arrives just before a tick and waits
//     milliseconds, where a resolve at an arbitrary time waits up to
//     group_interval.
//
// Both sides: an open-loop generator sends event k at start + k/rate from
// its own goroutine, latency = arrival at the receiver (fake Slack /
// webhook listener, keyed by the pipeline and status named in the message)
// − the time just before the event's POST. A message that never arrives
// counts as alertWait (30 s). Before the load, alertIdle alerts are sent one
// at a time (100 ms apart, each waiting for its message): the one-at-a-time
// latency. Target: PUOD p99 ≤ Alertmanager p99 (ratio ≤ 1). equiv-ratio
// compares the same events (PUOD p99 / am-equiv p99), firing-ratio PUOD's
// firing messages with Alertmanager's best case, and conc-ratio the two
// run at the same time on the same events (each with the machine's other
// service running, as when both share one host).
//
// PUOD's latency is also split at what the host lets a benchmark see (see
// alertingHost.stages), and the Slack plugin is called directly to give
// the floor of delivery. Last, Alertmanager is killed (kill -9) with
// alertCrash notifications pending and restarted, to count what it loses
// and what it sends twice (alertmanager.crash); PUOD's side of that is the
// kill -9 test of make test (host/app TestServe_killedHostDeliversPendingOnce).
func BenchmarkAlertLatency(b *testing.B) {
	n := *alertEvents
	if testing.Short() && n > 2000 {
		n = 2000
	}
	rate := float64(alertPerMinute) / 60
	amBin := alertmanagerPath(b)

	var puodIdle, puodLoad, amIdle, amLoad, amEquiv, sink, concPUOD, concAM latencies
	var amLost, amRepeated int
	stages, idleStages := map[string]latencies{}, map[string]latencies{}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		// PUOD's plan, which Alertmanager's equivalent load also gets.
		plan := firingThenResolved(n, alertRules, fmt.Sprintf("l%d", it))
		// Alertmanager first (best case, then the equivalent load on a
		// fresh process: the first one still holds its firing alerts and
		// their groups' timers), then PUOD; each stops before the next
		// starts.
		func() {
			am := startAlertmanager(b, amBin)
			defer am.stop()
			amIdle.add(am.idle(b, fmt.Sprintf("i%d", it), alertIdle))
			amLoad.add(am.load(b, "new firing alerts", firingOnly(n, alertRules, fmt.Sprintf("l%d", it)), rate))
			lost, repeated := am.crash(b, alertCrash)
			amLost += lost
			amRepeated += repeated
		}()
		func() {
			am := startAlertmanager(b, amBin)
			defer am.stop()
			amEquiv.add(am.load(b, "fire then resolve", plan, rate))
		}()
		func() {
			h := startAlertingHost(b, alertRules)
			defer h.stop()
			idle := idlePlan(alertIdle, alertRules, fmt.Sprintf("i%d", it))
			h.warmup(b, append(append([]alertEvent(nil), idle...), plan...))
			sink.add(h.sinkCalls(b, alertIdle))
			l, sent := h.idle(b, idle)
			puodIdle.add(l)
			addStages(idleStages, h.stages(b, idle, sent))
			l, sent = h.load(b, plan, rate)
			puodLoad.add(l)
			addStages(stages, h.stages(b, plan, sent))

			// Both at once: the same events to each, at the same rate,
			// sharing the machine's two cores as two services on one host
			// would.
			conc := firingThenResolved(n, alertRules, fmt.Sprintf("c%d", it))
			h.warmup(b, conc)
			am := startAlertmanager(b, amBin)
			defer am.stop()
			done := make(chan latencies, 1)
			go func() { done <- am.load(b, "concurrent with PUOD", conc, rate) }()
			l, _ = h.load(b, conc, rate)
			concPUOD.add(l)
			concAM.add(<-done)
		}()
	}
	b.StopTimer()

	b.ReportMetric(float64(n), "events")
	b.ReportMetric(float64(alertRules), "rules")
	b.ReportMetric(ms(puodLoad.percentile(0.50)), "puod-p50-ms")
	b.ReportMetric(ms(puodLoad.percentile(0.99)), "puod-p99-ms")
	b.ReportMetric(ms(puodLoad.percentile(1)), "puod-max-ms")
	b.ReportMetric(ms(puodLoad.only(true).percentile(0.99)), "puod-firing-p99-ms")
	b.ReportMetric(ms(puodLoad.only(false).percentile(0.99)), "puod-resolved-p99-ms")
	b.ReportMetric(float64(puodLoad.missing), "puod-lost")
	b.ReportMetric(float64(puodLoad.dups), "puod-duplicates")
	b.ReportMetric(ms(amLoad.percentile(0.50)), "am-p50-ms")
	b.ReportMetric(ms(amLoad.percentile(0.99)), "am-p99-ms")
	b.ReportMetric(ms(amLoad.percentile(1)), "am-max-ms")
	b.ReportMetric(float64(amLoad.missing), "am-lost")
	b.ReportMetric(ms(amEquiv.percentile(0.50)), "am-equiv-p50-ms")
	b.ReportMetric(ms(amEquiv.percentile(0.99)), "am-equiv-p99-ms")
	b.ReportMetric(ms(amEquiv.only(true).percentile(0.99)), "am-equiv-firing-p99-ms")
	b.ReportMetric(ms(amEquiv.only(false).percentile(0.99)), "am-equiv-resolved-p99-ms")
	b.ReportMetric(float64(amEquiv.missing), "am-equiv-lost")
	b.ReportMetric(float64(amLost)/float64(b.N), "am-kill9-lost")
	b.ReportMetric(float64(amRepeated)/float64(b.N), "am-kill9-repeated")
	b.ReportMetric(ms(puodIdle.percentile(0.50)), "puod-idle-p50-ms")
	b.ReportMetric(ms(puodIdle.percentile(0.99)), "puod-idle-p99-ms")
	b.ReportMetric(ms(amIdle.percentile(0.50)), "am-idle-p50-ms")
	b.ReportMetric(ms(amIdle.percentile(0.99)), "am-idle-p99-ms")
	for _, name := range []string{"answer", "bus", "decide", "deliver", "mark"} {
		b.ReportMetric(ms(stages[name].percentile(0.50)), "stage-"+name+"-p50-ms")
		b.ReportMetric(ms(stages[name].percentile(0.99)), "stage-"+name+"-p99-ms")
		b.ReportMetric(ms(idleStages[name].percentile(0.50)), "idle-stage-"+name+"-p50-ms")
	}
	b.ReportMetric(ms(sink.percentile(0.50)), "sink-call-p50-ms")
	b.ReportMetric(ms(sink.percentile(0.99)), "sink-call-p99-ms")
	b.ReportMetric(float64(puodLoad.percentile(0.99))/float64(amLoad.percentile(0.99)), "ratio")
	b.ReportMetric(float64(puodLoad.only(true).percentile(0.99))/float64(amLoad.percentile(0.99)), "firing-ratio")
	b.ReportMetric(float64(puodLoad.percentile(0.99))/float64(amEquiv.percentile(0.99)), "equiv-ratio")
	b.ReportMetric(float64(puodIdle.percentile(0.99))/float64(amIdle.percentile(0.99)), "idle-ratio")
	b.ReportMetric(ms(concPUOD.percentile(0.99)), "conc-puod-p99-ms")
	b.ReportMetric(ms(concAM.percentile(0.99)), "conc-am-p99-ms")
	b.ReportMetric(float64(concPUOD.missing), "conc-puod-lost")
	b.ReportMetric(float64(concAM.missing), "conc-am-lost")
	b.ReportMetric(float64(concPUOD.percentile(0.99))/float64(concAM.percentile(0.99)), "conc-ratio")
}

// --- what both sides share ------------------------------------------------

// alertEvent is one run event (PUOD) or alert (Alertmanager): the pipeline
// it is about and whether it fires or resolves.
type alertEvent struct {
	rule     int
	pipeline string
	firing   bool
}

func (e alertEvent) key() string { return arrivalKey(e.pipeline, e.firing) }

func arrivalKey(pipeline string, firing bool) string {
	if firing {
		return pipeline + "/firing"
	}
	return pipeline + "/resolved"
}

// firingThenResolved is PUOD's load: event k is about rule k mod rules; in
// round j = k / rules it fails pipeline p<rule>-<tag>-<j/2> (even j) or
// lets it succeed (odd j), so every event changes one series' state and a
// rule's events are one round apart.
func firingThenResolved(n, rules int, tag string) []alertEvent {
	out := make([]alertEvent, n)
	for k := range out {
		r, j := k%rules, k/rules
		out[k] = alertEvent{rule: r, pipeline: fmt.Sprintf("p%04d-%s-%d", r, tag, j/2), firing: j%2 == 0}
	}
	return out
}

// firingOnly is Alertmanager's best-case load: the same rules and rate,
// every alert a new firing one.
func firingOnly(n, rules int, tag string) []alertEvent {
	out := make([]alertEvent, n)
	for k := range out {
		r, j := k%rules, k/rules
		out[k] = alertEvent{rule: r, pipeline: fmt.Sprintf("p%04d-%s-%d", r, tag, j), firing: true}
	}
	return out
}

// idlePlan is the one-at-a-time phase: n firing events on new pipelines.
func idlePlan(n, rules int, tag string) []alertEvent {
	out := make([]alertEvent, n)
	for k := range out {
		r := (k * 7) % rules
		out[k] = alertEvent{rule: r, pipeline: fmt.Sprintf("p%04d-%s-%d", r, tag, k), firing: true}
	}
	return out
}

// arrivals records when each keyed message first reached a receiver.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	n    map[string]int
	dups int
}

func newArrivals() *arrivals { return &arrivals{at: map[string]time.Time{}, n: map[string]int{}} }

func (a *arrivals) record(key string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n[key]++
	if _, ok := a.at[key]; ok {
		a.dups++
		return
	}
	a.at[key] = t
}

// count is how many times key arrived.
func (a *arrivals) count(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[key]
}

func (a *arrivals) get(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[key]
	return t, ok
}

// waitAll waits until every key arrived or the deadline passed.
func (a *arrivals) waitAll(keys []string, deadline time.Time) {
	for i := 0; i < len(keys); {
		if _, ok := a.get(keys[i]); ok {
			i++
			continue
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// latencies are one side's measured events.
type latencies struct {
	firing  []time.Duration
	resolve []time.Duration
	missing int
	dups    int
}

func (l *latencies) add(o latencies) {
	l.firing = append(l.firing, o.firing...)
	l.resolve = append(l.resolve, o.resolve...)
	l.missing += o.missing
	l.dups += o.dups
}

func (l latencies) only(firing bool) latencies {
	if firing {
		return latencies{firing: l.firing}
	}
	return latencies{resolve: l.resolve}
}

func (l latencies) percentile(q float64) time.Duration {
	all := append(append([]time.Duration(nil), l.firing...), l.resolve...)
	if len(all) == 0 {
		return 0
	}
	return loadResult{lat: all}.percentile(q)
}

// latenciesOf turns injection times and arrivals into latencies; a message that
// did not arrive counts as alertWait.
func latenciesOf(plan []alertEvent, sent []time.Time, arr *arrivals) latencies {
	var out latencies
	for k, ev := range plan {
		d := alertWait
		if at, ok := arr.get(ev.key()); ok && !sent[k].IsZero() {
			d = at.Sub(sent[k])
		} else {
			out.missing++
		}
		if ev.firing {
			out.firing = append(out.firing, d)
		} else {
			out.resolve = append(out.resolve, d)
		}
	}
	arr.mu.Lock()
	out.dups = arr.dups
	arr.mu.Unlock()
	return out
}

// openLoop sends plan[k] at start + k/rate, each from its own goroutine so
// a slow answer never delays the next event, and returns when every send
// returned, with the time each started. Sends must not fail the benchmark
// (they run off its goroutine): the first error is returned.
func openLoop(plan []alertEvent, rate float64, send func(ev alertEvent) error) ([]time.Time, error) {
	sent := make([]time.Time, len(plan))
	interval := time.Duration(float64(time.Second) / rate)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for k := range plan {
		if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[k] = time.Now()
			if err := send(plan[k]); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent, firstErr
}

// oneAtATime sends each event after the previous one's message arrived
// (and 100 ms of quiet), and returns the latencies.
func oneAtATime(b *testing.B, plan []alertEvent, arr *arrivals, send func(ev alertEvent) error) (latencies, []time.Time) {
	b.Helper()
	sent := make([]time.Time, len(plan))
	for k, ev := range plan {
		sent[k] = time.Now()
		if err := send(ev); err != nil {
			b.Fatal(err)
		}
		arr.waitAll([]string{ev.key()}, time.Now().Add(alertWait))
		time.Sleep(100 * time.Millisecond)
	}
	return latenciesOf(plan, sent, arr), sent
}

// postJSON POSTs body and checks the status.
func postJSON(client *http.Client, url, token string, body []byte, want int) error {
	rq, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	rq.Header.Set("Content-Type", "application/json")
	if token != "" {
		rq.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(rq)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s, want %d", url, res.StatusCode, data, want)
	}
	return nil
}

// --- PUOD ------------------------------------------------------------------

// alertingHost is a running host (app.New + Run) with the Slack sink, the
// fake Slack it posts to, and the rules.
type alertingHost struct {
	app    *app.App
	url    string
	client *http.Client
	token  string // editor API token for /api/v1/lineage
	arr    *arrivals
	stop   func()

	// Where the time goes, per event key: the lineage POST answered, the
	// run.changed event seen on the bus, the outbox row written (its
	// created_at) and marked delivered.
	pctx     context.Context
	answered *arrivals
	onBus    *arrivals
	runKeys  sync.Map // run id → event key
	sinkID   string
	slack    *slacksim.Server
}

// benchKey finds the events a Slack message is about: every rule's summary
// is "bench <pipeline> <status>"; a group message carries several.
var benchKey = regexp.MustCompile(`bench (p[0-9]{4}-[A-Za-z0-9]+-[0-9]+) (firing|resolved)`)

// startAlertingHost starts a host with the puod.slack plugin, a Slack sink
// source posting to a fake Slack in this process, and the given number of
// run_failed rules; it returns once the host is serving (the engine loads
// the rules on the alert.changed it publishes; warmup waits for that).
func startAlertingHost(b *testing.B, rules int) *alertingHost {
	b.Helper()
	h := &alertingHost{client: keepAliveClient(256), arr: newArrivals(), answered: newArrivals(), onBus: newArrivals()}

	sl := slacksim.New(slacksim.Options{OnMessage: func(m slacksim.Message) {
		// The key is in the text and in the blocks: once per message.
		seen := map[string]bool{}
		for _, sm := range benchKey.FindAllSubmatch(m.Body, -1) {
			if k := arrivalKey(string(sm[1]), string(sm[2]) == "firing"); !seen[k] {
				seen[k] = true
				h.arr.record(k, m.ReceivedAt)
			}
		}
	}})
	slackSrv := httptest.NewServer(sl)
	h.slack = sl

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.PluginDir = b.TempDir()
	cfg.AdminPassword = benchAdminPassword
	bundleFrom(b, cfg.PluginDir, "../plugins/slack/plugin.json", buildBin(b, "../plugins/slack", "puod-slack"))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, hclog.NewNullLogger(), io.Discard)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		b.Fatal(err)
	}
	h.app, h.url = a, "http://"+a.Addr()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Error("the host did not stop within 30s")
			}
			slackSrv.Close()
			h.client.CloseIdleConnections()
		})
	}
	b.Cleanup(h.stop)

	deadline := time.Now().Add(60 * time.Second)
	for running := false; !running; {
		_, err := a.Plugins().Plugin("puod.slack")
		running = err == nil
		if time.Now().After(deadline) {
			b.Fatalf("puod.slack not running after 60s: %+v", a.Plugins().Plugins())
		}
		time.Sleep(10 * time.Millisecond)
	}

	admin := h.login(b)
	var tok struct {
		Token string `json:"token"`
	}
	h.call(b, "POST", "/api/v1/tokens", admin, map[string]any{"name": "lineage", "role": "editor"}, http.StatusCreated, &tok)
	h.token = tok.Token
	var src struct {
		ID string `json:"id"`
	}
	// Slack's own pace (1 post per second per webhook) would make any
	// load a queue: the fake Slack has no such limit, the sink is told so.
	h.call(b, "POST", "/api/v1/sources", admin, map[string]any{
		"plugin_id": "puod.slack", "name": "bench slack", "poll_interval_seconds": 0,
		"config": map[string]any{"webhook_url": sl.WebhookURL(slackSrv.URL, slacksim.DefaultChannel), "max_messages_per_second": 1000, "burst": 1000},
	}, http.StatusCreated, &src)
	h.sinkID = src.ID

	// The rules go straight into the store (1,000 API calls would reload
	// the engine 1,000 times), then one alert.changed loads them all.
	db := a.Store()
	prof, err := db.System().Profiles().ByName(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	pctx := identity.With(ctx, identity.Principal{UserID: "bench", Username: "bench", ProfileID: prof.ID, Role: identity.RoleAdmin, Via: "system"})
	h.pctx = pctx
	for i := 0; i < rules; i++ {
		name := fmt.Sprintf("bench rule %04d", i)
		spec, _ := json.Marshal(map[string]any{
			"name": name, "severity": "critical",
			"selector":    map[string]any{"pipeline": fmt.Sprintf("p%04d-*", i)},
			"condition":   map[string]any{"run_failed": map[string]any{}},
			"annotations": map[string]any{"summary": "bench {{.Pipeline.Name}} {{.Status}}"},
			"sinks":       []string{src.ID},
			"group":       map[string]any{"by": []string{"pipeline"}, "wait": "0s", "interval": "1s"},
		})
		if _, err := db.AlertRules().Create(pctx, store.AlertRuleInput{Name: name, Kind: "run_failed", Spec: spec, Enabled: true}); err != nil {
			b.Fatal(err)
		}
	}
	ev, err := bus.NewEvent(bus.TopicAlertChanged, prof.ID, alertapi.Changed{Kind: alertapi.ChangedRule})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Bus().Publish(ctx, ev); err != nil {
		b.Fatal(err)
	}
	events, unsubscribe := a.Bus().Subscribe(bus.TopicRunChanged)
	b.Cleanup(unsubscribe)
	go func() {
		for ev := range events {
			at := time.Now()
			var rc bus.RunChanged
			if ev.Decode(&rc) != nil {
				continue
			}
			if k, ok := h.runKeys.Load(rc.ExternalID); ok {
				h.onBus.record(k.(string), at)
			}
		}
	}()
	return h
}

func (h *alertingHost) login(b *testing.B) string {
	b.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	h.call(b, "POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": benchAdminPassword}, http.StatusOK, &tr)
	return tr.AccessToken
}

func (h *alertingHost) call(b *testing.B, method, path, token string, body any, want int, out any) {
	b.Helper()
	data, _ := json.Marshal(body)
	rq, err := http.NewRequest(method, h.url+path, bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	rq.Header.Set("Content-Type", "application/json")
	if token != "" {
		rq.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.client.Do(rq)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatal(err)
		}
	}
}

// runSeq makes run ids unique within a host.
var runSeq struct {
	mu sync.Mutex
	n  int
}

func nextRunID() string {
	runSeq.mu.Lock()
	defer runSeq.mu.Unlock()
	runSeq.n++
	return fmt.Sprintf("bench-run-%d", runSeq.n)
}

// lineageEvent is an OpenLineage RunEvent ending a run of pipeline at at:
// FAIL when failed, else COMPLETE.
func lineageEvent(pipeline string, failed bool, at time.Time) map[string]any {
	typ := "COMPLETE"
	if failed {
		typ = "FAIL"
	}
	return map[string]any{
		"eventType": typ, "eventTime": at.UTC().Format(time.RFC3339Nano), "producer": "https://github.com/puod/puod/bench",
		"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":       map[string]any{"runId": nextRunID()}, "job": map[string]any{"namespace": "bench", "name": pipeline},
	}
}

func (h *alertingHost) send(ev alertEvent) error {
	le := lineageEvent(ev.pipeline, ev.firing, time.Now())
	h.runKeys.Store(le["run"].(map[string]any)["runId"], ev.key())
	body, err := json.Marshal(le)
	if err != nil {
		return err
	}
	if err := postJSON(h.client, h.url+"/api/v1/lineage", h.token, body, http.StatusOK); err != nil {
		return err
	}
	h.answered.record(ev.key(), time.Now())
	return nil
}

// warmup creates every pipeline of plan with one successful run an hour
// ago (no alert: run_failed is inactive on a success), in batches paced at
// 500 runs per second so the engine keeps up, then waits until the rules
// are loaded and the engine has caught up: a probe alert must arrive.
func (h *alertingHost) warmup(b *testing.B, plan []alertEvent) {
	b.Helper()
	seen := map[string]bool{}
	var batch []map[string]any
	past := time.Now().Add(-time.Hour)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		body, _ := json.Marshal(batch)
		if err := postJSON(h.client, h.url+"/api/v1/lineage", h.token, body, http.StatusOK); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Duration(len(batch)) * 2 * time.Millisecond)
		batch = batch[:0]
	}
	for _, ev := range plan {
		if seen[ev.pipeline] {
			continue
		}
		seen[ev.pipeline] = true
		batch = append(batch, lineageEvent(ev.pipeline, false, past))
		if len(batch) == 250 {
			flush()
		}
	}
	flush()
	// Probes, unmeasured: the first waits for the rules to load.
	for i := 0; i < 3; i++ {
		probe := alertEvent{rule: i, pipeline: fmt.Sprintf("p%04d-warm-%d", i, i), firing: true}
		if err := h.send(probe); err != nil {
			b.Fatal(err)
		}
		h.arr.waitAll([]string{probe.key()}, time.Now().Add(2*time.Minute))
		if _, ok := h.arr.get(probe.key()); !ok {
			if msgs := h.slack.Messages(); len(msgs) > 0 {
				b.Fatalf("the fake Slack got %d messages but none names %q as \"bench <pipeline> <status>\" (the rules' summary): "+
					"has the message layout changed? The last one: %.2000s", len(msgs), probe.key(), msgs[len(msgs)-1].Body)
			}
			b.Fatalf("no Slack message for a failed run of %s within 2 minutes: are the rules loaded and the Slack sink running? (%+v)",
				probe.pipeline, h.app.Plugins().Plugins())
		}
	}
	time.Sleep(time.Second)
}

func (h *alertingHost) idle(b *testing.B, plan []alertEvent) (latencies, []time.Time) {
	b.Helper()
	return oneAtATime(b, plan, h.arr, h.send)
}

func (h *alertingHost) load(b *testing.B, plan []alertEvent, rate float64) (latencies, []time.Time) {
	b.Helper()
	sent, err := openLoop(plan, rate, h.send)
	if err != nil {
		b.Fatalf("sending run events: %v", err)
	}
	keys := make([]string, len(plan))
	for k, ev := range plan {
		keys[k] = ev.key()
	}
	h.arr.waitAll(keys, time.Now().Add(alertWait))
	out := latenciesOf(plan, sent, h.arr)
	if out.missing > 0 {
		b.Logf("PUOD: %d of %d messages did not reach the fake Slack within %v of the last event", out.missing, len(plan), alertWait)
	}
	return out, sent
}

// stages splits the latencies of plan at what the host lets a
// benchmark see: sent → lineage POST answered ("answer": auth, store write,
// publish); sent → run.changed seen by a bus subscriber of this process
// ("bus": an upper bound, the subscriber may be scheduled late, and then
// "decide" is that much shorter, even negative); run.changed → the outbox
// row's created_at, stamped just before the
// notify worker's Enqueue transaction ("decide": the alerting runner's
// queue, the engine's store reads and evaluation); created_at → message at
// the fake Slack ("deliver": the outbox and alert-state transactions, the
// worker's wake-up and claim, gRPC to the plugin, its HTTP post); message
// → row marked delivered ("mark", after the message, not in the latency).
func (h *alertingHost) stages(b *testing.B, plan []alertEvent, sent []time.Time) map[string]latencies {
	b.Helper()
	created, delivered := map[string]time.Time{}, map[string]time.Time{}
	for page := (store.Page{Limit: store.MaxPageLimit}); ; {
		rows, next, err := h.app.Store().Notifications().List(h.pctx, store.NotificationFilter{}, page)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			for _, sm := range benchKey.FindAllSubmatch(r.Payload, -1) {
				k := arrivalKey(string(sm[1]), string(sm[2]) == "firing")
				created[k] = r.CreatedAt
				if r.DeliveredAt != nil {
					delivered[k] = *r.DeliveredAt
				}
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	out := map[string]latencies{}
	add := func(stage string, d time.Duration) {
		l := out[stage]
		l.firing = append(l.firing, d)
		out[stage] = l
	}
	for k, ev := range plan {
		key := ev.key()
		if t, ok := h.answered.get(key); ok {
			add("answer", t.Sub(sent[k]))
		}
		seen, onBus := h.onBus.get(key)
		if onBus {
			add("bus", seen.Sub(sent[k]))
		}
		c, ok := created[key]
		if ok && onBus {
			add("decide", c.Sub(seen))
		}
		at, arrived := h.arr.get(key)
		if ok && arrived {
			add("deliver", at.Sub(c))
		}
		if d, ok := delivered[key]; ok && arrived {
			add("mark", d.Sub(at))
		}
	}
	return out
}

func addStages(into, from map[string]latencies) {
	for name, l := range from {
		st := into[name]
		st.add(l)
		into[name] = st
	}
}

// sinkCalls calls the Slack plugin directly n times, one at a time, as the
// notify worker does (plugin handle → gRPC → plugin → HTTP to the fake
// Slack): the floor of the delivery stage.
func (h *alertingHost) sinkCalls(b *testing.B, n int) latencies {
	b.Helper()
	sinkPlugin, err := h.app.Plugins().Plugin("puod.slack")
	if err != nil {
		b.Fatal(err)
	}
	var out latencies
	for i := 0; i < n; i++ {
		note := sdk.Notification{ID: fmt.Sprintf("bench-sink-%d", i), Status: sdk.NotificationFiring, RuleID: "bench", RuleName: "bench",
			Severity: "critical", Title: fmt.Sprintf("bench p0000-sink-%d firing", i), Labels: map[string]string{"pipeline": "p0000-sink"}}
		t0 := time.Now()
		res, err := sinkPlugin.Notify(context.Background(), h.sinkID, note)
		d := time.Since(t0)
		if err != nil || res.Outcome != sdk.Delivered {
			b.Fatalf("direct call to the Slack sink: %+v %v", res, err)
		}
		out.firing = append(out.firing, d)
		time.Sleep(20 * time.Millisecond)
	}
	return out
}
