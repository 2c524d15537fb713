package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// Plugin declares a plugin: its manifest, its configuration type C and how
// to build an instance for one configured source.
type Plugin[C any] struct {
	// Manifest is the content of the bundle's plugin.json, usually embedded
	// with //go:embed. Describe answers from it, so the binary and its
	// bundle cannot disagree unless one of them is stale.
	Manifest []byte
	// New builds the instance of one source from its decoded, validated
	// configuration. It should not do network I/O: connection problems
	// belong in CheckHealth and in the calls themselves.
	New func(ctx context.Context, cfg C, env Env) (any, error)
	// Logger overrides the default logger (JSON to stderr, which the host
	// collects and tags with the plugin id).
	Logger hclog.Logger
}

// Env is what an instance gets from the SDK besides its configuration.
type Env struct {
	// InstanceID is the id of the source this instance serves.
	InstanceID string
	// Revision is the revision of the source's configuration.
	Revision int64
	// Logger is named after the instance; its output reaches the host log.
	Logger hclog.Logger
	// Host gives access to the host's services (state, progress). It
	// answers ErrUnimplemented when the host offers none (test harnesses).
	Host HostServices
}

// definition is a Plugin with its generic parts resolved, so the gRPC
// servers need no type parameter.
type definition struct {
	manifest     *manifest.Manifest
	configSchema json.RawMessage
	log          hclog.Logger
	// decode validates and decodes a configuration; build also constructs
	// the instance.
	validate func(configJSON []byte, secrets map[string]string) []FieldError
	build    func(ctx context.Context, env Env, configJSON []byte, secrets map[string]string) (any, error)
}

func (p Plugin[C]) definition() (*definition, error) {
	if p.New == nil {
		return nil, errors.New("sdk.Plugin.New is nil: set it to the function that builds an instance")
	}
	// The manifest is decoded, not validated against its JSON Schema: the
	// host validates the bundle before starting the process, and so do
	// `puod plugins validate` and the conformance kit. Validating it again
	// at every start would only slow every plugin's start.
	m, err := manifest.Decode(p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("the embedded plugin.json is invalid: %w", err)
	}
	var zero C
	derived, err := schema.FromStruct(&zero)
	if err != nil {
		return nil, fmt.Errorf("derive config schema: %w", err)
	}
	cfgSchema := derived
	if len(m.Config) > 0 {
		// The manifest's schema wins: the author wrote it on purpose.
		cfgSchema = m.Config
	}
	log := p.Logger
	if log == nil {
		log = hclog.New(&hclog.LoggerOptions{Name: m.ID, Output: os.Stderr, JSONFormat: true, Level: hclog.Debug})
	}
	d := &definition{manifest: m, configSchema: cfgSchema, log: log}
	// Compiled on first use (the first ValidateConfig or Configure), off the
	// start-up path.
	var compileOnce sync.Once
	var compiled *schema.Schema
	var compileErr error
	compile := func() (*schema.Schema, error) {
		compileOnce.Do(func() { compiled, compileErr = schema.Compile(cfgSchema) })
		return compiled, compileErr
	}
	decode := func(configJSON []byte, secrets map[string]string) (C, []FieldError) {
		var cfg C
		merged, err := mergeSecrets(configJSON, secrets)
		if err != nil {
			return cfg, []FieldError{{Message: err.Error()}}
		}
		sch, err := compile()
		if err != nil {
			return cfg, []FieldError{{Message: "the plugin's config schema is invalid: " + err.Error()}}
		}
		if probs := sch.ValidateJSON(merged); len(probs) > 0 {
			out := make([]FieldError, len(probs))
			for i, pr := range probs {
				out[i] = FieldError{Field: pr.Pointer, Message: pr.Message}
			}
			return cfg, out
		}
		dec := json.NewDecoder(bytes.NewReader(merged))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, []FieldError{{Message: "configuration does not fit the plugin's config type: " + err.Error()}}
		}
		if v, ok := any(&cfg).(ConfigValidator); ok {
			if err := v.Validate(); err != nil {
				return cfg, fieldErrorsOf(err)
			}
		}
		return cfg, nil
	}
	d.validate = func(configJSON []byte, secrets map[string]string) []FieldError {
		_, fe := decode(configJSON, secrets)
		return fe
	}
	d.build = func(ctx context.Context, env Env, configJSON []byte, secrets map[string]string) (any, error) {
		cfg, fe := decode(configJSON, secrets)
		if len(fe) > 0 {
			return nil, &Error{Kind: KindConfig, Field: fe[0].Field, Message: FieldErrors(fe).Error()}
		}
		inst, err := p.New(ctx, cfg, env)
		if err != nil {
			return nil, err
		}
		if err := checkCapabilities(m, inst); err != nil {
			// Refused, it will never serve: release what New acquired.
			dispose(&instance{id: env.InstanceID, value: inst}, d.log)
			return nil, err
		}
		return inst, nil
	}
	return d, nil
}

func fieldErrorsOf(err error) []FieldError {
	var fe FieldErrors
	if errors.As(err, &fe) {
		return fe
	}
	var e *Error
	if errors.As(err, &e) {
		return []FieldError{{Field: e.Field, Message: e.Message}}
	}
	return []FieldError{{Message: err.Error()}}
}

// checkCapabilities refuses an instance that lacks what its manifest
// promises, so the mistake shows at Configure time, not on the first poll.
func checkCapabilities(m *manifest.Manifest, inst any) error {
	var missing []string
	if m.HasKind(manifest.KindConnector) {
		if _, ok := inst.(Connector); !ok {
			missing = append(missing, "Connector (ListPipelines, ListRuns)")
		}
		if _, ok := inst.(CardQuerier); !ok && len(m.Cards) > 0 {
			missing = append(missing, "CardQuerier (QueryCard), since the manifest declares cards")
		}
	}
	if _, ok := inst.(AlertSink); !ok && m.HasKind(manifest.KindAlertSink) {
		missing = append(missing, "AlertSink (Notify)")
	}
	if _, ok := inst.(Exporter); !ok && m.HasKind(manifest.KindExporter) {
		missing = append(missing, "Exporter (Export)")
	}
	if len(missing) > 0 {
		return &Error{Kind: KindInternal, Message: fmt.Sprintf("instance type %T does not implement %v, which plugin.json kinds %v require", inst, missing, m.Kinds)}
	}
	return nil
}

// mergeSecrets puts the secret fields back into the configuration object.
func mergeSecrets(configJSON []byte, secrets map[string]string) ([]byte, error) {
	if len(bytes.TrimSpace(configJSON)) == 0 {
		configJSON = []byte("{}")
	}
	if len(secrets) == 0 {
		return configJSON, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(configJSON, &obj); err != nil {
		return nil, fmt.Errorf("configuration must be a JSON object: %w", err)
	}
	if obj == nil {
		obj = map[string]json.RawMessage{}
	}
	for k, v := range secrets {
		b, _ := json.Marshal(v)
		obj[k] = b
	}
	return json.Marshal(obj)
}

// ServeConfig returns the go-plugin configuration that serves p. Serve uses
// it; test harnesses (sdk/plugintest) set its Test field to serve in-process.
func (p Plugin[C]) ServeConfig() (*plugin.ServeConfig, error) {
	d, err := p.definition()
	if err != nil {
		return nil, err
	}
	srv := newServer(d)
	return &plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &GRPCPlugin{srv: srv}},
		},
		GRPCServer: srv.grpcServer,
		Logger:     d.log,
	}, nil
}

// Serve runs the plugin until the host stops it. Call it from main. It
// exits the process with status 1 when the plugin is misdeclared, and by
// itself when the host process goes away.
func Serve[C any](p Plugin[C]) {
	cfg, err := p.ServeConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "puod plugin: %v\n", err)
		os.Exit(1)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "This binary is a PUOD plugin: the PUOD host starts it. Put its bundle folder (plugin.json and this file) in the host's plugin directory.\n")
		os.Exit(1)
	}
	go watchParent(cfg.Logger)
	plugin.Serve(cfg)
}
