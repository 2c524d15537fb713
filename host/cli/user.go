package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/auth"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

func init() { extraCommands = append(extraCommands, userCmd) }

func userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage local user accounts"}
	cmd.AddCommand(userAddCmd(), userPasswdCmd())
	return cmd
}

func userAddCmd() *cobra.Command {
	var (
		g           globalFlags
		role        string
		profile     string
		displayName string
		fromStdin   bool
	)
	c := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Create a local user and add it to a profile",
		Long: "Creates USERNAME with a password (asked twice on a terminal, or read from standard input\n" +
			"with --password-stdin) and gives it --role in --profile, which must exist.",
		Example: "  puod user add alice --role editor\n  echo \"$PASSWORD\" | puod user add ci-bot --profile sales --password-stdin",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := identity.ParseRole(role)
			if err != nil {
				return err
			}
			password, err := readNewPassword(cmd, args[0], fromStdin)
			if err != nil {
				return err
			}
			return withStore(cmd, &g, func(ctx context.Context, db *store.DB, log hclog.Logger) error {
				u, prof, err := auth.AddUser(ctx, db, auth.NewUserSpec{Username: args[0], Password: password,
					DisplayName: displayName, Profile: profile, Role: r})
				if err != nil {
					return err
				}
				audit.New(db, log).RecordCtx(ctx, "", audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID,
					ProfileID: prof.ID, Username: cliActor(), Details: map[string]any{"username": u.Username, "role": r, "via": "cli"}})
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "created user %q (%s of profile %q)\n", u.Username, r, prof.Name)
				return err
			})
		},
	}
	g.register(c)
	f := c.Flags()
	f.StringVar(&role, "role", string(identity.RoleViewer), "role in the profile: viewer, editor or admin")
	f.StringVar(&profile, "profile", store.DefaultProfileName, "profile name or id to add the user to")
	f.StringVar(&displayName, "display-name", "", "name shown in the UI")
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return c
}

func userPasswdCmd() *cobra.Command {
	var (
		g         globalFlags
		fromStdin bool
	)
	c := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Set a local user's password and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := readNewPassword(cmd, args[0], fromStdin)
			if err != nil {
				return err
			}
			return withStore(cmd, &g, func(ctx context.Context, db *store.DB, log hclog.Logger) error {
				u, err := auth.SetUserPassword(ctx, db, args[0], password)
				if err != nil {
					return err
				}
				// Recorded in each profile of the user, where its admins look.
				ms, err := db.System().Memberships().ForUser(ctx, u.ID)
				if err != nil {
					return err
				}
				rec := audit.New(db, log)
				ev := audit.Event{Action: "user.password", ObjectType: "user", ObjectID: u.ID, Username: cliActor(),
					Details: map[string]any{"username": u.Username, "via": "cli"}}
				rec.RecordCtx(ctx, "", ev)
				for _, m := range ms {
					ev.ProfileID = m.ProfileID
					rec.RecordCtx(ctx, "", ev)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "password of %q changed; their sessions were ended\n", u.Username)
				return err
			})
		},
	}
	g.register(c)
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return c
}

// withStore loads the configuration, opens and migrates the database, and
// runs fn.
func withStore(cmd *cobra.Command, g *globalFlags, fn func(ctx context.Context, db *store.DB, log hclog.Logger) error) error {
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
	return fn(ctx, db, log)
}

// readNewPassword asks twice without echo on a terminal; otherwise (or with
// --password-stdin) it reads the first line of standard input, so scripts
// can pipe a password without it appearing in the process list.
func readNewPassword(cmd *cobra.Command, username string, fromStdin bool) (string, error) {
	in := cmd.InOrStdin()
	f, isFile := in.(*os.File)
	if !fromStdin && isFile && term.IsTerminal(int(f.Fd())) {
		errOut := cmd.ErrOrStderr()
		fmt.Fprintf(errOut, "New password for %s (at least %d characters): ", username, auth.MinPasswordLength)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if err := auth.CheckPasswordPolicy(string(first)); err != nil {
			return "", err
		}
		fmt.Fprint(errOut, "Repeat it: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(second) {
			return "", errors.New("the two passwords differ: nothing was changed")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password on standard input: pipe it in (echo \"$PASSWORD\" | puod user …) or run from a terminal")
	}
	return password, auth.CheckPasswordPolicy(password)
}

// cliActor names the operator in the audit log.
func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}
