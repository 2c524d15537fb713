package bench

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssMB reads a process's resident set size from /proc.
func rssMB(tb testing.TB, pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("read RSS of %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return float64(kb) / 1024
		}
	}
	tb.Fatalf("no VmRSS for %d", pid)
	return 0
}

// children lists a process's children; any of its threads may have
// started them, so every task's list is read.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func freePort(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkIdleMemory starts `puod serve` (SQLite, one plugin) and, once it
// is idle, reports the RSS of the host and of the plugin process, next to
// the RSS of the bare go-plugin + gRPC baseline process. Targets: host ≤ 80
// MB, plugin ≤ 30 MB.
func BenchmarkIdleMemory(b *testing.B) {
	puod := filepath.Join(bins.dir, "puod")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", puod, "../host/cmd/puod")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	pluginDir := b.TempDir()
	bundle(b, pluginDir, "bench.runs")
	addr := freePort(b)
	for i := 0; i < b.N; i++ {
		host := exec.Command(puod, "serve", "--listen", addr, "--data-dir", b.TempDir(), "--plugin-dir", pluginDir)
		var logs strings.Builder
		host.Stdout, host.Stderr = &logs, &logs
		b.Cleanup(func() {
			if b.Failed() {
				b.Log(logs.String())
			}
		})
		host.Env = append(os.Environ(), "PUOD_ADMIN_PASSWORD=benchmark-password-1")
		if err := host.Start(); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		var kids []int
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if kids = children(host.Process.Pid); resp.StatusCode == 200 && len(kids) > 0 {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(kids) == 0 {
			_ = host.Process.Kill()
			b.Fatal("host did not start its plugin within 30s")
		}
		time.Sleep(3 * time.Second) // let start-up garbage be collected
		if kids = children(host.Process.Pid); len(kids) != 1 {
			_ = host.Process.Kill()
			b.Fatalf("want 1 plugin process once idle, found %v", kids)
		}
		hostRSS := rssMB(b, host.Process.Pid)
		pluginRSS := rssMB(b, kids[0])
		_ = host.Process.Signal(os.Interrupt)
		_ = host.Wait()

		c, _ := startBare(b)
		time.Sleep(3 * time.Second)
		bareRSS := 0.0
		if pid := c.ReattachConfig(); pid != nil && pid.Pid > 0 {
			bareRSS = rssMB(b, pid.Pid)
		}
		c.Kill()
		b.ReportMetric(hostRSS, "host-MB")
		b.ReportMetric(pluginRSS, "plugin-MB")
		b.ReportMetric(bareRSS, "bare-plugin-MB")
		if bareRSS > 0 {
			b.ReportMetric(pluginRSS/bareRSS, "plugin-ratio")
		}
	}
}
