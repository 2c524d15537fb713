package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad_precedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "puod.yaml")
	if err := os.WriteFile(file, []byte("listen: 0.0.0.0:9000\ndata_dir: /from/file\nplugins:\n  call_timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		file     string
		env      []string
		listen   string
		dataDir  string
		callTime time.Duration
	}{
		{name: "defaults", listen: "127.0.0.1:8080", dataDir: "./data", callTime: 10 * time.Second},
		{name: "file over defaults", file: file, listen: "0.0.0.0:9000", dataDir: "/from/file", callTime: 5 * time.Second},
		{name: "env over file", file: file, env: []string{"PUOD_DATA_DIR=/from/env", "PUOD_PLUGIN_CALL_TIMEOUT=7s"}, listen: "0.0.0.0:9000", dataDir: "/from/env", callTime: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tt.listen || cfg.DataDir != tt.dataDir || cfg.Plugins.CallTimeout != tt.callTime {
				t.Fatalf("got listen=%s data_dir=%s call_timeout=%s", cfg.Listen, cfg.DataDir, cfg.Plugins.CallTimeout)
			}
		})
	}
}

func TestLoad_errorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	_ = os.WriteFile(unknown, []byte("listn: 1.2.3.4:5\n"), 0o600)
	tests := []struct {
		name string
		file string
		env  []string
		want string
	}{
		{name: "bad duration", env: []string{"PUOD_PLUGIN_CALL_TIMEOUT=soon"}, want: "PUOD_PLUGIN_CALL_TIMEOUT"},
		{name: "bad bool", env: []string{"PUOD_DEMO=maybe"}, want: "PUOD_DEMO"},
		{name: "bad listen", env: []string{"PUOD_LISTEN=8080"}, want: "listen \"8080\" is not host:port"},
		{name: "mysql url", env: []string{"PUOD_DATABASE_URL=mysql://x"}, want: "database_url must be a postgres:// URL"},
		{name: "bad redis", env: []string{"PUOD_REDIS_URL=http://x"}, want: "redis_url"},
		{name: "bad level", env: []string{"PUOD_LOG_LEVEL=loud"}, want: "log_level"},
		{name: "unknown key in file", file: unknown, want: "field listn not found"},
		{name: "missing file", file: filepath.Join(dir, "nope.yaml"), want: "read config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.file, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMasked_hidesSecrets(t *testing.T) {
	cfg := Defaults()
	cfg.DatabaseURL = "postgres://puod:hunter2-db@db:5432/puod"
	cfg.RedisURL = "redis://:hunter3-redis@cache:6379/0"
	cfg.AdminPassword = "hunter4-admin"
	cfg.SecretKey = "c2VjcmV0LWtleS1tYXRlcmlhbA=="
	out, err := cfg.Masked().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2-db", "hunter3-redis", "hunter4-admin", "c2VjcmV0LWtleS1tYXRlcmlhbA=="} {
		if strings.Contains(string(out), secret) {
			t.Fatalf("masked config shows %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"postgres://puod:", "@db:5432/puod", "cache:6379"} {
		if !strings.Contains(string(out), kept) {
			t.Fatalf("masked config lost the non-secret part %q:\n%s", kept, out)
		}
	}
	if cfg.AdminPassword != "hunter4-admin" {
		t.Fatal("Masked changed the original")
	}
}
