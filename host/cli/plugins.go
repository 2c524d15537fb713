package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/puod/puod/host/scaffold"
	"github.com/puod/puod/sdk/manifest"
)

func pluginsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "Work with plugin bundles"}
	cmd.AddCommand(pluginsListCmd(), pluginsValidateCmd(), pluginsChecksumCmd(), pluginsInitCmd())
	return cmd
}

func pluginsListCmd() *cobra.Command {
	var g globalFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List the bundles in the plugin directory and whether each is valid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			entries, err := os.ReadDir(cfg.PluginDir)
			if err != nil {
				return fmt.Errorf("read plugin directory %s: %w", cfg.PluginDir, err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tVERSION\tKINDS\tSTATUS")
			var names []string
			for _, e := range entries {
				if e.IsDir() {
					names = append(names, e.Name())
				}
			}
			sort.Strings(names)
			for _, name := range names {
				b, err := manifest.Load(filepath.Join(cfg.PluginDir, name), true)
				id, ver, kinds := name, "-", "-"
				if b != nil && b.Manifest != nil {
					id, ver, kinds = b.Manifest.ID, b.Manifest.Version, strings.Join(b.Manifest.Kinds, ",")
				}
				status := "ok"
				if err != nil {
					status = "invalid: " + err.Error()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", id, ver, kinds, status)
			}
			return w.Flush()
		},
	}
	g.register(c)
	return c
}

func pluginsValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a bundle (manifest, executable, checksum) and explain every problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := manifest.Load(args[0], true)
			if err != nil {
				var probs manifest.Problems
				if errors.As(err, &probs) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d problem(s):\n", args[0], len(probs))
					for _, p := range probs {
						fmt.Fprintf(cmd.ErrOrStderr(), "  - %s\n", p)
					}
					return fmt.Errorf("bundle %s is not valid", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s %s, kinds %s, protocol %v)\n", args[0], b.Manifest.ID, b.Manifest.Version, strings.Join(b.Manifest.Kinds, ","), b.Manifest.Protocol)
			return nil
		},
	}
}

func pluginsChecksumCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checksum DIR",
		Short: "Fill in the sha256 of the bundle's executables in plugin.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := manifest.WriteChecksums(args[0])
			if err != nil {
				return err
			}
			for path, sum := range m.SHA256 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", sum, path)
			}
			return nil
		},
	}
}

func pluginsInitCmd() *cobra.Command {
	var kind, replace string
	c := &cobra.Command{
		Use:   "init ID --kind connector|alertsink|exporter [DIR]",
		Short: "Write a compilable plugin skeleton (main.go, plugin.json, a conformance test)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if len(args) == 2 {
				dir = args[1]
			}
			if err := scaffold.Write(dir, args[0], kind, scaffold.Options{Replace: replace}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s plugin %s into %s: run 'go mod tidy && go test ./...' there (skip tidy with --replace), then 'make bundle'\n", kind, args[0], dir)
			return nil
		},
	}
	c.Flags().StringVar(&kind, "kind", "connector", "plugin kind: connector, alertsink or exporter")
	c.Flags().StringVar(&replace, "replace", "", "local path of the PUOD module, for developing against an unreleased SDK")
	return c
}
