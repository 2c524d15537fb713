//go:build linux

package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

const (
	helperDirEnv = "PUOD_PLUGINS_TEST_HOST_DIR"
	helperOutEnv = "PUOD_PLUGINS_TEST_HOST_OUT"
	helperNEnv   = "PUOD_PLUGINS_TEST_HOST_PLUGINS"
)

// runHelper is the host process of TestManager_pluginsDieWithKilledHost:
// it runs a Manager over the given directory, writes the plugins' pids
// once they all run, and waits to be killed.
func runHelper() int {
	want, _ := strconv.Atoi(os.Getenv(helperNEnv))
	log := hclog.New(&hclog.LoggerOptions{Name: "helper", Level: hclog.Warn, Output: os.Stderr})
	m, err := New(Config{Dir: os.Getenv(helperDirEnv), HostVersion: "0.1.0"}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var pids []string
		for _, st := range m.Plugins() {
			if st.State == StateRunning {
				pids = append(pids, st.ID+" "+strconv.Itoa(st.PID))
			}
		}
		if len(pids) == want {
			out := os.Getenv(helperOutEnv)
			if err := os.WriteFile(out+".tmp", []byte(strings.Join(pids, "\n")), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := os.Rename(out+".tmp", out); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			select {} // until killed
		}
	}
	fmt.Fprintln(os.Stderr, "plugins did not all start")
	return 1
}

// TestManager_pluginsDieWithKilledHost kills a host process with SIGKILL,
// so nothing in it can clean up, and checks that its plugins die too. One
// plugin is frozen (SIGSTOP) first: its own parent watchdog cannot run, so
// only the parent-death signal can end it.
func TestManager_pluginsDieWithKilledHost(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))
	installBundle(t, dir, "version", bins.v1, versionManifest(t, "1.0.0"))
	hangDir := installBundle(t, dir, "hang", bins.hang, manifestFrom(t, "host/plugins/testdata/hang/plugin.json", nil))
	out := filepath.Join(t.TempDir(), "pids")

	// Become the subreaper of the host's orphans, so the test can reap the
	// killed plugins instead of leaving zombies to an init that may not.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Logf("cannot become a subreaper (%v): killed plugins may stay zombies", err)
	} else {
		t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	}

	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), helperDirEnv+"="+dir, helperOutEnv+"="+out, helperNEnv+"=3")
	var stderr strings.Builder
	host.Stderr = &stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	byID := map[string]int{}
	t.Cleanup(func() {
		_ = host.Process.Kill()
		_ = host.Wait()
		for _, pid := range pids {
			if !processGone(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_, _ = unix.Wait4(pid, nil, unix.WNOHANG, nil)
		}
	})
	waitFor(t, 60*time.Second, "the host to start its plugins", func() bool {
		data, err := os.ReadFile(out)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(data), "\n") {
			var id string
			var pid int
			if _, err := fmt.Sscan(line, &id, &pid); err == nil {
				pids = append(pids, pid)
				byID[id] = pid
			}
		}
		return true
	})
	if len(pids) != 3 || byID["test.hang"] == 0 {
		t.Fatalf("pids: %v; host stderr:\n%s", byID, stderr.String())
	}
	for _, pid := range pids {
		if processGone(pid) {
			t.Fatalf("plugin %d not running before the host is killed", pid)
		}
	}
	if err := os.WriteFile(filepath.Join(hangDir, "hang.flag"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the hang plugin to stop itself", func() bool { return processState(byID["test.hang"]) == 'T' })
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !reaped(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("plugin %d still alive 5s after its host was killed", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// processState is the state letter of /proc/<pid>/stat (R, S, T, Z…).
func processState(pid int) byte {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

// reaped reports whether pid is gone, reaping it when it is a zombie child
// of this process.
func reaped(pid int) bool {
	var ws unix.WaitStatus
	if wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); wpid == pid || errors.Is(err, unix.ECHILD) && processGone(pid) {
		return true
	}
	return false
}
