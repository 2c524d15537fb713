package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// Limits of a source's settings.
const (
	MaxNameLength          = 200
	MaxPollIntervalSeconds = 7 * 24 * 3600
)

// Config tunes the service.
type Config struct {
	// CallTimeout bounds each call into a plugin (validate, configure,
	// health check), so a hung plugin cannot hold an API request. Default
	// 10 s.
	CallTimeout time.Duration
	// DefaultPollInterval applies when a new source names none. Default 60 s.
	DefaultPollInterval time.Duration
}

// Service manages the sources of each profile. Every method that takes a
// context acts in the profile of the context's principal.
type Service struct {
	cfg     Config
	log     hclog.Logger
	db      *store.DB
	keys    *secrets.Keyring
	plugins Plugins
	audit   *audit.Recorder
	lists   listCache
}

// New returns the service. rec may be nil when nothing is audited (tests of
// LoadAll, tools).
func New(cfg Config, log hclog.Logger, db *store.DB, keys *secrets.Keyring, plugins Plugins, rec *audit.Recorder) (*Service, error) {
	switch {
	case db == nil:
		return nil, errors.New("sources: no store")
	case keys == nil:
		return nil, errors.New("sources: no keyring: secrets could not be encrypted")
	case plugins == nil:
		return nil, errors.New("sources: no plugin manager")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.DefaultPollInterval <= 0 {
		cfg.DefaultPollInterval = time.Minute
	}
	return &Service{cfg: cfg, log: log.Named("sources"), db: db, keys: keys, plugins: plugins, audit: rec}, nil
}

// Source is a source as the API shows it: secrets masked.
type Source struct {
	ID       string `json:"id"`
	PluginID string `json:"plugin_id"`
	Name     string `json:"name"`
	// Config holds the settings, with "********" for each secret that is set.
	Config              json.RawMessage `json:"config"`
	PollIntervalSeconds int             `json:"poll_interval_seconds"`
	Enabled             bool            `json:"enabled"`
	Revision            int64           `json:"revision"`
	Health              Health          `json:"health"`
	// SecretsError says why the stored secrets cannot be read (a key
	// missing from the keyring) and how to fix it. Empty normally.
	SecretsError string    `json:"secrets_error,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Health is the last known state of a source.
type Health struct {
	Status        string     `json:"status"`
	Message       string     `json:"message,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	// LagSeconds is how far the newest collected run activity trailed the
	// last successful poll.
	LagSeconds *int64 `json:"lag_seconds,omitempty"`
}

// Input is a source's settings as a client sends them.
type Input struct {
	// PluginID is required on create; on update it may be empty (keep) but
	// not different: secrets and settings of one plugin mean nothing to
	// another, so changing it means creating a new source.
	PluginID string
	Name     string
	// Config is the settings object, secrets included. See splitConfig for
	// how secret fields are kept, set and removed. On update, nil (or JSON
	// null) keeps the settings as they are.
	Config json.RawMessage
	// PollIntervalSeconds nil means the default (create) or unchanged
	// (update); 0 means never poll (webhooks only).
	PollIntervalSeconds *int
	// Enabled nil means true (create) or unchanged (update).
	Enabled *bool
}

// TestResult is the answer of a connection test.
type TestResult struct {
	Status    string    `json:"status"`
	Message   string    `json:"message"`
	CheckedAt time.Time `json:"checked_at"`
}

// Errors callers branch on (besides *ValidationError, the store's
// ErrNotFound, and the plugin sentinels in plugins.go).
var (
	// ErrStaleRevision: the update was based on an old revision.
	ErrStaleRevision = errors.New("stale revision")
	// ErrNameTaken: another source of the profile has the name.
	ErrNameTaken = errors.New("source name taken")
)

// PluginError is a failed call into a plugin other than "unknown" or "not
// running": the plugin answered with an error, or declared something
// unusable.
type PluginError struct {
	PluginID string
	Op       string
	Err      error
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %v", e.PluginID, e.Op, e.Err)
}
func (e *PluginError) Unwrap() error { return e.Err }

// aad binds a source's ciphertext to its row: sealed for one (profile,
// source), it does not open for another.
func aad(profileID, sourceID string) []byte {
	return []byte("puod/source-secrets/v1\x00" + profileID + "\x00" + sourceID)
}

func (s *Service) seal(profileID, sourceID string, sec map[string]string) ([]byte, string, error) {
	if len(sec) == 0 {
		return nil, "", nil
	}
	plain, err := json.Marshal(sec)
	if err != nil {
		return nil, "", fmt.Errorf("encode secrets: %w", err)
	}
	defer clear(plain)
	ct, kid, err := s.keys.Encrypt(plain, aad(profileID, sourceID))
	if err != nil {
		return nil, "", fmt.Errorf("seal secrets of source %s: %w", sourceID, err)
	}
	return ct, kid, nil
}

func (s *Service) open(src store.Source) (map[string]string, error) {
	if len(src.SecretsEnc) == 0 {
		return map[string]string{}, nil
	}
	plain, err := s.keys.Decrypt(src.SecretsEnc, src.KeyID, aad(src.ProfileID, src.ID))
	if err != nil {
		return nil, fmt.Errorf("open secrets of source %s: %w", src.ID, err)
	}
	defer clear(plain)
	out := map[string]string{}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("open secrets of source %s: stored secrets are not a JSON object", src.ID)
	}
	return out, nil
}

// view turns a stored source into its API form.
func (s *Service) view(src store.Source) Source {
	out := Source{
		ID: src.ID, PluginID: src.PluginID, Name: src.Name, PollIntervalSeconds: src.PollIntervalSeconds,
		Enabled: src.Enabled, Revision: src.Revision, CreatedAt: src.CreatedAt, UpdatedAt: src.UpdatedAt,
		Health: Health{Status: src.Health.Status, Message: src.Health.Message, LastSuccessAt: src.Health.LastSuccessAt,
			LastErrorAt: src.Health.LastErrorAt, LastError: src.Health.LastError},
	}
	if src.Health.Lag != nil {
		secs := int64(src.Health.Lag.Seconds())
		out.Health.LagSeconds = &secs
	}
	sec, err := s.open(src)
	if err != nil {
		out.SecretsError = err.Error()
	}
	out.Config = maskConfig(src.Config, sec)
	return out
}

func (s *Service) describe(pluginID string) (configSchema, error) {
	d, err := s.plugins.Describe(pluginID)
	if err != nil {
		return configSchema{}, err
	}
	return parseConfigSchema(d.ConfigSchema), nil
}

// check validates the split config against the plugin's schema, then asks
// the plugin. Problems come back as a *ValidationError.
func (s *Service) check(ctx context.Context, pluginID string, cs configSchema, cfg json.RawMessage, sec map[string]string, probs []api.FieldProblem) error {
	reportedUnknown := len(probs) > 0
	more, err := schemaProblems(cs, cfg, sec, reportedUnknown)
	if err != nil {
		return &PluginError{PluginID: pluginID, Op: "config schema", Err: err}
	}
	probs = append(probs, more...)
	if len(probs) > 0 {
		return &ValidationError{Fields: probs}
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	fes, err := s.plugins.ValidateConfig(cctx, pluginID, cfg, sec)
	if err != nil {
		return s.pluginErr(pluginID, "validate config", err, sec)
	}
	redact := redactor(sec)
	for _, fe := range fes {
		probs = append(probs, api.FieldProblem{Field: "/config" + fe.Field, Message: redact(fe.Message)})
	}
	if len(probs) > 0 {
		return &ValidationError{Fields: probs}
	}
	return nil
}

// pluginErr keeps the manager's sentinels and wraps the plugin's own
// errors, scrubbed of the secrets the call carried.
func (s *Service) pluginErr(pluginID, op string, err error, sec map[string]string) error {
	if errors.Is(err, ErrUnknownPlugin) || errors.Is(err, ErrPluginUnavailable) {
		return err
	}
	return &PluginError{PluginID: pluginID, Op: op, Err: errors.New(redactor(sec)(err.Error()))}
}

func validName(name string) (string, *api.FieldProblem) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &api.FieldProblem{Field: "/name", Message: "is required"}
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "", &api.FieldProblem{Field: "/name", Message: fmt.Sprintf("is longer than %d characters", MaxNameLength)}
	}
	return name, nil
}

func validPoll(v *int) *api.FieldProblem {
	if v != nil && (*v < 0 || *v > MaxPollIntervalSeconds) {
		return &api.FieldProblem{Field: "/poll_interval_seconds", Message: fmt.Sprintf("must be between 0 (webhooks only) and %d", MaxPollIntervalSeconds)}
	}
	return nil
}

// Create validates and stores a new source, then configures it in its
// plugin when enabled. A configuration the plugin accepts but then fails to
// build (e.g. refused credentials) is stored with an error health, so the
// user sees why; it is not refused.
func (s *Service) Create(ctx context.Context, in Input) (Source, error) {
	if _, err := identity.Require(ctx); err != nil {
		return Source{}, fmt.Errorf("create source: %w", err)
	}
	var probs []api.FieldProblem
	name, p := validName(in.Name)
	if p != nil {
		probs = append(probs, *p)
	}
	if strings.TrimSpace(in.PluginID) == "" {
		probs = append(probs, api.FieldProblem{Field: "/plugin_id", Message: "is required"})
	}
	if p := validPoll(in.PollIntervalSeconds); p != nil {
		probs = append(probs, *p)
	}
	if len(probs) > 0 {
		return Source{}, &ValidationError{Fields: probs}
	}
	cs, err := s.describe(in.PluginID)
	if err != nil {
		return Source{}, err
	}
	cfg, sec, probs := splitConfig(in.Config, cs, nil)
	if len(probs) > 0 && cfg == nil {
		return Source{}, &ValidationError{Fields: probs}
	}
	if err := s.check(ctx, in.PluginID, cs, cfg, sec, probs); err != nil {
		return Source{}, err
	}
	row := store.SourceInput{
		PluginID: in.PluginID, Name: name, Config: cfg,
		PollIntervalSeconds: int(s.cfg.DefaultPollInterval / time.Second), Enabled: true,
	}
	if in.PollIntervalSeconds != nil {
		row.PollIntervalSeconds = *in.PollIntervalSeconds
	}
	if in.Enabled != nil {
		row.Enabled = *in.Enabled
	}
	src, err := s.insert(ctx, row, sec)
	if err != nil {
		return Source{}, err
	}
	if src.Enabled {
		src, _ = s.apply(ctx, src, sec)
	}
	return s.view(src), nil
}

// insert stores a new source with its sealed secrets. The ciphertext is
// bound to the source id, which the store assigns on insert; so a source
// with secrets is inserted disabled and without them first, then updated
// with both (it starts at revision 2). If that second write fails the row is
// removed again.
func (s *Service) insert(ctx context.Context, row store.SourceInput, sec map[string]string) (store.Source, error) {
	repo := s.db.Sources()
	if len(sec) == 0 {
		src, err := repo.Create(ctx, row)
		return src, nameErr(err, row.Name)
	}
	first := row
	first.Enabled = false
	src, err := repo.Create(ctx, first)
	if err != nil {
		return store.Source{}, nameErr(err, row.Name)
	}
	row.SecretsEnc, row.KeyID, err = s.seal(src.ProfileID, src.ID, sec)
	if err == nil {
		src, err = repo.Update(ctx, src.ID, src.Revision, row)
	}
	if err != nil {
		if derr := repo.Delete(context.WithoutCancel(ctx), src.ID); derr != nil {
			s.log.Error("could not remove a half-created source", "source", src.ID, "error", derr)
		}
		return store.Source{}, fmt.Errorf("create source %q: %w", row.Name, err)
	}
	return src, nil
}

func nameErr(err error, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: a source named %q exists already in this profile: choose another name", ErrNameTaken, name)
	}
	return err
}

// apply configures an enabled source in its plugin. A failure is recorded
// as the source's health (and returned in it), not as an error: the source
// is stored, and the user fixes it from there. ok reports whether the
// plugin holds the instance now.
func (s *Service) apply(ctx context.Context, src store.Source, sec map[string]string) (_ store.Source, ok bool) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	err := s.plugins.SetInstance(cctx, src.PluginID, sdk.InstanceConfig{ID: src.ID, Revision: src.Revision, Config: src.Config, Secrets: sec})
	if err == nil {
		return src, true
	}
	if errors.Is(err, ErrPluginUnavailable) || errors.Is(err, ErrUnknownPlugin) {
		s.log.Info("source not configured now; the plugin manager configures it once its plugin runs", "source", src.ID, "plugin", src.PluginID, "reason", err)
		return src, false
	}
	msg := redactor(sec)(err.Error())
	s.log.Warn("plugin refused the source's configuration", "source", src.ID, "plugin", src.PluginID, "error", msg)
	return s.recordHealthError(ctx, src, msg), false
}

// Get returns one source of the caller's profile.
func (s *Service) Get(ctx context.Context, id string) (Source, error) {
	src, err := s.db.Sources().Get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	return s.view(src), nil
}

// List returns a page of the caller's sources, ordered by name.
func (s *Service) List(ctx context.Context, page store.Page) ([]Source, string, error) {
	srcs, next, err := s.db.Sources().List(ctx, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]Source, len(srcs))
	for i, src := range srcs {
		out[i] = s.view(src)
	}
	return out, next, nil
}

// Update replaces a source's settings if it is still at revision. Secret
// fields that are omitted or sent as the Mask keep their stored values. A
// nil Config keeps the settings (and needs no running plugin).
func (s *Service) Update(ctx context.Context, id string, revision int64, in Input) (Source, error) {
	repo := s.db.Sources()
	cur, err := repo.Get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	if cur.Revision != revision {
		return Source{}, staleErr(cur, revision)
	}
	var probs []api.FieldProblem
	name, p := validName(in.Name)
	if p != nil {
		probs = append(probs, *p)
	}
	if in.PluginID != "" && in.PluginID != cur.PluginID {
		probs = append(probs, api.FieldProblem{Field: "/plugin_id", Message: fmt.Sprintf("cannot change from %s: create a new source for plugin %s", cur.PluginID, in.PluginID)})
	}
	if p := validPoll(in.PollIntervalSeconds); p != nil {
		probs = append(probs, *p)
	}
	if len(probs) > 0 {
		return Source{}, &ValidationError{Fields: probs}
	}
	row := store.SourceInput{
		PluginID: cur.PluginID, Name: name, Config: cur.Config, SecretsEnc: cur.SecretsEnc, KeyID: cur.KeyID,
		PollIntervalSeconds: cur.PollIntervalSeconds, Enabled: cur.Enabled,
	}
	if in.PollIntervalSeconds != nil {
		row.PollIntervalSeconds = *in.PollIntervalSeconds
	}
	if in.Enabled != nil {
		row.Enabled = *in.Enabled
	}
	var sec map[string]string
	if keepsConfig(in.Config) {
		// Settings unchanged: no validation, so a source whose plugin is
		// down can still be renamed or disabled.
		if sec, err = s.open(cur); err != nil && row.Enabled {
			return Source{}, err
		}
	} else {
		cs, err := s.describe(cur.PluginID)
		if err != nil {
			return Source{}, err
		}
		stored, err := s.open(cur)
		if err != nil && !replacesSecrets(in.Config, cs) {
			// The stored values an omitted or masked field would keep
			// cannot be read. Sending every secret field again (a value or
			// null) replaces them instead.
			return Source{}, err
		}
		cfg, newSec, probs := splitConfig(in.Config, cs, stored)
		if len(probs) > 0 && cfg == nil {
			return Source{}, &ValidationError{Fields: probs}
		}
		if err := s.check(ctx, cur.PluginID, cs, cfg, newSec, probs); err != nil {
			return Source{}, err
		}
		sec, row.Config = newSec, cfg
		if row.SecretsEnc, row.KeyID, err = s.seal(cur.ProfileID, cur.ID, sec); err != nil {
			return Source{}, err
		}
	}
	src, err := repo.Update(ctx, id, revision, row)
	if errors.Is(err, store.ErrConflict) {
		// Either someone saved meanwhile, or the new name is taken.
		if now, gerr := repo.Get(ctx, id); gerr == nil && now.Revision != revision {
			return Source{}, staleErr(now, revision)
		}
		return Source{}, nameErr(err, name)
	}
	if err != nil {
		return Source{}, err
	}
	if src.Enabled {
		src, _ = s.apply(ctx, src, sec)
	} else {
		s.remove(ctx, src)
	}
	return s.view(src), nil
}

// keepsConfig reports whether an update leaves the settings as they are:
// config omitted or null.
func keepsConfig(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// replacesSecrets reports whether a config sets every secret field
// explicitly (a value or null, not the mask), so no stored value is needed.
func replacesSecrets(raw json.RawMessage, cs configSchema) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return false
	}
	for _, name := range cs.secrets {
		v, ok := obj[name]
		var str string
		if !ok || (json.Unmarshal(v, &str) == nil && str == Mask) {
			return false
		}
	}
	return true
}

func staleErr(cur store.Source, revision int64) error {
	return fmt.Errorf("%w: source %s is at revision %d, not %d: someone changed it meanwhile; reload it and apply your change again",
		ErrStaleRevision, cur.ID, cur.Revision, revision)
}

// remove disposes of a source's instance in its plugin, best effort: a
// plugin that is down has no instance to dispose of.
func (s *Service) remove(ctx context.Context, src store.Source) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	err := s.plugins.RemoveInstance(cctx, src.PluginID, src.ID)
	if err != nil && !errors.Is(err, ErrPluginUnavailable) && !errors.Is(err, ErrUnknownPlugin) {
		s.log.Warn("could not remove a source's instance from its plugin", "source", src.ID, "plugin", src.PluginID, "error", err)
	}
}

// Delete removes a source (with its pipelines and runs) and its plugin
// instance, and returns what was deleted.
func (s *Service) Delete(ctx context.Context, id string) (Source, error) {
	repo := s.db.Sources()
	cur, err := repo.Get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	if err := repo.Delete(ctx, id); err != nil {
		return Source{}, err
	}
	s.remove(ctx, cur)
	return s.view(cur), nil
}

// Test configures a source in its plugin (so the check uses the stored
// settings, even for a disabled source) and asks the plugin for its
// health. The plugin's answer, including an error it returns, is the
// result; only an unknown or stopped plugin is an error. The outcome is
// recorded as the source's health.
func (s *Service) Test(ctx context.Context, id string) (TestResult, error) {
	src, err := s.db.Sources().Get(ctx, id)
	if err != nil {
		return TestResult{}, err
	}
	sec, err := s.open(src)
	if err != nil {
		return TestResult{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	var h sdk.Health
	err = s.plugins.SetInstance(cctx, src.PluginID, sdk.InstanceConfig{ID: src.ID, Revision: src.Revision, Config: src.Config, Secrets: sec})
	if err == nil {
		h, err = s.plugins.CheckHealth(cctx, src.PluginID, src.ID)
	}
	if !src.Enabled {
		s.remove(ctx, src)
	}
	if errors.Is(err, ErrUnknownPlugin) || errors.Is(err, ErrPluginUnavailable) {
		return TestResult{}, err
	}
	redact := redactor(sec)
	res := TestResult{Status: string(h.Status), Message: redact(h.Message), CheckedAt: store.Now()}
	if err != nil {
		res.Status, res.Message = string(sdk.HealthError), redact(err.Error())
	}
	if res.Status == "" {
		res.Status = string(sdk.HealthOK)
	}
	hs := src.Health
	hs.Status, hs.Message = res.Status, res.Message
	if res.Status == string(sdk.HealthOK) {
		hs.LastSuccessAt = &res.CheckedAt
	} else {
		hs.LastErrorAt, hs.LastError = &res.CheckedAt, res.Message
	}
	if err := s.db.Sources().UpdateHealth(ctx, src.ID, hs); err != nil {
		s.log.Error("could not record source health", "source", src.ID, "error", err)
	}
	return res, nil
}

// systemPrincipal acts for the host itself in one profile, for work that
// spans profiles (start-up, key rotation).
func systemPrincipal(ctx context.Context, profileID string) context.Context {
	return identity.With(ctx, identity.Principal{ProfileID: profileID, Username: "puod", Role: identity.RoleAdmin, Via: "system"})
}

// forEach walks every source of every profile.
func (s *Service) forEach(ctx context.Context, fn func(store.Source)) error {
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		srcs, next, err := s.db.System().Sources().List(ctx, page)
		if err != nil {
			return err
		}
		for _, src := range srcs {
			fn(src)
		}
		if next == "" {
			return nil
		}
		page.Cursor = next
	}
}

// LoadAll configures every enabled source of every profile in its plugin
// (the instance id is the source id), as the host does at start. A source
// that fails is logged and gets an error health; it does not stop the
// others. It returns how many sources were configured.
func (s *Service) LoadAll(ctx context.Context) (int, error) {
	n := 0
	err := s.forEach(ctx, func(src store.Source) {
		if !src.Enabled {
			return
		}
		pctx := systemPrincipal(ctx, src.ProfileID)
		sec, err := s.open(src)
		if err != nil {
			s.log.Error("cannot configure source", "source", src.ID, "plugin", src.PluginID, "error", err)
			s.recordHealthError(pctx, src, err.Error())
			return
		}
		if _, ok := s.apply(pctx, src, sec); ok {
			n++
		}
	})
	if err != nil {
		return n, fmt.Errorf("load sources: %w", err)
	}
	return n, nil
}

// recordHealthError stores an error health for src and returns src with it.
func (s *Service) recordHealthError(ctx context.Context, src store.Source, msg string) store.Source {
	now := store.Now()
	h := src.Health
	h.Status, h.Message, h.LastErrorAt, h.LastError = store.HealthError, msg, &now, msg
	if err := s.db.Sources().UpdateHealth(ctx, src.ID, h); err != nil {
		s.log.Error("could not record source health", "source", src.ID, "error", err)
		return src
	}
	src.Health = h
	return src
}

// RotateSecrets re-encrypts, with the keyring's active key, the secrets of
// every source sealed with an older key. Run it after putting a new key
// first in PUOD_SECRET_KEY; once it reports no failures, the old keys can
// be removed. A source changed concurrently is skipped (run again).
func (s *Service) RotateSecrets(ctx context.Context) (rotated int, err error) {
	var failed []string
	err = s.forEach(ctx, func(src store.Source) {
		if len(src.SecretsEnc) == 0 || !s.keys.NeedsReencrypt(src.KeyID) {
			return
		}
		ct, kid, rerr := s.keys.Reencrypt(src.SecretsEnc, src.KeyID, aad(src.ProfileID, src.ID))
		if rerr == nil {
			_, rerr = s.db.Sources().Update(systemPrincipal(ctx, src.ProfileID), src.ID, src.Revision, store.SourceInput{
				PluginID: src.PluginID, Name: src.Name, Config: src.Config, SecretsEnc: ct, KeyID: kid,
				PollIntervalSeconds: src.PollIntervalSeconds, Enabled: src.Enabled,
			})
		}
		if rerr != nil {
			s.log.Warn("could not re-encrypt a source's secrets", "source", src.ID, "error", rerr)
			failed = append(failed, src.ID)
			return
		}
		rotated++
	})
	if err != nil {
		return rotated, fmt.Errorf("rotate secrets: %w", err)
	}
	if len(failed) > 0 {
		return rotated, fmt.Errorf("rotate secrets: %d source(s) not re-encrypted (%s): see the log, then run again", len(failed), strings.Join(failed, ", "))
	}
	return rotated, nil
}
