package alertapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// LoadReport says what LoadRules did.
type LoadReport struct {
	// Loaded are the ids of the rules now in place from the files
	// (changed or not); Changed those that were written.
	Loaded  []string
	Changed []string
	// Removed are provisioned rules no file has any more.
	Removed []string
	// Skipped describes each file or rule that was not loaded, and why.
	Skipped []string
}

// LoadRules loads rules as code into the profile of ctx's principal: every
// *.yaml, *.yml and *.json file under dir holds a rule or a "rules:" list
// (alert.ParseYAML). Loading is a pipeline of small stages — read, parse,
// validate, store — and a bad file or rule is logged and skipped, never
// fatal: the other rules still load. Loaded rules are read-only in the API
// (edit the file) and replace their previous version when changed. A
// provisioned rule no file has any more is removed, but only when every
// file loaded cleanly, so a typo in a file never deletes its rules (and
// their alert states). rec may be nil. The error is for a folder that
// cannot be read at all; an empty dir is not an error and loads nothing.
func (s *Service) LoadRules(ctx context.Context, dir string, rec *audit.Recorder) (LoadReport, error) {
	var rep LoadReport
	if dir == "" {
		return rep, nil
	}
	if _, err := identity.Require(ctx); err != nil {
		return rep, fmt.Errorf("load alert rules: %w", err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("load alert rules from %s: %w (check that the folder exists and is readable)", dir, err)
	}
	sort.Strings(files)
	skip := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		rep.Skipped = append(rep.Skipped, msg)
		s.log.Error("alert rule not loaded; the other rules are in place", "reason", msg)
	}
	// Parse and validate everything first, so an id given twice is known
	// before anything is written: neither copy wins (which one would
	// depend on file names), the stored version stays.
	type candidate struct {
		in   store.AlertRuleInput
		file string
	}
	var cands []candidate
	files4id := map[string][]string{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			skip("%s: %v", file, err)
			continue
		}
		rules, err := alert.ParseYAML(data)
		if err != nil {
			skip("%s: %v", file, err)
			continue
		}
		for i, r := range rules {
			where := fmt.Sprintf("%s: rule %d", file, i+1)
			if r.ID != "" {
				where = fmt.Sprintf("%s: rule %q", file, r.ID)
			}
			in, err := s.compile(r)
			if err != nil {
				skip("%s: %v", where, err)
				continue
			}
			files4id[r.ID] = append(files4id[r.ID], file)
			cands = append(cands, candidate{in: in, file: file})
		}
	}
	seen := map[string]bool{}
	for _, c := range cands {
		id := c.in.ID
		seen[id] = true
		if dups := files4id[id]; len(dups) > 1 {
			skip("%s: rule %q: the id is used %d times (in %s); ids must be unique, so none of them is loaded",
				c.file, id, len(dups), strings.Join(dups, ", "))
			continue
		}
		row, changed, err := s.db.AlertRules().Provision(ctx, c.in)
		if err != nil {
			if errors.Is(err, store.ErrConflict) {
				err = fmt.Errorf("its id or name is taken by a rule made in the API in this profile: rename one of them: %w", err)
			}
			skip("%s: rule %q: %v", c.file, id, err)
			continue
		}
		rep.Loaded = append(rep.Loaded, row.ID)
		if changed {
			rep.Changed = append(rep.Changed, row.ID)
			s.publish(ctx, Changed{Kind: ChangedRule, RuleID: row.ID, Revision: row.Revision})
			if rec != nil {
				rec.RecordCtx(ctx, "", audit.Event{Action: ActionRuleProvision, ObjectType: "alert_rule", ObjectID: row.ID,
					Details: map[string]any{"name": row.Name, "kind": row.Kind, "revision": row.Revision, "file": filepath.Base(c.file)}})
			}
		}
	}
	if len(rep.Skipped) > 0 {
		return rep, nil
	}
	existing, err := s.db.AlertRules().List(ctx)
	if err != nil {
		return rep, fmt.Errorf("load alert rules: list the stored ones: %w", err)
	}
	for _, row := range existing {
		if !row.Provisioned || seen[row.ID] {
			continue
		}
		if err := s.db.AlertRules().Delete(ctx, row.ID); err != nil {
			s.log.Error("could not remove an alert rule whose file is gone", "rule", row.ID, "error", err)
			continue
		}
		rep.Removed = append(rep.Removed, row.ID)
		s.publish(ctx, Changed{Kind: ChangedRule, RuleID: row.ID, Revision: row.Revision, Deleted: true})
		if rec != nil {
			rec.RecordCtx(ctx, "", audit.Event{Action: ActionRuleDelete, ObjectType: "alert_rule", ObjectID: row.ID,
				Details: map[string]any{"name": row.Name, "reason": "no rule file has it any more"}})
		}
	}
	return rep, nil
}

// LoadRulesInto is LoadRules in profile profileID, acting as the system:
// what the host calls at start, outside any request. Rule ids are unique
// within a profile, so the same folder may load into several.
func (s *Service) LoadRulesInto(ctx context.Context, profileID, dir string, rec *audit.Recorder) (LoadReport, error) {
	ctx = identity.With(ctx, identity.Principal{UserID: "system", Username: "puod-rules-as-code", ProfileID: profileID,
		Role: identity.RoleAdmin, Via: "system"})
	return s.LoadRules(ctx, dir, rec)
}

// RulesFolder is the folder of a profile's rules as code under root
// (PUOD_RULES_DIR): the subfolder named after the profile, or after its
// id. A rule names its sinks by source id, which belongs to one profile,
// so each profile has its own folder.
func RulesFolder(root string, prof store.Profile) (string, bool) {
	if root == "" {
		return "", false
	}
	for _, name := range []string{prof.Name, prof.ID} {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			continue // not a plain folder name
		}
		dir := filepath.Join(root, name)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, true
		}
	}
	return "", false
}

// ProvisionRules loads the rules as code of every profile that has a
// folder under root (RulesFolder). A profile whose folder cannot be read
// is logged and skipped; the others load.
func (s *Service) ProvisionRules(ctx context.Context, root string) error {
	if root == "" {
		return nil
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("alert rules as code: %s is not a readable folder (PUOD_RULES_DIR): %v", root, err)
	}
	var errs []error
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		profs, next, err := s.db.System().Profiles().List(ctx, page)
		if err != nil {
			return fmt.Errorf("alert rules as code: list profiles: %w", err)
		}
		for _, prof := range profs {
			if err := s.provisionProfile(ctx, root, prof); err != nil {
				errs = append(errs, err)
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		page.Cursor = next
	}
}

// ProvisionRulesOf loads the rules as code of one profile (a new one).
func (s *Service) ProvisionRulesOf(ctx context.Context, root, profileID string) error {
	if root == "" {
		return nil
	}
	prof, err := s.db.System().Profiles().ByID(ctx, profileID)
	if err != nil {
		return fmt.Errorf("alert rules as code of profile %s: %w", profileID, err)
	}
	return s.provisionProfile(ctx, root, prof)
}

func (s *Service) provisionProfile(ctx context.Context, root string, prof store.Profile) error {
	dir, ok := RulesFolder(root, prof)
	if !ok {
		return nil
	}
	rep, err := s.LoadRulesInto(ctx, prof.ID, dir, nil)
	if err != nil {
		return fmt.Errorf("alert rules as code of profile %q: %w", prof.Name, err)
	}
	s.log.Info("alert rules as code loaded", "profile", prof.Name, "folder", dir, "loaded", len(rep.Loaded),
		"changed", len(rep.Changed), "removed", len(rep.Removed), "skipped", len(rep.Skipped))
	return nil
}
