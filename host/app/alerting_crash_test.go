//go:build linux

package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	slacksim "github.com/puod/puod/plugins/sim/slack"
)

// hostProcess is a `puod serve` process of the real binary.
type hostProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	base   string
}

// startHostProcess runs `puod serve` on dataDir and pluginDir at a new
// address and waits until it answers /healthz.
func startHostProcess(t *testing.T, puod, dataDir, pluginDir string) *hostProcess {
	t.Helper()
	addr := freeAddr(t)
	h := &hostProcess{out: &syncBuffer{}, exited: make(chan struct{}), base: "http://" + addr}
	h.cmd = exec.Command(puod, "serve", "--listen", addr, "--data-dir", dataDir, "--plugin-dir", pluginDir)
	h.cmd.Env = append(withoutPUOD(os.Environ()), "PUOD_ADMIN_PASSWORD="+adminPassword, "PUOD_LOG_LEVEL=warn")
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		<-h.exited
	})
	client := &http.Client{Timeout: 5 * time.Second}
	waitUntil(t, 90*time.Second, "puod serve to answer /healthz", h.exited, h.out, func() bool {
		res, err := client.Get(h.base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return h
}

// kill ends the host with SIGKILL: nothing in it can clean up.
func (h *hostProcess) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.exited
}

// env is the host as the API helpers' testEnv (requests only).
func (h *hostProcess) env(dataDir string) *testEnv {
	e := &testEnv{srv: &httptest.Server{URL: h.base}, client: &http.Client{Timeout: 10 * time.Second}}
	e.cfg.DataDir = dataDir
	return e
}

// waitSlackPlugin waits until the host runs the puod.slack plugin.
func (h *hostProcess) waitSlackPlugin(t *testing.T, e *testEnv, token string) {
	t.Helper()
	waitUntil(t, 90*time.Second, "the puod.slack plugin to run", h.exited, h.out, func() bool {
		r := e.do(t, req{method: "GET", path: "/api/v1/plugins", token: token})
		var pl struct {
			Plugins []struct{ ID, State string } `json:"plugins"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &pl) != nil {
			return false
		}
		for _, p := range pl.Plugins {
			if p.ID == "puod.slack" && p.State == "running" {
				return true
			}
		}
		return false
	})
}

// TestServe_killedHostDeliversPendingOnce kills the real `puod serve`
// process with SIGKILL twice: first while every notification is pending
// (Slack down), then right after Slack accepted some of them. After each
// restart on the same data directory the outbox carries on: at the end
// every notification reached the fake Slack, none was lost, and none that
// the host had recorded as delivered was sent again (Alertmanager, killed
// the same way, loses its pending notifications and re-sends delivered
// ones). A repeat is allowed only for a message Slack accepted whose
// delivery the killed host had not yet recorded: the documented window
// (host/notify), checked against the outbox as the kill left it.
func TestServe_killedHostDeliversPendingOnce(t *testing.T) {
	puod := goBuild(t, "github.com/puod/puod/host/cmd/puod", "puod")
	dataDir, pluginDir := t.TempDir(), t.TempDir()
	installFirstParty(t, pluginDir, "slack", "puod.slack", "puod-slack")
	slack, webhook := startFakeSlack(t, nil)
	const alerts, firstBatch = 12, 5
	pipeline := func(i int) string { return fmt.Sprintf("CRASH_%02d", i) }

	// The first host: a Slack sink and one run_failed rule per pipeline
	// (one group each, so each notification is a message of its own).
	h := startHostProcess(t, puod, dataDir, pluginDir)
	e := h.env(dataDir)
	access, _ := e.login(t, "admin", adminPassword)
	token := createAPIToken(t, e, access, "crash-test", "editor")
	h.waitSlackPlugin(t, e, token)
	sink := createSlackSink(t, e, access, webhook)
	for i := range alerts {
		createRule(t, e, access, map[string]any{
			"name": pipeline(i) + " failed", "severity": "critical",
			"selector":    map[string]any{"pipeline": pipeline(i)},
			"condition":   map[string]any{"run_failed": map[string]any{}},
			"annotations": map[string]string{"summary": "{{.Pipeline.Name}} failed"},
			"sinks":       []string{sink},
		})
	}
	db := e.rawDB(t)

	// Slack is down; every pipeline fails. Kill once each notification
	// was tried and refused and none is being sent.
	far := time.Now().Add(time.Hour)
	slack.Inject(slacksim.Fault{Status: http.StatusServiceUnavailable, Until: far})
	now := time.Now().UTC()
	for i := range alerts {
		run := fmt.Sprintf("c0000000-0000-4000-8000-%012d", i)
		lineageJob(t, e, token, pipeline(i), "START", run, now.Add(-time.Minute))
		lineageJob(t, e, token, pipeline(i), "FAIL", run, now)
	}
	waitUntil(t, 90*time.Second, "every notification to be written and refused once", h.exited, h.out, func() bool {
		rows := readOutbox(t, db)
		if len(rows) != alerts {
			return false
		}
		for _, r := range rows {
			if r.State != "pending" || r.Attempts < 1 || r.ClaimedUntil.After(time.Now()) {
				return false
			}
		}
		return true
	})
	h.kill(t)
	ids := map[string]bool{}
	for _, r := range readOutbox(t, db) {
		ids[r.NotificationID] = true
		if r.ClaimedUntil.After(time.Now()) {
			t.Logf("the kill caught notification %s being sent: it waits for its lease to end", r.NotificationID)
		}
	}
	if len(ids) != alerts {
		t.Fatalf("%d distinct notifications in the outbox, want %d", len(ids), alerts)
	}
	if n := len(slack.Messages()); n != 0 {
		t.Fatalf("%d messages got through a down Slack", n)
	}

	// The second host: Slack takes the next firstBatch posts and refuses
	// the rest. Kill once those are recorded as delivered.
	slack.ClearFaults()
	slack.Inject(slacksim.Fault{Status: http.StatusServiceUnavailable, After: firstBatch, Until: far})
	h = startHostProcess(t, puod, dataDir, pluginDir)
	waitUntil(t, 4*time.Minute, fmt.Sprintf("%d deliveries after the first restart", firstBatch), h.exited, h.out, func() bool {
		delivered := 0
		for _, r := range readOutbox(t, db) {
			if r.State == "delivered" {
				delivered++
			} else if r.ClaimedUntil.After(time.Now()) {
				return false
			}
		}
		return delivered == firstBatch && len(slack.Messages()) == firstBatch
	})
	h.kill(t)
	beforeKill := slack.Messages()
	recorded := map[string]bool{}
	for _, r := range readOutbox(t, db) {
		if r.State == "delivered" {
			recorded[r.NotificationID] = true
		}
	}
	// The repeat window: accepted by Slack, not recorded by the host.
	window := map[string]bool{}
	for id := range ids {
		if !recorded[id] && len(messagesWith(beforeKill, id)) > 0 {
			window[id] = true
		}
	}
	if len(window) > 0 {
		t.Logf("killed between Slack's answer and the record for %d notification(s): they may be sent twice", len(window))
	}

	// The third host, Slack healthy: it delivers the rest.
	slack.ClearFaults()
	h = startHostProcess(t, puod, dataDir, pluginDir)
	waitUntil(t, 4*time.Minute, "every notification delivered after the second restart", h.exited, h.out, func() bool {
		rows := readOutbox(t, db)
		for _, r := range rows {
			if r.State != "delivered" {
				return false
			}
		}
		return len(rows) > 0
	})
	// Nothing is pending, so nothing more can be sent: the counts are
	// final.
	rows := readOutbox(t, db)
	if len(rows) != alerts {
		t.Errorf("%d outbox rows after two restarts, want %d: a restarted engine decided again", len(rows), alerts)
	}
	msgs := slack.Messages()
	for id := range ids {
		in := messagesWith(msgs, id)
		switch {
		case len(in) == 0:
			t.Errorf("notification %s was lost: no Slack message carries it", id)
		case recorded[id] && len(in) > 1:
			t.Errorf("notification %s was recorded as delivered before the kill and sent again after the restart (messages %v)", id, in)
		case len(in) > 1 && !(window[id] && len(in) == 2):
			t.Errorf("notification %s reached Slack %d times (messages %v)", id, len(in), in)
		}
	}
	t.Logf("%d notifications, %d messages (%d before the second kill), %d in the repeat window", len(ids), len(msgs), len(beforeKill), len(window))
}
