package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

// InvalidConfig is a configuration the plugin must reject at validation.
type InvalidConfig struct {
	// Name labels the case in failure messages and subtest names.
	Name   string
	Config json.RawMessage
	// Secrets are merged into Config as the host does. Nil in a suite
	// means the suite's Secrets.
	Secrets map[string]string
	// Field is the JSON pointer of the field the plugin must blame, e.g.
	// "/workspace_url" ("" for the whole document).
	Field string
}

// RejectedConfig is a configuration that validates but that the plugin's
// New must refuse, e.g. credentials it recognises as revoked.
type RejectedConfig struct {
	// Name labels the case in failure messages and subtest names.
	Name    string
	Config  json.RawMessage
	Secrets map[string]string
	// Kind is the error kind Configure must fail with. Empty accepts any
	// kind but KindInternal, which means a bug.
	Kind sdk.ErrorKind
}

// Instance is a configured plugin instance seen from the host: what the
// checks of one source drive.
type Instance struct {
	Client *sdk.Client
	// Config is how the instance was configured; the contract checker
	// configures it again to simulate a plugin restart.
	Config sdk.InstanceConfig
	// MaxBatch is passed to ListRuns (0: the plugin's own batch sizes).
	MaxBatch int
	// Timeout bounds each call (0: 30 s).
	Timeout time.Duration
	// Transcript, when set, records every text the plugin returned, for
	// CheckNoSecrets.
	Transcript *Transcript
}

// ID is the instance id.
func (in *Instance) ID() string { return in.Config.ID }

func (in *Instance) context() (context.Context, context.CancelFunc) {
	d := in.Timeout
	if d <= 0 {
		d = defaultTimeout
	}
	return context.WithTimeout(context.Background(), d)
}

// Configure configures an instance and fails the test if the plugin
// refuses the configuration.
func Configure(t testing.TB, c *sdk.Client, ic sdk.InstanceConfig) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	if err := c.Configure(ctx, ic); err != nil {
		t.Fatalf("Configure(%s) with the valid configuration failed: %v", ic.ID, err)
	}
	return &Instance{Client: c, Config: ic}
}

// CheckValidConfig checks that ValidateConfig accepts a configuration.
func CheckValidConfig(t testing.TB, c *sdk.Client, config json.RawMessage, secrets map[string]string, tr *Transcript) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	fes, err := c.ValidateConfig(ctx, config, secrets)
	tr.RecordError("ValidateConfig", err)
	tr.recordFieldErrors(fes)
	if err != nil {
		t.Fatalf("ValidateConfig of the valid configuration failed: %v", err)
	}
	if len(fes) > 0 {
		t.Errorf("ValidateConfig rejects the valid configuration: %v", sdk.FieldErrors(fes))
	}
}

// CheckInvalidConfig checks that the plugin rejects ic: ValidateConfig
// reports a problem at ic.Field with a message, and Configure fails with a
// config error (errors.Is(err, sdk.ErrConfig)).
func CheckInvalidConfig(t testing.TB, c *sdk.Client, ic InvalidConfig, tr *Transcript) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	label := caseLabel(ic.Name, ic.Config)
	fes, err := c.ValidateConfig(ctx, ic.Config, ic.Secrets)
	tr.RecordError("ValidateConfig", err)
	tr.recordFieldErrors(fes)
	switch {
	case err != nil:
		t.Errorf("ValidateConfig(%s) failed with %v; it should answer field errors, not fail", label, err)
	case len(fes) == 0:
		t.Errorf("ValidateConfig accepts %s; want a problem at %q: add a constraint to the config struct's jsonschema tag or a Validate method returning sdk.ConfigError(%q, ...)", label, ic.Field, ic.Field)
	default:
		found := false
		for _, fe := range fes {
			if fe.Message == "" {
				t.Errorf("ValidateConfig(%s) reports a problem at %q without a message: say what is wrong and how to fix it", label, fe.Field)
			}
			found = found || fe.Field == ic.Field
		}
		if !found {
			t.Errorf("ValidateConfig(%s) reports %v; want a problem at field %q, so a form can show it next to the field", label, sdk.FieldErrors(fes), ic.Field)
		}
	}

	id := "invalid-config-" + shortHash(ic.Config)
	err = c.Configure(ctx, sdk.InstanceConfig{ID: id, Revision: 1, Config: ic.Config, Secrets: ic.Secrets})
	tr.RecordError("Configure", err)
	if err == nil {
		_ = c.RemoveInstance(ctx, id)
		t.Errorf("Configure accepts %s: it must refuse what ValidateConfig rejects", label)
		return
	}
	checkTyped(t, "Configure("+label+")", err)
	if !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("Configure(%s) fails with %v; want a config error (errors.Is(err, sdk.ErrConfig)): return sdk.ConfigError(field, ...)", label, err)
	}
}

// CheckRejectedConfig checks that Configure refuses rc with a typed error
// of rc.Kind.
func CheckRejectedConfig(t testing.TB, c *sdk.Client, rc RejectedConfig, tr *Transcript) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	label := caseLabel(rc.Name, rc.Config)
	id := "rejected-config-" + shortHash(rc.Config)
	err := c.Configure(ctx, sdk.InstanceConfig{ID: id, Revision: 1, Config: rc.Config, Secrets: rc.Secrets})
	tr.RecordError("Configure", err)
	if err == nil {
		_ = c.RemoveInstance(ctx, id)
		t.Errorf("Configure accepts %s; want a %s error", label, kindOrTyped(rc.Kind))
		return
	}
	e := checkTyped(t, "Configure("+label+")", err)
	switch {
	case e == nil:
	case rc.Kind != "" && e.Kind != rc.Kind:
		t.Errorf("Configure(%s) fails with kind %s (%v), want %s: return the sdk error of that kind (sdk.AuthError, sdk.ConfigError, ...)", label, e.Kind, err, rc.Kind)
	case rc.Kind == "" && e.Kind == sdk.KindInternal:
		t.Errorf("Configure(%s) fails with an internal error (%v): return a typed error (sdk.ConfigError, sdk.AuthError, ...) so the host can tell the user what to fix", label, err)
	}
}

// CheckHealth checks that the instance reports itself healthy (ok or
// degraded) and that a failing check is a typed error.
func CheckHealth(t testing.TB, in *Instance) {
	t.Helper()
	ctx, cancel := in.context()
	defer cancel()
	h, err := in.Client.CheckHealth(ctx, in.ID())
	in.Transcript.RecordError("CheckHealth", err)
	in.Transcript.Record("CheckHealth message", h.Message)
	if err != nil {
		checkTyped(t, "CheckHealth", err)
		t.Errorf("CheckHealth failed: %v: with the valid configuration the source must be reachable (point it at a test server)", err)
		return
	}
	switch h.Status {
	case sdk.HealthOK, sdk.HealthDegraded:
	default:
		t.Errorf("CheckHealth reports %s (%s): with the valid configuration the source must be reachable (point it at a test server)", h.Status, h.Message)
	}
}

// checkTyped reports an error that did not arrive as an *sdk.Error (or a
// cancellation), and returns the typed error.
func checkTyped(t testing.TB, call string, err error) *sdk.Error {
	t.Helper()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Errorf("%s failed with an untyped error %v (%T): plugins return *sdk.Error", call, err, err)
		return nil
	}
	if e.Kind == "" {
		t.Errorf("%s failed with an *sdk.Error without a Kind: %v", call, err)
	}
	return e
}

func kindOrTyped(k sdk.ErrorKind) string {
	if k == "" {
		return "typed, non-internal"
	}
	return string(k)
}

func caseLabel(name string, config json.RawMessage) string {
	if name != "" {
		return fmt.Sprintf("%q", name)
	}
	return string(config)
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}
