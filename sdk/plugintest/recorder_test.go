package plugintest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB whose failures are recorded instead of failing
// the test, so a test can assert that a check fails, and how. Fatal ends
// the calling goroutine with runtime.Goexit, as testing.T's FailNow does:
// run checks through record, which gives them a goroutine of their own.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) add(msg string) {
	r.mu.Lock()
	r.failures = append(r.failures, msg)
	r.mu.Unlock()
}

func (r *recorder) Helper()                           {}
func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Error(args ...any)                 { r.add(fmt.Sprint(args...)) }
func (r *recorder) Fail()                             { r.add("Fail called") }

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.add(fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recorder) FailNow() {
	r.add("FailNow called")
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}

// record runs fn against a recorder in its own goroutine, waits for it
// (also when it stops through Fatal) and returns the failures it recorded.
func record(t *testing.T, fn func(t testing.TB)) []string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures
}

// wantFailure fails t unless one of failures contains every part.
func wantFailure(t *testing.T, failures []string, parts ...string) {
	t.Helper()
next:
	for _, f := range failures {
		for _, p := range parts {
			if !strings.Contains(f, p) {
				continue next
			}
		}
		return
	}
	t.Errorf("want a failure containing %q; the check reported:\n%s", parts, strings.Join(failures, "\n"))
}

func TestRecorder_fatalStopsOnlyTheCheck(t *testing.T) {
	reached := false
	failures := record(t, func(t testing.TB) {
		t.Errorf("first")
		t.Fatalf("second")
		reached = true
	})
	if reached {
		t.Error("Fatalf did not stop the check")
	}
	if len(failures) != 2 || failures[0] != "first" || failures[1] != "second" {
		t.Errorf("recorded %q", failures)
	}
}
