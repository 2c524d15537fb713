//go:build linux

package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestServe_pluginsDieWithKilledHost runs the real `puod serve` binary with
// the hello plugin, kills it with SIGKILL — nothing in the host can clean
// up — and checks that the plugin process it started dies too: no orphans.
func TestServe_pluginsDieWithKilledHost(t *testing.T) {
	t.Parallel()
	puod := goBuild(t, "github.com/puod/puod/host/cmd/puod", "puod")
	dataDir, pluginDir := t.TempDir(), t.TempDir()
	installHello(t, pluginDir)
	addr := freeAddr(t)

	// Become the subreaper of the host's orphans, so the test can reap the
	// killed plugin instead of leaving a zombie to an init that may not.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Logf("cannot become a subreaper (%v): a killed plugin may stay a zombie, which counts as gone", err)
	} else {
		t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	}

	host := exec.Command(puod, "serve", "--listen", addr, "--data-dir", dataDir, "--plugin-dir", pluginDir)
	host.Env = append(withoutPUOD(os.Environ()), "PUOD_ADMIN_PASSWORD="+adminPassword, "PUOD_LOG_LEVEL=warn")
	var output syncBuffer
	host.Stdout, host.Stderr = &output, &output
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = host.Wait(); close(exited) }()
	pluginPID := 0
	t.Cleanup(func() {
		_ = host.Process.Kill()
		<-exited
		if pluginPID > 0 && !gone(pluginPID) {
			_ = syscall.Kill(pluginPID, syscall.SIGKILL)
			_, _ = unix.Wait4(pluginPID, nil, unix.WNOHANG, nil)
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	waitUntil(t, 60*time.Second, "puod serve to answer /healthz", exited, &output, func() bool {
		res, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})

	// Log in over HTTP and read the plugin's pid from the API, as an
	// operator would.
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	res, err := client.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tr)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v\n%s", res.StatusCode, err, output.String())
	}
	waitUntil(t, 60*time.Second, "the hello plugin to run", exited, &output, func() bool {
		rq, _ := http.NewRequest("GET", base+"/api/v1/plugins", nil)
		rq.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		res, err := client.Do(rq)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var pl struct {
			Plugins []struct {
				ID, State string
				PID       int `json:"pid"`
			} `json:"plugins"`
		}
		if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&pl) != nil {
			return false
		}
		for _, p := range pl.Plugins {
			if p.ID == helloPluginID && p.State == "running" && p.PID > 0 {
				pluginPID = p.PID
				return true
			}
		}
		return false
	})
	if ppid := parentPID(pluginPID); ppid != host.Process.Pid {
		t.Fatalf("plugin %d has parent %d, want the host %d", pluginPID, ppid, host.Process.Pid)
	}

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	for !gone(pluginPID) {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("plugin %d still alive (state %c) 5s after its host was killed with SIGKILL", pluginPID, procState(pluginPID))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("plugin %d gone %v after its host was killed", pluginPID, time.Since(killed).Round(time.Millisecond))
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// withoutPUOD drops PUOD_* variables, so the developer's settings (a
// PostgreSQL URL, a listen address) do not leak into the host under test.
func withoutPUOD(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PUOD_") {
			out = append(out, kv)
		}
	}
	return out
}

func waitUntil(t *testing.T, limit time.Duration, what string, exited <-chan struct{}, out fmt.Stringer, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		select {
		case <-exited:
			t.Fatalf("puod exited while waiting for %s; its output:\n%s", what, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; puod's output:\n%s", limit, what, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStat returns the fields of /proc/<pid>/stat after the command name.
func procStat(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

func procState(pid int) byte {
	if f := procStat(pid); len(f) > 0 {
		return f[0][0]
	}
	return '?'
}

func parentPID(pid int) int {
	if f := procStat(pid); len(f) > 1 {
		n, _ := strconv.Atoi(f[1])
		return n
	}
	return 0
}

// gone reports whether pid no longer runs: reaped (by us, its subreaper),
// absent, or a zombie nobody reaped yet.
func gone(pid int) bool {
	if wpid, _ := unix.Wait4(pid, nil, unix.WNOHANG, nil); wpid == pid {
		return true
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	s := procState(pid)
	return s == 'Z' || s == 'X' || s == '?'
}

// syncBuffer collects a process's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
