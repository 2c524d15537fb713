package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/store"
	databrickssim "github.com/puod/puod/plugins/sim/databricks"
)

// appBus returns the event bus of a host built by app.New.
func appBus(_ *testing.B, a *app.App) bus.Bus { return a.Bus() }

// BenchmarkFreshness measures how fresh the webhook path keeps the store:
// from the moment a run finishes in the Databricks simulator to the
// run.changed event for it on the host's bus. The simulator's
// jobs.on_success notification body is POSTed, as the workspace would, to
// POST /api/v1/webhooks/{source_id} of a whole host (app.New, real plugin
// manager running the puod.databricks connector, real HTTP over TCP) with
// the source's webhook secret; the connector reads the run back from the
// simulator's runs/get and the host stores it. Each run is started (and
// announced by jobs.on_start) before it finishes, so the host knows it as
// running, as it would in production. Runs finish one at a time, paced
// within the connector's default limit of 15 vendor requests per second.
// The baseline is the bare HTTP round trip of the same POST (same client,
// headers and body) to a trivial handler, interleaved with the runs.
// Target: p99 ≤ 100 ms.
func BenchmarkFreshness(b *testing.B) {
	const (
		warmup = 10
		runs   = 200 // measured, per iteration
		pace   = 150 * time.Millisecond
		token  = "dapi-bench-token"
		waitEv = 10 * time.Second
	)
	ctx := context.Background()

	// The host.
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.PluginDir = b.TempDir()
	cfg.AdminPassword = benchAdminPassword
	bundleFrom(b, cfg.PluginDir, "../plugins/databricks/plugin.json", buildBin(b, "../plugins/databricks", "puod-databricks"))
	a, err := app.New(ctx, cfg, hclog.NewNullLogger(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Plugins().Start(ctx); err != nil {
		b.Fatal(err)
	}
	hostSrv := httptest.NewServer(a.Handler())
	b.Cleanup(func() {
		hostSrv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = a.Plugins().Close(cctx)
		_ = a.Store().Close()
	})
	h := &apiHost{app: a, srv: hostSrv}
	deadline := time.Now().Add(60 * time.Second)
	for running := false; !running; {
		for _, st := range a.Plugins().Plugins() {
			running = running || (st.ID == "puod.databricks" && st.State == "running")
		}
		if time.Now().After(deadline) {
			b.Fatalf("puod.databricks not running after 60s: %+v", a.Plugins().Plugins())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The workspace: one job that notifies on start and on success, and
	// no scheduled runs.
	notices, done := make(chan []byte, 16), make(chan struct{})
	b.Cleanup(func() { close(done) })
	ws := databrickssim.New(databrickssim.Options{Token: token, OnNotification: func(body []byte) {
		select {
		case notices <- body:
		case <-done:
		}
	}})
	ws.StartScenario(databrickssim.Scenario{History: time.Minute, Jobs: []databrickssim.JobSpec{{
		Name: "freshness_job", Tasks: []databrickssim.TaskSpec{{Key: "main"}}, Notify: []string{"on_start", "on_success"},
	}}})
	jobID, ok := ws.JobID("freshness_job")
	if !ok {
		b.Fatal("the simulator has no freshness_job")
	}
	simSrv := httptest.NewServer(ws)
	b.Cleanup(simSrv.Close)

	// The source, and its webhook secret, through the API.
	client := keepAliveClient(4)
	defer client.CloseIdleConnections()
	admin := h.login(b, client, "admin", benchAdminPassword)
	wsConfig, wsSecrets := ws.ConnectorConfig(simSrv.URL)
	srcConfig := map[string]any{}
	if err := json.Unmarshal(wsConfig, &srcConfig); err != nil {
		b.Fatal(err)
	}
	for k, v := range wsSecrets {
		srcConfig[k] = v
	}
	var src struct {
		ID     string `json:"id"`
		Health struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"health"`
	}
	h.call(b, client, "POST", "/api/v1/sources", admin, map[string]any{
		"plugin_id": "puod.databricks", "name": "workspace", "config": srcConfig, "poll_interval_seconds": 0,
	}, http.StatusCreated, &src)
	var secret struct {
		Secret string `json:"secret"`
		Path   string `json:"path"`
	}
	h.call(b, client, "POST", "/api/v1/sources/"+src.ID+"/webhook-secret", admin, nil, http.StatusCreated, &secret)
	// A Databricks HTTP destination authenticates with Basic credentials.
	authz := "Basic " + base64.StdEncoding.EncodeToString([]byte("databricks:"+secret.Secret))
	post := func(url string, body []byte) (int, []byte, error) {
		rq, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("Authorization", authz)
		res, err := client.Do(rq)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		return res.StatusCode, data, err
	}

	// The workspace's webhook delivery: each notification is POSTed to the
	// host as it comes, off the simulator's call.
	type delivery struct {
		status int
		body   []byte
		err    error
	}
	delivered := make(chan delivery, 16)
	hookURL := hostSrv.URL + secret.Path
	go func() {
		for {
			select {
			case body := <-notices:
				go func() {
					status, data, err := post(hookURL, body)
					select {
					case delivered <- delivery{status, data, err}:
					case <-done:
					}
				}()
			case <-done:
				return
			}
		}
	}()

	// The baseline's trivial handler.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":1,"changed":1}`))
	}))
	b.Cleanup(bare.Close)

	events, cancel := appBus(b, a).Subscribe(bus.TopicRunChanged)
	b.Cleanup(cancel)
	// await waits for the run.changed event of run ext in a state that
	// satisfies want, and returns when it arrived. Failed deliveries fail
	// the benchmark at once.
	await := func(ext string, want func(state string) bool) time.Time {
		timeout := time.After(waitEv)
		for {
			select {
			case ev := <-events:
				at := time.Now()
				var rc bus.RunChanged
				if err := ev.Decode(&rc); err != nil {
					b.Fatal(err)
				}
				if rc.SourceID == src.ID && rc.ExternalID == ext && want(rc.State) {
					return at
				}
			case d := <-delivered:
				if d.err != nil || d.status != http.StatusOK {
					b.Fatalf("webhook delivery for run %s: %d %s %v", ext, d.status, d.body, d.err)
				}
			case <-timeout:
				b.Fatalf("no run.changed event for run %s within %v (source health at creation: %+v)", ext, waitEv, src.Health)
			}
		}
	}
	terminal := func(s string) bool { return s == store.RunSucceeded }
	anyState := func(string) bool { return true }

	var puod, base loadResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < warmup+runs; r++ {
			runID, err := ws.StartRun(jobID)
			if err != nil {
				b.Fatal(err)
			}
			ext := strconv.FormatInt(runID, 10)
			ws.Tick() // the workspace sends jobs.on_start
			await(ext, anyState)
			time.Sleep(pace)

			start := time.Now()
			if err := ws.FinishRun(runID, "SUCCESS", ""); err != nil {
				b.Fatal(err)
			}
			lat := await(ext, terminal).Sub(start)

			// The baseline: the same notification to a trivial handler.
			body, err := ws.WebhookBody("jobs.on_success", runID)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			status, data, err := post(bare.URL+secret.Path, body)
			bareLat := time.Since(t0)
			if err != nil || status != http.StatusOK {
				b.Fatalf("bare POST: %d %s %v", status, data, err)
			}
			if r >= warmup {
				puod.lat = append(puod.lat, lat)
				base.lat = append(base.lat, bareLat)
			}
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(puod.lat)), "runs")
	b.ReportMetric(ms(puod.percentile(0.50)), "p50-ms")
	b.ReportMetric(ms(puod.percentile(0.99)), "p99-ms")
	b.ReportMetric(ms(puod.percentile(1)), "max-ms")
	b.ReportMetric(ms(base.percentile(0.50)), "bare-p50-ms")
	b.ReportMetric(ms(base.percentile(0.99)), "bare-p99-ms")
	b.ReportMetric(float64(puod.percentile(0.99))/float64(base.percentile(0.99)), "ratio")
	if p99 := puod.percentile(0.99); p99 > 100*time.Millisecond {
		b.Logf("p99 %v is over the 100 ms target", p99)
	}
}
