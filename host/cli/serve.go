package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/store"
)

func serveCmd() *cobra.Command {
	var g globalFlags
	var demo bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the PUOD server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if demo {
				cfg.Demo = true
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := app.New(ctx, cfg, log, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if err := a.Listen(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "PUOD is up: open http://%s and log in as admin.\n", a.Addr())
			return a.Run(ctx)
		},
	}
	g.register(c)
	c.Flags().BoolVar(&demo, "demo", false, "start local simulators of the Databricks, Synapse and Airflow APIs and a Slack receiver, with sources pointed at them")
	return c
}

func migrateCmd() *cobra.Command {
	var g globalFlags
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (the server also does at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx := context.Background()
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			db, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir}, log)
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.Migrate(ctx)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			}
			for _, m := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %d %s\n", m.Version, m.Name)
			}
			return nil
		},
	}
	g.register(c)
	return c
}
