package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/puod/puod/sdk"
)

var sentinels = map[sdk.ErrorKind]error{
	sdk.KindConfig:        sdk.ErrConfig,
	sdk.KindAuth:          sdk.ErrAuth,
	sdk.KindDownstream:    sdk.ErrDownstream,
	sdk.KindRetryable:     sdk.ErrRetryable,
	sdk.KindPermanent:     sdk.ErrPermanent,
	sdk.KindNotFound:      sdk.ErrNotFound,
	sdk.KindUnimplemented: sdk.ErrUnimplemented,
	sdk.KindInternal:      sdk.ErrInternal,
	sdk.KindUnconfigured:  sdk.ErrUnconfigured,
}

// assertTyped checks that err is an *sdk.Error of kind (errors.Is holds for
// that kind's sentinel and no other) and returns it.
func assertTyped(t *testing.T, err error, kind sdk.ErrorKind) *sdk.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s error", kind)
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
	}
	for k, s := range sentinels {
		if got := errors.Is(err, s); got != (k == kind) {
			t.Errorf("errors.Is(%v, Err%s) = %v", err, k, got)
		}
	}
	return e
}

func TestError_crossesWireIntact(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		kind       sdk.ErrorKind
		field      string
		retryAfter time.Duration
		message    string
	}{
		{"config", sdk.ConfigError("/url", "%q is not a URL", "ht!tp"), sdk.KindConfig, "/url", 0, `"ht!tp" is not a URL`},
		{"config without field", sdk.ConfigError("", "missing"), sdk.KindConfig, "", 0, "missing"},
		{"auth", sdk.AuthError("token expired"), sdk.KindAuth, "", 0, "token expired"},
		{"retryable with delay", sdk.RetryableError(90*time.Second, "rate limited"), sdk.KindRetryable, "", 90 * time.Second, "rate limited"},
		{"retryable with sub-second delay", sdk.RetryableError(1500*time.Millisecond, "slow down"), sdk.KindRetryable, "", 1500 * time.Millisecond, "slow down"},
		{"retryable without delay", sdk.RetryableError(0, "busy"), sdk.KindRetryable, "", 0, "busy"},
		{"permanent", sdk.PermanentError("channel %s does not exist", "#x"), sdk.KindPermanent, "", 0, "channel #x does not exist"},
		{"not found", sdk.NotFoundError("job 7"), sdk.KindNotFound, "", 0, "job 7"},
		{"downstream keeps its cause", sdk.DownstreamError(io.ErrUnexpectedEOF, "page 3"), sdk.KindDownstream, "", 0, "page 3: unexpected EOF"},
		{"cause only", &sdk.Error{Kind: sdk.KindPermanent, Err: errors.New("the cause")}, sdk.KindPermanent, "", 0, "the cause"},
		{"wrapped typed error", fmt.Errorf("sync: %w", sdk.AuthError("expired")), sdk.KindAuth, "", 0, "expired"},
		{"untyped", errors.New("boom"), sdk.KindInternal, "", 0, "boom"},
		{"wrapped untyped", fmt.Errorf("list: %w", errors.New("boom")), sdk.KindInternal, "", 0, "list: boom"},
		{"foreign gRPC status", status.Error(codes.PermissionDenied, "vendor says no"), sdk.KindAuth, "", 0, "vendor says no"},
		{"foreign gRPC exhausted", status.Error(codes.ResourceExhausted, "quota"), sdk.KindRetryable, "", 0, "quota"},
	}
	var current errHolder
	s := serveKit(t, &behaviour{
		pipelines: func(context.Context, *kit) ([]sdk.Pipeline, error) { return nil, current.get() },
		runs:      func(context.Context, string, func(sdk.RunBatch) error) error { return current.get() },
		card:      func(context.Context, sdk.CardQuery) (*sdk.Frame, error) { return nil, current.get() },
		health:    func(context.Context, *kit) (sdk.Health, error) { return sdk.Health{}, current.get() },
		export: func(context.Context, sdk.ExportHeader, sdk.FrameReader, io.Writer) error {
			return current.get()
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"ListPipelines", func(ctx context.Context) error { _, err := s.ListPipelines(ctx, "i"); return err }},
		{"ListRuns", func(ctx context.Context) error {
			return s.ListRuns(ctx, "i", "", 0, func(sdk.RunBatch) error { return nil })
		}},
		{"QueryCard", func(ctx context.Context) error {
			_, err := s.QueryCard(ctx, "i", sdk.CardQuery{CardType: "runs"})
			return err
		}},
		{"CheckHealth", func(ctx context.Context) error { _, err := s.CheckHealth(ctx, "i"); return err }},
		{"Export", func(ctx context.Context) error {
			_, err := s.Export(ctx, "i", sdk.ExportHeader{Format: "csv"}, frameList(), io.Discard)
			return err
		}},
	}
	for _, c := range cases {
		for _, call := range calls {
			t.Run(c.name+"/"+call.name, func(t *testing.T) {
				current.set(c.err)
				e := assertTyped(t, call.call(ctx(t)), c.kind)
				if e.Field != c.field || e.RetryAfter != c.retryAfter || e.Message != c.message {
					t.Errorf("got field %q, retry after %v, message %q; want %q, %v, %q", e.Field, e.RetryAfter, e.Message, c.field, c.retryAfter, c.message)
				}
			})
		}
	}
}

func TestError_contextCrossesWire(t *testing.T) {
	observed := make(chan error, 1)
	var mode atomic.Value
	s := serveKit(t, &behaviour{
		pipelines: func(ctx context.Context, _ *kit) ([]sdk.Pipeline, error) {
			switch mode.Load().(string) {
			case "plugin-canceled":
				return nil, fmt.Errorf("gave up: %w", context.Canceled)
			case "plugin-deadline":
				return nil, fmt.Errorf("vendor call: %w", context.DeadlineExceeded)
			}
			<-ctx.Done() // host cancels or times out
			observed <- ctx.Err()
			return nil, ctx.Err()
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	bounded := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Second)
	}
	cases := []struct {
		name         string
		mode         string // what the plugin does
		ctx          func() (context.Context, context.CancelFunc)
		want         error
		pluginSawEnd bool
	}{
		{"plugin returns Canceled", "plugin-canceled", bounded, context.Canceled, false},
		{"plugin returns DeadlineExceeded", "plugin-deadline", bounded, context.DeadlineExceeded, false},
		{"host cancels", "block", func() (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return c, cancel
		}, context.Canceled, true},
		{"host deadline", "block", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mode.Store(c.mode)
			cctx, cancel := c.ctx()
			defer cancel()
			_, err := s.ListPipelines(cctx, "i")
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v does not wrap %v", err, c.want)
			}
			if errors.Is(err, sdk.ErrInternal) || errors.Is(err, sdk.ErrRetryable) {
				t.Errorf("a context error must not look like a plugin failure: %v", err)
			}
			if c.pluginSawEnd {
				select {
				case perr := <-observed:
					if perr == nil {
						t.Error("the plugin's context ended without an error")
					}
				case <-time.After(5 * time.Second):
					t.Error("the plugin's context was not cancelled when the host's was")
				}
			}
		})
	}
}

func TestRedaction_removesEverySecretValue(t *testing.T) {
	const (
		secretA   = "alpha-secret-value-1"
		secretB   = "bravo-secret-value-2"
		secretNew = "charlie-secret-value-3"
	)
	leak := "A=" + secretA + " B=" + secretB
	s := serveKit(t, &behaviour{
		pipelines: func(context.Context, *kit) ([]sdk.Pipeline, error) {
			return nil, sdk.AuthError("GET /api?token=%s refused (%s)", secretA, leak)
		},
		runs: func(context.Context, string, func(sdk.RunBatch) error) error {
			return errors.New("untyped: " + leak)
		},
		card: func(context.Context, sdk.CardQuery) (*sdk.Frame, error) {
			return nil, status.Error(codes.PermissionDenied, "vendor gRPC refused "+leak)
		},
		notify: func(context.Context, sdk.Notification) error { return sdk.PermanentError("webhook %s", leak) },
		health: func(context.Context, *kit) (sdk.Health, error) {
			return sdk.Health{Status: sdk.HealthDegraded, Message: "slow; " + leak, Details: map[string]any{
				"url":    "https://x.example/?token=" + secretB,
				"nested": map[string]any{"list": []any{"ok", leak}},
			}}, nil
		},
	})
	s.configure(t, "a", 1, `{"name": "a"}`, map[string]string{"token": secretA})
	s.configure(t, "b", 1, `{"name": "b"}`, map[string]string{"token": secretB})

	textOf := func(v any, err error) string {
		if err != nil {
			return err.Error()
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	cases := []struct {
		name    string
		secrets []string // must not appear
		text    func(t *testing.T) string
	}{
		{"typed error, own and other instance's secret", []string{secretA, secretB}, func(t *testing.T) string {
			return textOf(s.ListPipelines(ctx(t), "a"))
		}},
		{"untyped stream error", []string{secretA, secretB}, func(t *testing.T) string {
			return textOf(nil, s.ListRuns(ctx(t), "b", "", 0, func(sdk.RunBatch) error { return nil }))
		}},
		{"foreign gRPC status", []string{secretA, secretB}, func(t *testing.T) string {
			return textOf(s.QueryCard(ctx(t), "a", sdk.CardQuery{CardType: "runs"}))
		}},
		{"notify reason", []string{secretA, secretB}, func(t *testing.T) string {
			r, err := s.Notify(ctx(t), "a", sdk.Notification{ID: "n"})
			if err != nil {
				t.Fatal(err)
			}
			return r.Reason
		}},
		{"health message", []string{secretA, secretB}, func(t *testing.T) string {
			h, err := s.CheckHealth(ctx(t), "b")
			if err != nil {
				t.Fatal(err)
			}
			return h.Message
		}},
		{"health details", []string{secretA, secretB}, func(t *testing.T) string {
			h, err := s.CheckHealth(ctx(t), "b")
			if err != nil {
				t.Fatal(err)
			}
			if h.Details["url"] != "https://x.example/?token=[REDACTED]" {
				t.Errorf("details url = %v", h.Details["url"])
			}
			return textOf(h.Details, nil)
		}},
		{"field errors of ValidateConfig", []string{secretNew}, func(t *testing.T) string {
			fes, err := s.ValidateConfig(ctx(t), json.RawMessage(`{"name": "`+secretNew+`", "mode": "invalid-fields"}`), map[string]string{"token": secretNew})
			if err != nil {
				t.Fatal(err)
			}
			if len(fes) != 2 {
				t.Fatalf("field errors = %v, want 2", fes)
			}
			return textOf(fes, nil)
		}},
		{"Configure error with the new secret", []string{secretNew}, func(t *testing.T) string {
			return textOf(nil, s.Configure(ctx(t), sdk.InstanceConfig{ID: "c", Revision: 1, Config: json.RawMessage(`{"name": "c", "mode": "new-fails"}`), Secrets: map[string]string{"token": secretNew}}))
		}},
		{"Configure panic with the new secret", []string{secretNew}, func(t *testing.T) string {
			return textOf(nil, s.Configure(ctx(t), sdk.InstanceConfig{ID: "c", Revision: 1, Config: json.RawMessage(`{"name": "c", "mode": "new-panics"}`), Secrets: map[string]string{"token": secretNew}}))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := c.text(t)
			for _, secret := range c.secrets {
				if strings.Contains(text, secret) {
					t.Errorf("secret %q leaked: %s", secret, text)
				}
			}
			if !strings.Contains(text, "[REDACTED]") {
				t.Errorf("no [REDACTED] marker in %s", text)
			}
		})
	}
}

func TestPanic_answersInternalAndKeepsServing(t *testing.T) {
	var armed atomic.Bool
	boom := func(what string) {
		if armed.Load() {
			panic(what + " exploded")
		}
	}
	s := serveKit(t, &behaviour{
		pipelines: func(_ context.Context, k *kit) ([]sdk.Pipeline, error) {
			boom("pipelines")
			return []sdk.Pipeline{{ExternalID: "p", Name: k.cfg.Name}}, nil
		},
		runs: func(_ context.Context, _ string, send func(sdk.RunBatch) error) error {
			boom("runs")
			return send(sdk.RunBatch{NextCursor: "c"})
		},
		card: func(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
			boom("card")
			return sdk.NewFrame(q.CardType, sdk.FrameTable), nil
		},
		notify: func(context.Context, sdk.Notification) error { boom("notify"); return nil },
		health: func(context.Context, *kit) (sdk.Health, error) {
			boom("health")
			return sdk.Health{Status: sdk.HealthOK}, nil
		},
		export: func(_ context.Context, _ sdk.ExportHeader, _ sdk.FrameReader, w io.Writer) error {
			boom("export")
			_, err := w.Write([]byte("ok"))
			return err
		},
	})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	cases := []struct {
		method string // named in the error
		panic  string // the panic value, also in the error
		call   func(ctx context.Context, armed bool) error
	}{
		{"ListPipelines", "pipelines exploded", func(ctx context.Context, _ bool) error { _, err := s.ListPipelines(ctx, "i"); return err }},
		{"ListRuns", "runs exploded", func(ctx context.Context, _ bool) error {
			return s.ListRuns(ctx, "i", "", 0, func(sdk.RunBatch) error { return nil })
		}},
		{"QueryCard", "card exploded", func(ctx context.Context, _ bool) error {
			_, err := s.QueryCard(ctx, "i", sdk.CardQuery{CardType: "runs"})
			return err
		}},
		{"Notify", "notify exploded", func(ctx context.Context, _ bool) error {
			r, err := s.Notify(ctx, "i", sdk.Notification{ID: "n"})
			if err == nil && r.Outcome != sdk.Delivered {
				return fmt.Errorf("outcome %s", r.Outcome)
			}
			return err
		}},
		{"CheckHealth", "health exploded", func(ctx context.Context, _ bool) error { _, err := s.CheckHealth(ctx, "i"); return err }},
		{"Export", "export exploded", func(ctx context.Context, _ bool) error {
			_, err := s.Export(ctx, "i", sdk.ExportHeader{Format: "csv"}, frameList(), io.Discard)
			return err
		}},
		{"Configure", "New exploded", func(ctx context.Context, armed bool) error {
			mode := ""
			if armed {
				mode = "new-panics"
			}
			return s.Configure(ctx, sdk.InstanceConfig{ID: "other", Revision: time.Now().UnixNano(), Config: json.RawMessage(`{"name": "x", "mode": "` + mode + `"}`)})
		}},
		{"ValidateConfig", "validate exploded", func(ctx context.Context, armed bool) error {
			mode := ""
			if armed {
				mode = "validate-panics"
			}
			fes, err := s.ValidateConfig(ctx, json.RawMessage(`{"name": "x", "mode": "`+mode+`"}`), nil)
			if err == nil && len(fes) > 0 {
				return fmt.Errorf("field errors %v", fes)
			}
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			armed.Store(true)
			err := c.call(ctx(t), true)
			armed.Store(false)
			e := assertTyped(t, err, sdk.KindInternal)
			if !strings.Contains(e.Message, "panicked in") || !strings.Contains(e.Message, c.method) || !strings.Contains(e.Message, c.panic) {
				t.Errorf("message %q does not name the panic in %s (%s)", e.Message, c.method, c.panic)
			}
			// The process survived: the same call and another one answer.
			if err := c.call(ctx(t), false); err != nil {
				t.Errorf("%s after the panic: %v", c.method, err)
			}
			if name := s.pipelineName(t, "i"); name != "n" {
				t.Errorf("instance lost after the panic: pipeline %q", name)
			}
		})
	}
}

// errHolder holds the error the plugin returns next.
type errHolder struct{ p atomic.Pointer[error] }

func (h *errHolder) set(err error) { h.p.Store(&err) }
func (h *errHolder) get() error    { return *h.p.Load() }

// frameList is a FrameReader over fixed frames.
type frameSlice struct{ frames []*sdk.Frame }

func frameList(frames ...*sdk.Frame) *frameSlice { return &frameSlice{frames: frames} }

func (f *frameSlice) Next() (*sdk.Frame, error) {
	if len(f.frames) == 0 {
		return nil, io.EOF
	}
	fr := f.frames[0]
	f.frames = f.frames[1:]
	return fr, nil
}
