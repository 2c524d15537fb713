package plugintest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

// DefaultCancelBound is how long CheckCancellation lets ListRuns take to
// return once its context is cancelled: generous, since a plugin waiting
// on a slow server only has to notice ctx.
const DefaultCancelBound = 5 * time.Second

// CheckCancellation calls conn.ListRuns directly (in-process: over gRPC
// the host's side returns at once whatever the plugin does) from an empty
// cursor, accepts the first batch and cancels the context, as the host does
// when a poll is stopped. ListRuns must then return within bound (0:
// DefaultCancelBound) with an error wrapping context.Canceled, or with nil
// if it had nothing more to send; and it must stop at the first error send
// returns, like the SDK's send does once the stream is cancelled.
//
// Get conn from Harness.Instance after configuring the instance.
func CheckCancellation(t testing.TB, conn sdk.Connector, bound time.Duration) {
	t.Helper()
	if bound <= 0 {
		bound = DefaultCancelBound
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var batches, refused int
	cancelled := make(chan struct{})
	send := func(sdk.RunBatch) error {
		mu.Lock()
		defer mu.Unlock()
		batches++
		if batches == 1 {
			cancel()
			close(cancelled)
			return nil
		}
		refused++
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- conn.ListRuns(ctx, "", send)
	}()

	var err error
	select {
	case err = <-done:
		mu.Lock()
		n := batches
		mu.Unlock()
		if n == 0 {
			t.Logf("ListRuns sent no batch from an empty cursor (error: %v): cancellation is not exercised", err)
			return
		}
	case <-cancelled:
		select {
		case err = <-done:
		case <-time.After(bound):
			t.Errorf("ListRuns did not return within %s after its context was cancelled: pass ctx to every request and return as soon as ctx is done or send fails", bound)
			return
		}
	case <-time.After(defaultTimeout):
		t.Errorf("ListRuns sent no batch within %s: cancellation is not exercised", defaultTimeout)
		return
	}

	mu.Lock()
	defer mu.Unlock()
	switch {
	case refused > 1:
		t.Errorf("ListRuns called send %d more times after send returned the cancellation error: stop at the first error send returns", refused-1)
	case refused == 1 && err == nil:
		t.Errorf("ListRuns returned nil after send failed with %v: return that error, so the host knows the poll stopped early", context.Canceled)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("after cancellation ListRuns returned %v; want an error wrapping context.Canceled: return ctx.Err() or the error send returned (wrap with %%w)", err)
	}
}
