package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/bench/plugins/ingest/runset"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// ingestRuns is the size of the history BenchmarkIngest collects; smaller
// values are for trying the benchmark out (go test -bench Ingest ./bench
// -ingest.runs=100000).
var ingestRuns = flag.Int("ingest.runs", runset.Total, "runs BenchmarkIngest collects per dialect")

// built holds the executables the ingest and freshness benchmarks build on
// first use (TestMain builds only the ones every benchmark needs).
var built struct {
	mu    sync.Mutex
	paths map[string]string // package → executable
}

// buildBin builds the package pkg (relative to bench/) once per run, as
// `make build` does (stripped), and returns its executable.
func buildBin(tb testing.TB, pkg, name string) string {
	tb.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if p, ok := built.paths[pkg]; ok {
		return p
	}
	out := filepath.Join(bins.dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("build %s: %v", pkg, err)
	}
	if built.paths == nil {
		built.paths = map[string]string{}
	}
	built.paths[pkg] = out
	return out
}

// bundleFrom writes the bundle of a plugin under pluginDir/<id>: its
// plugin.json (from manifestPath), the executable exe under the name the
// manifest gives, and the checksums.
func bundleFrom(tb testing.TB, pluginDir, manifestPath, exe string) {
	tb.Helper()
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		tb.Fatal(err)
	}
	var m struct {
		ID         string `json:"id"`
		Executable string `json:"executable"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" || m.Executable == "" {
		tb.Fatalf("%s: no id or executable (%v)", manifestPath, err)
	}
	dir := filepath.Join(pluginDir, m.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), raw, 0o644); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m.Executable), data, 0o755); err != nil {
		tb.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		tb.Fatal(err)
	}
}

// vmRSS reads a process's resident set size in MB from /proc (ok false
// when the process is gone). It never fails the benchmark, so samplers may
// call it from any goroutine.
func vmRSS(pid int) (float64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.Fields(rest)[0])
			return float64(kb) / 1024, err == nil
		}
	}
	return 0, false
}

// peakSampler samples the RSS of some processes every 100 ms and keeps the
// maximum of each.
type peakSampler struct {
	once sync.Once
	stop chan struct{}
	done chan struct{}
	pids []int
	peak []float64
}

func samplePeaks(pids ...int) *peakSampler {
	s := &peakSampler{stop: make(chan struct{}), done: make(chan struct{}), pids: pids, peak: make([]float64, len(pids))}
	sample := func() {
		for i, pid := range s.pids {
			if mb, ok := vmRSS(pid); ok && mb > s.peak[i] {
				s.peak[i] = mb
			}
		}
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		sample()
		for {
			select {
			case <-s.stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak of each process, in MB.
func (s *peakSampler) Stop() []float64 {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return s.peak
}

// syncBuffer is an io.Writer safe for concurrent use (a child process's
// output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostProcess is a `puod serve` process and an API client for it.
type hostProcess struct {
	cmd    *exec.Cmd
	url    string
	logs   *syncBuffer
	client *http.Client
	token  string
	exited chan struct{}
}

// startHostProcess starts `puod serve` on dataDir and pluginDir (and on
// databaseURL when set), waits until it is ready, and logs in as the admin.
// It is stopped when the benchmark ends, if not before.
func startHostProcess(b *testing.B, dataDir, pluginDir, databaseURL string) *hostProcess {
	b.Helper()
	puod := buildBin(b, "../host/cmd/puod", "puod-host")
	addr := freePort(b)
	h := &hostProcess{url: "http://" + addr, logs: &syncBuffer{}, client: keepAliveClient(4), exited: make(chan struct{})}
	h.cmd = exec.Command(puod, "serve", "--listen", addr, "--data-dir", dataDir, "--plugin-dir", pluginDir)
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	h.cmd.Env = append(os.Environ(), "PUOD_ADMIN_PASSWORD="+benchAdminPassword)
	if databaseURL != "" {
		h.cmd.Env = append(h.cmd.Env, "PUOD_DATABASE_URL="+databaseURL)
	}
	if err := h.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = h.cmd.Wait(); close(h.exited) }()
	b.Cleanup(func() {
		h.stop()
		if b.Failed() {
			b.Logf("puod serve output:\n%s", h.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := h.client.Get(h.url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-h.exited:
			b.Fatalf("puod serve exited during start-up:\n%s", h.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("puod serve not ready after 60s:\n%s", h.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	h.call(b, "POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": benchAdminPassword}, http.StatusOK, &tr)
	h.token = tr.AccessToken
	return h
}

// stop interrupts the host and waits for it to exit (killing it after 30 s).
func (h *hostProcess) stop() {
	select {
	case <-h.exited:
		return
	default:
	}
	_ = h.cmd.Process.Signal(os.Interrupt)
	select {
	case <-h.exited:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
}

// do sends one JSON request and returns the status and body.
func (h *hostProcess) do(b *testing.B, method, path string, body any) (int, []byte) {
	b.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	rq, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		b.Fatal(err)
	}
	rq.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		rq.Header.Set("Authorization", "Bearer "+h.token)
	}
	res, err := h.client.Do(rq)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// call is do that requires status want and decodes the answer into out.
func (h *hostProcess) call(b *testing.B, method, path string, body any, want int, out any) {
	b.Helper()
	status, data := h.do(b, method, path, body)
	if status != want {
		b.Fatalf("%s %s: %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// pluginPID waits until the host runs plugin id and returns its process id.
func (h *hostProcess) pluginPID(b *testing.B, id string) int {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Plugins []struct {
				ID        string `json:"id"`
				State     string `json:"state"`
				PID       int    `json:"pid"`
				LastError string `json:"last_error"`
			} `json:"plugins"`
		}
		h.call(b, "GET", "/api/v1/plugins", nil, http.StatusOK, &list)
		for _, p := range list.Plugins {
			if p.ID == id && p.State == "running" && p.PID > 0 {
				return p.PID
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("plugin %s not running after 60s: %+v", id, list.Plugins)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// upsertOf is a run as the store takes it, converted the way the collector
// converts what a plugin sends.
func upsertOf(r sdk.Run) store.RunUpsert {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	u := store.RunUpsert{
		ExternalID: r.ExternalID, PipelineExternalID: r.PipelineExternalID, PipelineName: r.PipelineName,
		RunData: store.RunData{
			State: string(r.State), RawState: r.RawState, QueuedAt: opt(r.QueuedAt), StartedAt: opt(r.StartedAt),
			EndedAt: opt(r.EndedAt), ErrorMessage: r.ErrorMessage, URL: r.URL, Attempt: r.Attempt,
			Attributes: r.Attributes, Metrics: r.Metrics,
		},
	}
	if r.Duration > 0 {
		ms := r.Duration.Milliseconds()
		u.DurationMS = &ms
	}
	return u
}

// BenchmarkIngest collects 1,000,000 runs (200 pipelines, batches of 500,
// a cursor after each) from a connector plugin into the store, end to end:
// a real `puod serve` process, its plugin manager running the bench.ingest
// plugin, a source created through the API and synced with POST
// /api/v1/sources/{id}/sync?wait=true, timed from the request until the
// poll is over (every batch and the final cursor committed; both are
// checked afterwards). The baseline is db.Runs().Ingest of the same runs,
// batched the same, into a fresh database of the same dialect, measured
// after the host has stopped. Targets: ratio ≥ 0.50, host peak RSS ≤ 150 MB.
func BenchmarkIngest(b *testing.B) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		b.Run(dialect, func(b *testing.B) { benchIngest(b, dialect) })
	}
}

func benchIngest(b *testing.B, dialect string) {
	n := *ingestRuns
	exe := buildBin(b, "./plugins/ingest", "bench-ingest")
	var puodD, directD time.Duration
	var hostPeak, pluginPeak float64
	for i := 0; i < b.N; i++ {
		d, hp, pp := ingestThroughHost(b, dialect, exe, n)
		puodD += d
		hostPeak, pluginPeak = max(hostPeak, hp), max(pluginPeak, pp)
		directD += ingestDirect(b, dialect, n)
	}
	puodRate := float64(n*b.N) / puodD.Seconds()
	directRate := float64(n*b.N) / directD.Seconds()
	b.ReportMetric(float64(n), "runs")
	b.ReportMetric(puodRate, "puod-runs/s")
	b.ReportMetric(directRate, "direct-runs/s")
	b.ReportMetric(puodRate/directRate, "ratio")
	b.ReportMetric(hostPeak, "host-peak-MB")
	b.ReportMetric(pluginPeak, "plugin-peak-MB")
}

// ingestThroughHost runs one host and syncs a source of n runs; it
// returns the sync's duration and the peak RSS of the host and the plugin.
func ingestThroughHost(b *testing.B, dialect, exe string, n int) (took time.Duration, hostPeak, pluginPeak float64) {
	var dbURL string
	if dialect == store.DialectPostgres {
		dbURL = storetest.NewPostgresDatabase(b) // skips loudly without PostgreSQL
	}
	dataDir, pluginDir := b.TempDir(), b.TempDir()
	bundleFrom(b, pluginDir, "plugins/ingest/plugin.json", exe)
	h := startHostProcess(b, dataDir, pluginDir, dbURL)
	pluginPID := h.pluginPID(b, "bench.ingest")
	var me struct {
		Profile struct{ ID string } `json:"profile"`
	}
	h.call(b, "GET", "/api/v1/auth/me", nil, http.StatusOK, &me)
	var src struct{ ID string }
	h.call(b, "POST", "/api/v1/sources", map[string]any{
		"plugin_id": "bench.ingest", "name": "ingest", "config": map[string]any{"runs": n}, "poll_interval_seconds": 0,
	}, http.StatusCreated, &src)

	type syncResult struct {
		Runs    int    `json:"runs"`
		Changed int    `json:"changed"`
		Batches int    `json:"batches"`
		Cursor  string `json:"cursor"`
	}
	final := strconv.Itoa(n)
	sampler := samplePeaks(h.cmd.Process.Pid, pluginPID)
	b.Cleanup(func() { sampler.Stop() })
	start := time.Now()
	var total syncResult
	for polls := 1; ; polls++ {
		status, body := h.do(b, "POST", "/api/v1/sources/"+src.ID+"/sync?wait=true", nil)
		var res syncResult
		if status == http.StatusOK {
			if err := json.Unmarshal(body, &res); err != nil {
				b.Fatal(err)
			}
			total.Runs += res.Runs
			total.Changed += res.Changed
			total.Batches += res.Batches
			total.Cursor = res.Cursor
		}
		// A poll is bounded (10 min by default): one cut short (504) left
		// its stored batches and cursor, and the next continues from there,
		// as the scheduler's next poll would.
		if status == http.StatusOK && res.Cursor == final {
			break
		}
		if (status != http.StatusOK && status != http.StatusGatewayTimeout) || polls == 10 {
			b.Fatalf("sync %d: %d %s (cursor %q, want %q)", polls, status, body, res.Cursor, final)
		}
		b.Logf("sync %d ended before the last run (%d %s); continuing from its cursor", polls, status, body)
	}
	took = time.Since(start)
	peaks := sampler.Stop()
	h.stop()
	if total.Changed < n {
		b.Errorf("the syncs reported %d new or changed runs of %d", total.Changed, n)
	}

	// The store holds every run, and the cursor is the last batch's.
	db, err := store.Open(context.Background(), store.Config{URL: dbURL, DataDir: dataDir}, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := collect.SystemPrincipal(context.Background(), me.Profile.ID)
	if got, err := db.Runs().Count(ctx, src.ID); err != nil || got != n {
		b.Fatalf("the host's store holds %d runs (%v), want %d", got, err, n)
	}
	if s, err := db.Sources().Get(ctx, src.ID); err != nil || s.Cursor != final {
		b.Fatalf("the source's cursor is %q (%v), want %q", s.Cursor, err, final)
	}
	b.Logf("%s: host ingested %d runs in %d batches in %v (%.0f runs/s), host peak RSS %.1f MB, plugin peak RSS %.1f MB",
		dialect, n, total.Batches, took.Round(time.Millisecond), float64(n)/took.Seconds(), peaks[0], peaks[1])
	return took, peaks[0], peaks[1]
}

// ingestDirect stores the same n runs with db.Runs().Ingest, in batches of
// 500 with their cursors, into a fresh database, and returns the time spent
// in Ingest (generating the runs is not counted).
func ingestDirect(b *testing.B, dialect string, n int) time.Duration {
	db := storetest.Open(b, dialect)
	ctx := storetest.Tenant(b, db, "bench", identity.RoleAdmin)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "bench.ingest", Name: "direct", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]sdk.Run, 0, runset.Batch)
	ups := make([]store.RunUpsert, 0, runset.Batch)
	var took time.Duration
	changed := 0
	for from := 0; from < n; from += runset.Batch {
		end := min(from+runset.Batch, n)
		buf = runset.Fill(buf, from, end)
		ups = ups[:0]
		for _, r := range buf {
			ups = append(ups, upsertOf(r))
		}
		cursor := strconv.Itoa(end)
		t0 := time.Now()
		res, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Runs: ups, Cursor: &cursor})
		took += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		changed += len(res.Changed)
	}
	if got, err := db.Runs().Count(ctx, src.ID); err != nil || got != n || changed != n {
		b.Fatalf("direct ingest stored %d runs (%v), %d changed, want %d", got, err, changed, n)
	}
	b.Logf("%s: direct ingest of %d runs took %v (%.0f runs/s)", dialect, n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return took
}
