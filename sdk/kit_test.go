package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// The tests of this package serve a small configurable plugin ("kit")
// in-process through plugintest and talk to it with the real sdk.Client, so
// every assertion crosses the gRPC boundary the host uses.

const kitManifest = `{
  "id": "test.kit", "name": "Kit", "version": "1.0.0",
  "kinds": ["connector", "alertsink", "exporter"],
  "protocol": [1], "host": ">=0.1.0", "executable": "kit",
  "cards": [{"type": "runs", "title": "Runs", "visualization": "table"}],
  "exports": [{"id": "csv", "title": "CSV", "mime_type": "text/csv", "extension": "csv"}]
}`

// kitConfig is the kit's configuration. Mode selects a behaviour of New.
type kitConfig struct {
	Name  string `json:"name" jsonschema:"required,minLength=1"`
	Runs  int    `json:"runs,omitempty" jsonschema:"minimum=0"`
	Mode  string `json:"mode,omitempty"`
	Token string `json:"token,omitempty" secret:"true"`
}

// Validate implements sdk.ConfigValidator.
func (c *kitConfig) Validate() error {
	switch c.Mode {
	case "invalid-fields":
		return sdk.FieldErrors{{Field: "/name", Message: "must not be " + c.Name}, {Field: "/runs", Message: "too many for token " + c.Token}}
	case "invalid-field":
		return sdk.ConfigError("/mode", "mode %q needs a token", c.Mode)
	case "invalid-plain":
		return fmt.Errorf("plain validation failure")
	case "validate-panics":
		panic("validate exploded")
	}
	return nil
}

// behaviour is what a test plugs into the kit's calls. A nil function
// means a harmless default.
type behaviour struct {
	newHook   func(cfg kitConfig, env sdk.Env) error
	pipelines func(ctx context.Context, k *kit) ([]sdk.Pipeline, error)
	runs      func(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error
	card      func(ctx context.Context, q sdk.CardQuery) (*sdk.Frame, error)
	notify    func(ctx context.Context, n sdk.Notification) error
	export    func(ctx context.Context, h sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) error
	health    func(ctx context.Context, k *kit) (sdk.Health, error)
	webhook   func(ctx context.Context, w sdk.Webhook) ([]sdk.Run, error)
}

// kit is one instance. It implements every capability.
type kit struct {
	cfg      kitConfig
	env      sdk.Env
	b        *behaviour
	disposed atomic.Bool
}

func (k *kit) ListPipelines(ctx context.Context) ([]sdk.Pipeline, error) {
	if k.b.pipelines != nil {
		return k.b.pipelines(ctx, k)
	}
	return []sdk.Pipeline{{ExternalID: "p", Name: k.cfg.Name}}, nil
}

func (k *kit) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	if k.b.runs != nil {
		return k.b.runs(ctx, cursor, send)
	}
	return nil
}

func (k *kit) QueryCard(ctx context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	if k.b.card != nil {
		return k.b.card(ctx, q)
	}
	return sdk.NewFrame(q.CardType, sdk.FrameTable, sdk.StringField("name", k.cfg.Name)), nil
}

func (k *kit) Notify(ctx context.Context, n sdk.Notification) error {
	if k.b.notify != nil {
		return k.b.notify(ctx, n)
	}
	return nil
}

func (k *kit) Export(ctx context.Context, h sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) error {
	if k.b.export != nil {
		return k.b.export(ctx, h, frames, w)
	}
	return nil
}

func (k *kit) CheckHealth(ctx context.Context) (sdk.Health, error) {
	if k.b.health != nil {
		return k.b.health(ctx, k)
	}
	return sdk.Health{Status: sdk.HealthOK, Message: "fine"}, nil
}

func (k *kit) HandleWebhook(ctx context.Context, w sdk.Webhook) ([]sdk.Run, error) {
	if k.b.webhook != nil {
		return k.b.webhook(ctx, w)
	}
	return nil, nil
}

func (k *kit) Dispose() { k.disposed.Store(true) }

// kitServer is a served kit plugin plus what its New function saw.
type kitServer struct {
	*sdk.Client
	h *plugintest.Harness

	mu    sync.Mutex
	built []*kit // every instance New returned, in order
	news  atomic.Int32
}

func (s *kitServer) builds() []*kit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*kit(nil), s.built...)
}

// serveKit serves a kit plugin whose instances behave as b says.
func serveKit(t *testing.T, b *behaviour) *kitServer {
	t.Helper()
	if b == nil {
		b = &behaviour{}
	}
	s := &kitServer{}
	s.h = plugintest.Start(t, sdk.Plugin[kitConfig]{
		Manifest: []byte(kitManifest),
		New: func(_ context.Context, cfg kitConfig, env sdk.Env) (any, error) {
			s.news.Add(1)
			switch cfg.Mode {
			case "new-panics":
				panic("New exploded with token " + cfg.Token)
			case "new-fails":
				return nil, sdk.AuthError("login with token %s refused", cfg.Token)
			}
			if b.newHook != nil {
				if err := b.newHook(cfg, env); err != nil {
					return nil, err
				}
			}
			k := &kit{cfg: cfg, env: env, b: b}
			s.mu.Lock()
			s.built = append(s.built, k)
			s.mu.Unlock()
			return k, nil
		},
	})
	s.Client = s.h.Client
	return s
}

// configure configures instance id at revision rev or fails the test.
func (s *kitServer) configure(t *testing.T, id string, rev int64, config string, secrets map[string]string) {
	t.Helper()
	if err := s.Configure(ctx(t), sdk.InstanceConfig{ID: id, Revision: rev, Config: json.RawMessage(config), Secrets: secrets}); err != nil {
		t.Fatalf("Configure %s rev %d: %v", id, rev, err)
	}
}

// ctx is a context bounded well below the test timeout, so a hang fails
// one test quickly instead of the whole package.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// pipelineName asks instance id for its pipelines and returns the name of
// the first one: the kit names it after its configuration.
func (s *kitServer) pipelineName(t *testing.T, id string) string {
	t.Helper()
	ps, err := s.ListPipelines(ctx(t), id)
	if err != nil {
		t.Fatalf("ListPipelines %s: %v", id, err)
	}
	if len(ps) != 1 {
		t.Fatalf("ListPipelines %s = %v", id, ps)
	}
	return ps[0].Name
}
