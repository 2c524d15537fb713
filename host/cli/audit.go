package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/puod/puod/host/auditapi"
	"github.com/puod/puod/host/store"
)

func init() { extraCommands = append(extraCommands, auditCmd) }

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit log"}
	cmd.AddCommand(auditVerifyCmd())
	return cmd
}

func auditVerifyCmd() *cobra.Command {
	var g globalFlags
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; exits non-zero naming the first broken entry",
		Long: "Walks every entry of the audit log (all profiles) in order, recomputing each hash.\n" +
			"Prints \"audit log intact: N entries\", or fails with \"audit log broken at entry N: reason\"\n" +
			"when an entry was modified, removed or reordered.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx := cmd.Context()
			db, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir}, log)
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				return err
			}
			report, err := auditapi.Verify(ctx, db)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), report)
			return err
		},
	}
	g.register(c)
	return c
}
