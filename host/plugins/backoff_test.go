package plugins

import (
	"context"
	"testing"
	"time"
)

func TestBackoffDelay_doublesCapsAndJitters(t *testing.T) {
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{0, 0, time.Second},
		{1, 0, 2 * time.Second},
		{3, 0, 8 * time.Second},
		{7, 0, 2 * time.Minute}, // 128s capped
		{60, 0, 2 * time.Minute},
		{0, 1, 1200 * time.Millisecond},
		{0, -1, 800 * time.Millisecond},
		{60, -1, 96 * time.Second},
	}
	for _, tt := range tests {
		if got := backoffDelay(tt.attempt, time.Second, 2*time.Minute, tt.jitter); got != tt.want {
			t.Errorf("backoffDelay(%d, jitter %v) = %s, want %s", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

func TestWithCallDeadline_keepsEarlierDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	ctx, c2 := withCallDeadline(parent, time.Hour)
	defer c2()
	if dl, _ := ctx.Deadline(); time.Until(dl) > time.Second {
		t.Fatalf("earlier deadline lost: %s", time.Until(dl))
	}
	ctx, c3 := withCallDeadline(t.Context(), 50*time.Millisecond)
	defer c3()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 50*time.Millisecond {
		t.Fatalf("no call deadline added: %v %s", ok, time.Until(dl))
	}
}
