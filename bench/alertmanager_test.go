package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// The peer of BenchmarkAlertLatency: Prometheus Alertmanager, as Debian
// packages it (prometheus-alertmanager; scripts/bench.sh installs it).

var errNoAlertmanager = errors.New("prometheus-alertmanager not found")

// alertmanagerPath finds the Alertmanager executable: $ALERTMANAGER, else
// prometheus-alertmanager (Debian) or alertmanager on PATH. Without it the
// benchmark fails: the comparison is the point.
func alertmanagerPath(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("ALERTMANAGER"); p != "" {
		return p
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	b.Fatalf("%v: install it (apt-get install -y prometheus-alertmanager, as scripts/bench.sh does) or set ALERTMANAGER to its executable", errNoAlertmanager)
	return ""
}

// alertmanagerConfig is the configuration under test: no waiting to group
// (group_wait 0s), changes to a group sent at most every second
// (group_interval 1s), one group per rule and pipeline, and a webhook
// receiver with resolved notifications.
const alertmanagerConfig = `route:
  receiver: bench
  group_by: ['alertname', 'pipeline']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: %q
        send_resolved: true
`

// alertmanager is a running Alertmanager, the listener its webhook posts
// to, and what arrived there.
type alertmanager struct {
	exe, dir, cfgPath, addr, url string

	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}

	hook   *httptest.Server
	down   atomic.Bool // the receiver answers 503
	arr    *arrivals
	client *http.Client
}

// startAlertmanager starts Alertmanager (without clustering, which would
// otherwise wait for peers) on a free port with a fresh storage folder.
func startAlertmanager(b *testing.B, exe string) *alertmanager {
	b.Helper()
	am := &alertmanager{exe: exe, dir: b.TempDir(), addr: freePort(b), arr: newArrivals(), client: keepAliveClient(256)}
	am.url = "http://" + am.addr
	am.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		at := time.Now()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if am.down.Load() {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		// The webhook payload (Alertmanager's webhook_config format).
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Each alert is matched by its own status (the group's status is
		// "firing" while any of its alerts fires; grouped by alertname and
		// pipeline, a group holds one alert, so both agree).
		for _, a := range msg.Alerts {
			am.arr.record(arrivalKey(a.Labels["pipeline"], a.Status == "firing"), at)
		}
		w.WriteHeader(http.StatusOK)
	}))
	am.cfgPath = filepath.Join(am.dir, "alertmanager.yml")
	if err := os.WriteFile(am.cfgPath, []byte(fmt.Sprintf(alertmanagerConfig, am.hook.URL+"/alertmanager")), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		am.stop()
		if b.Failed() {
			b.Logf("alertmanager output:\n%s", am.logs.String())
		}
	})
	am.launch(b)
	// Unmeasured probes: the first notifications warm connections up.
	for i := 0; i < 3; i++ {
		probe := alertEvent{rule: i, pipeline: fmt.Sprintf("p%04d-warm-%d", i, i), firing: true}
		if err := am.send(probe); err != nil {
			b.Fatal(err)
		}
		am.arr.waitAll([]string{probe.key()}, time.Now().Add(30*time.Second))
		if _, ok := am.arr.get(probe.key()); !ok {
			b.Fatalf("alertmanager sent no webhook for a firing alert within 30s:\n%s", am.logs.String())
		}
	}
	return am
}

// launch starts the process on the storage folder and waits until ready.
func (am *alertmanager) launch(b *testing.B) {
	b.Helper()
	am.logs, am.exited = &syncBuffer{}, make(chan struct{})
	am.cmd = exec.Command(am.exe, "--config.file="+am.cfgPath, "--storage.path="+filepath.Join(am.dir, "data"),
		"--web.listen-address="+am.addr, "--cluster.listen-address=", "--log.level=warn")
	am.cmd.Stdout, am.cmd.Stderr = am.logs, am.logs
	if err := am.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := am.exited
	go func() { _ = am.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := am.client.Get(am.url + "/-/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			b.Fatalf("alertmanager exited during start-up:\n%s", am.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("alertmanager not ready after 30s:\n%s", am.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the process (SIGKILL) and waits for it.
func (am *alertmanager) kill9() {
	_ = am.cmd.Process.Kill()
	<-am.exited
	am.client.CloseIdleConnections()
}

// stop interrupts Alertmanager and waits for it (killing it after 10 s).
func (am *alertmanager) stop() {
	if am.cmd == nil {
		return
	}
	select {
	case <-am.exited:
	default:
		_ = am.cmd.Process.Signal(os.Interrupt)
		select {
		case <-am.exited:
		case <-time.After(10 * time.Second):
			_ = am.cmd.Process.Kill()
			<-am.exited
		}
	}
	am.hook.Close()
	am.client.CloseIdleConnections()
}

// crash shows what Alertmanager gives up, with n alerts of each kind:
// alerts notified before a kill -9, and alerts firing while the receiver
// was down (their notifications pending, retried every group_interval).
// After the restart, lost counts the pending ones that never arrive while
// nobody posts them again; then every alert is posted again, as
// Prometheus re-sends firing alerts, and repeated counts the alerts that
// were already delivered and are notified a second time.
func (am *alertmanager) crash(b *testing.B, n int) (lost, repeated int) {
	b.Helper()
	var sent, pending []alertEvent
	for i := 0; i < n; i++ {
		sent = append(sent, alertEvent{rule: i, pipeline: fmt.Sprintf("p%04d-sent-%d", i, i), firing: true})
		pending = append(pending, alertEvent{rule: i, pipeline: fmt.Sprintf("p%04d-pending-%d", i, i), firing: true})
	}
	post := func(evs []alertEvent) {
		for _, ev := range evs {
			if err := am.send(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	keys := func(evs []alertEvent) []string {
		var ks []string
		for _, ev := range evs {
			ks = append(ks, ev.key())
		}
		return ks
	}
	post(sent)
	am.arr.waitAll(keys(sent), time.Now().Add(alertWait))
	am.down.Store(true)
	post(pending)
	time.Sleep(2 * time.Second) // a few attempts, answered 503
	am.kill9()
	am.down.Store(false)
	am.launch(b)
	time.Sleep(3 * time.Second)
	for _, ev := range pending {
		if am.arr.count(ev.key()) == 0 {
			lost++
		}
	}
	post(append(append([]alertEvent(nil), sent...), pending...))
	am.arr.waitAll(keys(pending), time.Now().Add(10*time.Second))
	time.Sleep(2 * time.Second)
	for _, ev := range sent {
		if am.arr.count(ev.key()) > 1 {
			repeated++
		}
	}
	return lost, repeated
}

// send posts one alert, as Prometheus would: firing from now on, or
// resolved now.
func (am *alertmanager) send(ev alertEvent) error {
	now := time.Now().UTC()
	a := map[string]any{
		"labels":      map[string]string{"alertname": fmt.Sprintf("bench rule %04d", ev.rule), "pipeline": ev.pipeline, "severity": "critical"},
		"annotations": map[string]string{"summary": fmt.Sprintf("bench %s", ev.key())},
		"startsAt":    now.Format(time.RFC3339Nano),
	}
	if !ev.firing {
		a["endsAt"] = now.Format(time.RFC3339Nano)
	}
	body, err := json.Marshal([]any{a})
	if err != nil {
		return err
	}
	return postJSON(am.client, am.url+"/api/v2/alerts", "", body, http.StatusOK)
}

func (am *alertmanager) idle(b *testing.B, tag string, n int) latencies {
	b.Helper()
	l, _ := oneAtATime(b, idlePlan(n, alertRules, tag), am.arr, am.send)
	return l
}

// load posts plan open loop at rate (see openLoop), waits up to alertWait
// for its webhooks and returns the latencies; phase names the load in the
// log.
func (am *alertmanager) load(b *testing.B, phase string, plan []alertEvent, rate float64) latencies {
	b.Helper()
	sent, err := openLoop(plan, rate, am.send)
	if err != nil {
		b.Fatalf("posting alerts to alertmanager (%s): %v", phase, err)
	}
	keys := make([]string, len(plan))
	for k, ev := range plan {
		keys[k] = ev.key()
	}
	am.arr.waitAll(keys, time.Now().Add(alertWait))
	out := latenciesOf(plan, sent, am.arr)
	if out.missing > 0 {
		b.Logf("Alertmanager (%s): %d of %d webhooks did not arrive within %v of the last alert", phase, out.missing, len(plan), alertWait)
	}
	return out
}
