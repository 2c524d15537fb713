// Package redistest gives tests a Redis: the shared one at DefaultURL
// (override with PUOD_TEST_REDIS_URL; scripts/services.sh starts it), with
// a unique key prefix per test so tests may run in parallel and clean up
// after themselves, or a private redis-server on a free port that a test
// may stop and restart to prove that its code survives an outage.
//
// When the shared Redis is not reachable the test is skipped with a loud
// message, except with CI=true, where it fails: CI must never pass by
// skipping. The same holds for a missing redis-server binary.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the shared Redis tests use.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URLEnv names the environment variable overriding DefaultURL.
const URLEnv = "PUOD_TEST_REDIS_URL"

// URL returns the shared Redis's URL after checking that it answers; it
// skips (or fails under CI=true) when it does not.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		u = DefaultURL
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("redistest: parse %s: %v", URLEnv, err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, fmt.Sprintf("Redis not reachable at %s: %v\n!!! run scripts/services.sh (or set %s)", opt.Addr, err, URLEnv))
	}
	return u
}

// Prefix returns a key prefix unique to this test ("puodtest:<random>:")
// and deletes every key under it in the shared Redis at url when the test
// ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("redistest: random: %v", err)
	}
	prefix := "puodtest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("redistest: scan %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Logf("redistest: delete %d keys under %s: %v", len(keys), prefix, err)
			}
		}
	})
	return prefix
}

// Server is a private redis-server process (no persistence) owned by one
// test, on a port that stays the same across Stop and Start.
type Server struct {
	t    testing.TB
	bin  string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartServer starts a private redis-server on a free port and stops it
// when the test ends. It skips (or fails under CI=true) when redis-server
// is not installed.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed: "+err.Error()+"\n!!! install Redis (scripts/services.sh names the package)")
	}
	s := &Server{t: t, bin: bin, port: freePort(t)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Start (re)starts the server on its port and waits until it answers PING.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir(),
		"--loglevel", "warning")
	cmd.Stdout = &prefixWriter{t: s.t}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server on %s did not answer: %v", s.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an outage, not a shutdown) and waits for
// it to exit. Data is lost, as after a crash of a Redis without
// persistence.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// freePort asks the kernel for a port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// prefixWriter sends redis-server's output to the test log.
type prefixWriter struct{ t testing.TB }

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log("redis-server: " + line)
	}
	return len(p), nil
}

func unavailable(t testing.TB, what string) {
	t.Helper()
	bar := strings.Repeat("!", 78)
	msg := fmt.Sprintf("\n%s\n!!! %s\n%s", bar, what, bar)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s\n!!! CI=true: the Redis half of the suite is required", msg)
	}
	t.Skipf("%s\n!!! SKIPPING the Redis half of this test", msg)
}

// Pause freezes the server (SIGSTOP): connections stay open and accepted
// but nothing answers, like a hung or unreachable Redis. Resume undoes it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("redistest: server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal redis-server: %v", err)
	}
}
