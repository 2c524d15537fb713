// Package config owns the host's settings: defaults, an optional YAML file,
// PUOD_* environment variables and command-line flags, in that order of
// increasing precedence. Every setting has a default, so `puod serve` runs
// with none.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the effective configuration.
type Config struct {
	// Listen is the HTTP address (PUOD_LISTEN).
	Listen string `yaml:"listen" env:"PUOD_LISTEN"`
	// DataDir holds the SQLite database, the generated secret key and
	// export artefacts (PUOD_DATA_DIR).
	DataDir string `yaml:"data_dir" env:"PUOD_DATA_DIR"`
	// PluginDir is watched for plugin bundles (PUOD_PLUGIN_DIR).
	PluginDir string `yaml:"plugin_dir" env:"PUOD_PLUGIN_DIR"`
	// DashboardsDir is an optional folder of dashboards-as-code (*.json),
	// provisioned into every profile at start besides the built-in ones;
	// empty means the built-in ones only (PUOD_DASHBOARDS_DIR).
	DashboardsDir string `yaml:"dashboards_dir" env:"PUOD_DASHBOARDS_DIR"`
	// RulesDir is an optional folder of alert rules as code: a subfolder
	// per profile, named after the profile (e.g. rules/default/*.yaml),
	// loaded at start and when a profile is created; the rules are
	// read-only in the API (PUOD_RULES_DIR).
	RulesDir string `yaml:"rules_dir" env:"PUOD_RULES_DIR"`
	// DatabaseURL selects PostgreSQL (postgres://...); empty means SQLite
	// in DataDir (PUOD_DATABASE_URL).
	DatabaseURL string `yaml:"database_url" env:"PUOD_DATABASE_URL" secret:"true"`
	// RedisURL enables the shared Redis cache and bus; empty means
	// in-memory (PUOD_REDIS_URL).
	RedisURL string `yaml:"redis_url" env:"PUOD_REDIS_URL" secret:"true"`
	// AdminPassword is the password of the admin user created on first
	// start; empty means a random one, printed once (PUOD_ADMIN_PASSWORD).
	AdminPassword string `yaml:"admin_password" env:"PUOD_ADMIN_PASSWORD" secret:"true"`
	// SecretKey encrypts secrets at rest; empty means a key generated into
	// DataDir (PUOD_SECRET_KEY).
	SecretKey string `yaml:"secret_key" env:"PUOD_SECRET_KEY" secret:"true"`
	// LogLevel is trace, debug, info, warn or error (PUOD_LOG_LEVEL).
	LogLevel string `yaml:"log_level" env:"PUOD_LOG_LEVEL"`
	// LogFormat is text or json (PUOD_LOG_FORMAT).
	LogFormat string `yaml:"log_format" env:"PUOD_LOG_FORMAT"`
	// Demo starts the vendor simulators and demo sources (PUOD_DEMO).
	Demo bool `yaml:"demo" env:"PUOD_DEMO"`
	// PublicURL is the address users reach PUOD at, used in links sent by
	// alerts (PUOD_PUBLIC_URL); defaults to http://<Listen>.
	PublicURL string `yaml:"public_url" env:"PUOD_PUBLIC_URL"`
	// Plugins tunes the plugin manager.
	Plugins PluginSettings `yaml:"plugins"`
	// Auth tunes authentication.
	Auth AuthSettings `yaml:"auth"`
}

// PluginSettings tunes plugin supervision.
type PluginSettings struct {
	CallTimeout    time.Duration `yaml:"call_timeout" env:"PUOD_PLUGIN_CALL_TIMEOUT"`
	HealthInterval time.Duration `yaml:"health_interval" env:"PUOD_PLUGIN_HEALTH_INTERVAL"`
	RescanInterval time.Duration `yaml:"rescan_interval" env:"PUOD_PLUGIN_RESCAN_INTERVAL"`
}

// AuthSettings tunes authentication.
type AuthSettings struct {
	// AccessTokenTTL is the lifetime of issued access tokens.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl" env:"PUOD_ACCESS_TOKEN_TTL"`
	// RefreshTokenTTL is the lifetime of refresh tokens.
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl" env:"PUOD_REFRESH_TOKEN_TTL"`
	// OIDCIssuer enables bearer tokens from an OpenID Connect provider.
	OIDCIssuer string `yaml:"oidc_issuer" env:"PUOD_OIDC_ISSUER"`
	// OIDCAudience is the expected audience (client id) of OIDC tokens.
	OIDCAudience string `yaml:"oidc_audience" env:"PUOD_OIDC_AUDIENCE"`
	// OIDCProfileClaim names the claim holding the profile name.
	OIDCProfileClaim string `yaml:"oidc_profile_claim" env:"PUOD_OIDC_PROFILE_CLAIM"`
	// OIDCRoleClaim names the claim holding the role (viewer|editor|admin).
	OIDCRoleClaim string `yaml:"oidc_role_claim" env:"PUOD_OIDC_ROLE_CLAIM"`
}

// Defaults returns the built-in defaults.
func Defaults() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		DataDir:   "./data",
		PluginDir: "./bin/plugins",
		LogLevel:  "info",
		LogFormat: "text",
		Plugins: PluginSettings{
			CallTimeout:    10 * time.Second,
			HealthInterval: 2 * time.Second,
			RescanInterval: 10 * time.Second,
		},
		Auth: AuthSettings{
			AccessTokenTTL:   15 * time.Minute,
			RefreshTokenTTL:  30 * 24 * time.Hour,
			OIDCProfileClaim: "puod_profile",
			OIDCRoleClaim:    "puod_role",
		},
	}
}

// Load builds the configuration from defaults, the YAML file at path (if
// path is not empty) and the environment. Flags are applied by the caller
// afterwards with Set.
func Load(path string, environ []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), env); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(v reflect.Value, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(fv, env); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		val, ok := env[name]
		if name == "" || !ok {
			continue
		}
		if err := setValue(fv, val); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", name, val, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, val string) error {
	switch {
	case fv.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 30s, 5m): %w", err)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("not a boolean (true/false)")
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.String:
		fv.SetString(val)
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}

// Validate checks the settings and says how to fix a wrong one.
func (c Config) Validate() error {
	var probs []string
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		probs = append(probs, fmt.Sprintf("listen %q is not host:port (e.g. 127.0.0.1:8080)", c.Listen))
	}
	if c.DataDir == "" {
		probs = append(probs, "data_dir is empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			probs = append(probs, "database_url must be a postgres:// URL, or empty for the embedded SQLite database")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			probs = append(probs, "redis_url must be a redis:// or rediss:// URL, or empty for in-memory cache and bus")
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		probs = append(probs, fmt.Sprintf("log_level %q: use trace, debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		probs = append(probs, fmt.Sprintf("log_format %q: use text or json", c.LogFormat))
	}
	if len(probs) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(probs, "; "))
	}
	return nil
}

// Masked returns a copy with every secret setting replaced by "****" (or
// for URLs, with the password part masked), for `puod config print`.
func (c Config) Masked() Config {
	out := c
	maskSecrets(reflect.ValueOf(&out).Elem())
	return out
}

func maskSecrets(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			maskSecrets(fv)
			continue
		}
		if f.Tag.Get("secret") != "true" || fv.Kind() != reflect.String || fv.String() == "" {
			continue
		}
		if u, err := url.Parse(fv.String()); err == nil && u.Scheme != "" && u.Host != "" {
			if u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), "****")
				}
			}
			fv.SetString(u.Redacted())
			continue
		}
		fv.SetString("****")
	}
}

// YAML renders the configuration as YAML.
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }
