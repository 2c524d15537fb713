// Package cli is the puod command line: flag parsing and one function per
// command, each delegating to the package that owns the work.
package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/version"
)

// globalFlags are the flags every command that loads the configuration
// accepts; they override PUOD_* variables, which override the file.
type globalFlags struct {
	configFile  string
	listen      string
	dataDir     string
	pluginDir   string
	databaseURL string
}

func (g *globalFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.configFile, "config", os.Getenv("PUOD_CONFIG"), "YAML configuration file (env PUOD_CONFIG)")
	f.StringVar(&g.listen, "listen", "", "HTTP listen address (env PUOD_LISTEN, default 127.0.0.1:8080)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory (env PUOD_DATA_DIR, default ./data)")
	f.StringVar(&g.pluginDir, "plugin-dir", "", "plugin bundle directory (env PUOD_PLUGIN_DIR, default ./bin/plugins)")
	f.StringVar(&g.databaseURL, "database-url", "", "postgres:// URL; empty for SQLite in the data directory (env PUOD_DATABASE_URL)")
}

func (g *globalFlags) load() (config.Config, error) {
	cfg, err := config.Load(g.configFile, os.Environ())
	if err != nil {
		return cfg, err
	}
	if g.listen != "" {
		cfg.Listen = g.listen
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.pluginDir != "" {
		cfg.PluginDir = g.pluginDir
	}
	if g.databaseURL != "" {
		cfg.DatabaseURL = g.databaseURL
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg config.Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "puod",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogFormat == "json",
		Output:     out,
		Color:      hclog.ColorOff,
	})
}

// Execute runs the command line and returns the process exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "puod",
		Short:         "PUOD: one place to watch Databricks, Synapse and Airflow pipelines",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		serveCmd(),
		migrateCmd(),
		pluginsCmd(),
		configCmd(),
		versionCmd(),
	)
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "puod: %v\n", err)
		return 1
	}
	return 0
}

// extraCommands lets packages of this CLI add commands from their own files.
var extraCommands []func() *cobra.Command

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "puod %s (plugin protocol 1)\n", version.Version)
		},
	}
}

func configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	var g globalFlags
	print := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			out, err := cfg.Masked().YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	g.register(print)
	cmd.AddCommand(print)
	return cmd
}
