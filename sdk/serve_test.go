package sdk_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

// buildTinyPlugin builds testdata/tinyplugin into dir.
func buildTinyPlugin(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(dir, "tinyplugin")
	cmd := exec.Command(goTool, "build", "-o", bin, "./testdata/tinyplugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/tinyplugin: %v\n%s", err, out)
	}
	return bin
}

// env is the test's environment without the magic cookie, plus extra.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, sdk.Handshake.MagicCookieKey+"=") && !strings.HasPrefix(kv, "TINYPLUGIN_") && !strings.HasPrefix(kv, "PLUGIN_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

var cookie = sdk.Handshake.MagicCookieKey + "=" + sdk.Handshake.MagicCookieValue

// processState returns the state letter of pid from /proc ("" when the
// process no longer exists) and its command name.
func processState(pid int) (state, comm string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", ""
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", ""
	}
	fields := strings.Fields(s[close+1:])
	if len(fields) == 0 {
		return "", ""
	}
	return fields[0], s[open+1 : close]
}

// running reports whether pid is a live (not zombie) tinyplugin.
func running(pid int) bool {
	state, comm := processState(pid)
	return state != "" && state != "Z" && state != "X" && comm == "tinyplugin"
}

func TestServe_asAProcess(t *testing.T) {
	bin := buildTinyPlugin(t, t.TempDir())

	t.Run("without the magic cookie it explains and exits 1", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = env()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit = %v, want status 1; output:\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("This binary is a PUOD plugin")) || !bytes.Contains(out, []byte("plugin directory")) {
			t.Errorf("output does not explain what the binary is:\n%s", out)
		}
	})

	t.Run("a misdeclared plugin exits 1", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = env(cookie, "TINYPLUGIN_BROKEN=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit = %v, want status 1; output:\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("embedded plugin.json is invalid")) {
			t.Errorf("output does not name the problem:\n%s", out)
		}
	})

	if runtime.GOOS != "linux" {
		t.Skip("the watchdog checks read /proc")
	}
	cases := []struct {
		name        string
		sleepBefore time.Duration // before the plugin calls Serve
		parentLives time.Duration // how long the intermediate shell lives
		aliveAt     time.Duration // the plugin must still run then (0: no check)
		served      bool          // the plugin surely served before its host died
	}{
		{"host dies after the plugin serves", 0, 700 * time.Millisecond, 450 * time.Millisecond, true},
		{"host dies while the plugin starts", 700 * time.Millisecond, 300 * time.Millisecond, 0, false},
	}
	for _, c := range cases {
		t.Run("watchdog: "+c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "plugin.out")
			// The shell starts the plugin in the background, prints its pid
			// and exits: the plugin is re-parented, as when a host is killed.
			shell := exec.Command("sh", "-c", `"$0" >"$1" 2>&1 & echo $!; sleep "$2"`, bin, out, strconv.FormatFloat(c.parentLives.Seconds(), 'f', 3, 64))
			// The socket dir keeps the socket an exiting plugin leaves out of /tmp.
			shell.Env = env(cookie, "TINYPLUGIN_SLEEP="+c.sleepBefore.String(), "PLUGIN_UNIX_SOCKET_DIR="+t.TempDir())
			stdout, err := shell.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			if err := shell.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			pid, perr := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || perr != nil || pid <= 0 {
				_ = shell.Wait()
				t.Fatalf("no plugin pid from the shell: %q, %v, %v", line, err, perr)
			}
			t.Cleanup(func() {
				if running(pid) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			output := func() string { b, _ := os.ReadFile(out); return string(b) }

			if c.aliveAt > 0 {
				time.Sleep(time.Until(started.Add(c.aliveAt)))
				if !running(pid) {
					t.Fatalf("the plugin exited while its parent was alive; output:\n%s", output())
				}
			}
			if err := shell.Wait(); err != nil {
				t.Fatalf("shell: %v", err)
			}
			gone := time.Now()
			for running(pid) {
				if time.Since(gone) > 5*time.Second {
					t.Fatalf("the plugin (pid %d) still runs 5s after its parent exited; output:\n%s", pid, output())
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("plugin exited %v after its parent", time.Since(gone).Round(time.Millisecond))
			// It left by itself because the host went away.
			o := output()
			if !strings.Contains(o, "host process went away") {
				t.Errorf("output does not show the watchdog's exit:\n%s", o)
			}
			if c.served && !strings.Contains(o, "1|1|unix|") {
				t.Errorf("output does not show the go-plugin handshake:\n%s", o)
			}
		})
	}
}
