package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

func TestNotify_outcomeMapping(t *testing.T) {
	var current errHolder
	var received atomic.Pointer[sdk.Notification]
	s := serveKit(t, &behaviour{notify: func(_ context.Context, n sdk.Notification) error {
		received.Store(&n)
		return current.get()
	}})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	cases := []struct {
		name       string
		err        error
		outcome    sdk.NotifyOutcome
		retryAfter time.Duration
	}{
		{"delivered", nil, sdk.Delivered, 0},
		{"retryable with delay", sdk.RetryableError(42*time.Second, "429 from receiver"), sdk.Retryable, 42 * time.Second},
		{"retryable without delay", sdk.RetryableError(0, "503"), sdk.Retryable, 0},
		{"permanent", sdk.PermanentError("channel archived"), sdk.Permanent, 0},
		{"config", sdk.ConfigError("/channel", "no such channel"), sdk.Permanent, 0},
		{"auth", sdk.AuthError("token revoked"), sdk.Permanent, 0},
		{"not found", sdk.NotFoundError("room gone"), sdk.Permanent, 0},
		{"wrapped permanent", fmt.Errorf("post: %w", sdk.PermanentError("bad payload")), sdk.Permanent, 0},
		{"downstream", sdk.DownstreamError(io.ErrUnexpectedEOF, "receiver hung up"), sdk.Retryable, 0},
		{"untyped", errors.New("connection reset"), sdk.Retryable, 0},
		{"context error", context.DeadlineExceeded, sdk.Retryable, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			current.set(c.err)
			r, err := s.Notify(ctx(t), "i", sdk.Notification{ID: "n1"})
			if err != nil {
				t.Fatalf("Notify RPC failed: %v", err)
			}
			if r.Outcome != c.outcome || r.RetryAfter != c.retryAfter {
				t.Errorf("result = %+v, want outcome %s retry after %v", r, c.outcome, c.retryAfter)
			}
			wantReason := ""
			if c.err != nil {
				wantReason = c.err.Error()
			}
			if r.Reason != wantReason {
				t.Errorf("reason = %q, want %q", r.Reason, wantReason)
			}
		})
	}

	t.Run("notification arrives intact", func(t *testing.T) {
		current.set(nil)
		at := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
		n := sdk.Notification{
			ID: "n2", Status: sdk.NotificationResolved, RuleID: "r1", RuleName: "Failures", Severity: "critical",
			Title: "Pipeline failed", Summary: "3 failures", Labels: map[string]string{"team": "data"},
			Annotations: map[string]string{"runbook": "https://x.example"}, PipelineName: "etl", RunExternalID: "run-9",
			Value: "3", Threshold: "1", StartsAt: at, EndsAt: at.Add(time.Hour),
			Links:    []sdk.Link{{Title: "Run", URL: "https://x.example/run-9"}, {Title: "Rule", URL: "https://x.example/r1"}},
			GroupKey: "etl/critical",
		}
		// A group message carries its alerts whole.
		n.Alerts = []sdk.Notification{
			{ID: "a1", Status: sdk.NotificationFiring, PipelineName: "etl", Value: "7m", Threshold: "5m", StartsAt: at,
				Labels: map[string]string{"pipeline": "etl"}, Links: []sdk.Link{{Title: "Run", URL: "https://x.example/run-1"}}},
			{ID: "a2", Status: sdk.NotificationResolved, PipelineName: "load", StartsAt: at, EndsAt: at.Add(time.Minute)},
		}
		if _, err := s.Notify(ctx(t), "i", n); err != nil {
			t.Fatal(err)
		}
		if got := *received.Load(); !reflect.DeepEqual(got, n) {
			t.Errorf("plugin received\n%+v\nwant\n%+v", got, n)
		}
	})
}

// pattern is deterministic content that shows misordered or lost chunks.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// countingWriter records the size of every Write.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

func TestExport_streamsFileInChunks(t *testing.T) {
	var size atomic.Int64
	var seen atomic.Pointer[[]string]
	var header atomic.Pointer[sdk.ExportHeader]
	s := serveKit(t, &behaviour{
		export: func(_ context.Context, h sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) error {
			header.Store(&h)
			var names []string
			for {
				f, err := frames.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				names = append(names, fmt.Sprintf("%s:%d", f.Name, f.Rows()))
			}
			seen.Store(&names)
			// Odd write sizes, so chunk boundaries fall mid-write.
			data := pattern(int(size.Load()))
			for len(data) > 0 {
				n := min(len(data), 7001)
				if _, err := w.Write(data[:n]); err != nil {
					return err
				}
				data = data[n:]
			}
			return nil
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	const chunk = 64 << 10
	cases := []struct {
		name      string
		size      int
		title     string
		wantName  string
		minWrites int
	}{
		{"empty file still named", 0, "empty", "empty.csv", 1},
		{"small", 10, "", "export.csv", 1},
		{"exactly one chunk", chunk, "one", "one.csv", 1},
		{"one byte over a chunk", chunk + 1, "two", "two.csv", 2},
		{"large", 5*chunk + 12345, "monthly report", "monthly report.csv", 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			size.Store(int64(c.size))
			frames := frameList(
				sdk.NewFrame("a", sdk.FrameTable, sdk.IntField("x", 1, 2, 3)),
				sdk.NewFrame("b", sdk.FrameTable, withNulls(t, sdk.StringField("y"), "p", nil)),
			)
			var out countingWriter
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			h := sdk.ExportHeader{Format: "csv", Title: c.title, TimeRange: sdk.TimeRange{From: from, To: from.Add(24 * time.Hour)}, Parameters: map[string]string{"tz": "UTC"}, JobID: "job-1"}
			file, err := s.Export(ctx(t), "i", h, frames, &out)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if file.Name != c.wantName || file.MIMEType != "text/csv" || file.Size != int64(c.size) {
				t.Errorf("file = %+v, want name %q, text/csv, %d bytes", file, c.wantName, c.size)
			}
			if !bytes.Equal(out.Bytes(), pattern(c.size)) {
				t.Errorf("content differs (%d bytes received)", out.Len())
			}
			if len(out.writes) < c.minWrites {
				t.Errorf("%d chunks, want at least %d", len(out.writes), c.minWrites)
			}
			for i, n := range out.writes {
				if n > chunk {
					t.Errorf("chunk %d has %d bytes, over the %d-byte limit", i, n, chunk)
				}
			}
			if got := *seen.Load(); !reflect.DeepEqual(got, []string{"a:3", "b:2"}) {
				t.Errorf("exporter read frames %v", got)
			}
			got := *header.Load()
			if got.Format != "csv" || got.Title != c.title || got.JobID != "job-1" || got.Parameters["tz"] != "UTC" || !got.TimeRange.To.Equal(h.TimeRange.To) {
				t.Errorf("exporter header = %+v", got)
			}
		})
	}
}

func TestExport_failures(t *testing.T) {
	var current errHolder
	s := serveKit(t, &behaviour{
		export: func(_ context.Context, _ sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) error {
			if _, err := w.Write(pattern(100 << 10)); err != nil {
				return err
			}
			return current.get()
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	readErr := errors.New("report store unavailable")
	cases := []struct {
		name     string
		format   string
		frames   sdk.FrameReader
		pluginEr error
		kind     sdk.ErrorKind // typed error expected
		is       error         // or this error expected
	}{
		{"unknown format", "xlsx", frameList(), nil, sdk.KindNotFound, nil},
		{"exporter fails after writing", "csv", frameList(), sdk.PermanentError("disk full"), sdk.KindPermanent, nil},
		{"host frame reader fails", "csv", failingReader{readErr}, nil, "", readErr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			current.set(c.pluginEr)
			_, err := s.Export(ctx(t), "i", sdk.ExportHeader{Format: c.format}, c.frames, io.Discard)
			if c.is != nil {
				if !errors.Is(err, c.is) {
					t.Errorf("error = %v, want %v", err, c.is)
				}
				return
			}
			assertTyped(t, err, c.kind)
		})
	}
}

type failingReader struct{ err error }

func (f failingReader) Next() (*sdk.Frame, error) { return nil, f.err }
