package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	dashfiles "github.com/puod/puod/dashboards"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk/schema"
)

// ProvisionConfig says where dashboards-as-code come from besides the
// embedded dashboards/*.json.
type ProvisionConfig struct {
	// Dir is an optional folder of *.json dashboard documents an operator
	// maintains (PUOD_DASHBOARDS_DIR). A file there with the slug of an
	// embedded dashboard replaces it, so the defaults can be tailored
	// without a rebuild. A bad file is logged with its path and problem
	// and skipped: one typo must not keep the host from starting.
	Dir string
}

// provisionedDoc is a document ready to store.
type provisionedDoc struct {
	origin string // file name or path, for logs
	slug   string
	title  string
	spec   []byte
}

// Provisioner installs dashboards-as-code into profiles as read-only,
// provisioned dashboards. The files are read and checked once, when it is
// built (at host start).
type Provisioner struct {
	log hclog.Logger
	db  *store.DB
	pub Publisher
	rec *audit.Recorder

	docs []provisionedDoc
	// keep are slugs of files that could not be read: their dashboards
	// stay as they are rather than being removed as if the file were gone.
	keep map[string]bool
	// complete is false when the folder could not be listed: then nothing
	// is removed, since the files present are not known.
	complete bool
}

var compiledSchema = sync.OnceValues(func() (*schema.Schema, error) {
	return schema.Compile(dashfiles.Schema())
})

// DocumentSchema returns the compiled JSON Schema of a dashboard document.
func DocumentSchema() (*schema.Schema, error) { return compiledSchema() }

// ParseDocument checks a dashboards-as-code file against the schema and
// the rules the schema cannot state (unique card ids, x + w ≤ 12, time
// ranges that parse), and returns it normalised.
func ParseDocument(data []byte) (Document, error) {
	sch, err := compiledSchema()
	if err != nil {
		return Document{}, fmt.Errorf("dashboard schema: %w", err)
	}
	if probs := sch.ValidateJSON(data); len(probs) > 0 {
		ve := &ValidationError{}
		for _, p := range probs {
			ve.Fields = append(ve.Fields, fieldProblem(p))
		}
		return Document{}, ve
	}
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Document{}, fmt.Errorf("decode dashboard document: %w", err)
	}
	in := doc.Input()
	if probs := in.Normalize(time.Now(), true); len(probs) > 0 {
		return Document{}, &ValidationError{Fields: probs}
	}
	return Document{Schema: doc.Schema, Slug: in.Slug, Title: in.Title, Description: in.Description, TimeRange: in.TimeRange,
		RefreshSeconds: in.RefreshSeconds, Cards: in.Cards}, nil
}

// NewProvisioner reads the embedded dashboards and those of cfg.Dir. It
// fails only when the embedded schema itself is broken; bad files are
// logged and skipped.
func NewProvisioner(cfg ProvisionConfig, log hclog.Logger, db *store.DB, pub Publisher, rec *audit.Recorder) (*Provisioner, error) {
	if db == nil {
		return nil, errors.New("dashboards: no store")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if _, err := compiledSchema(); err != nil {
		return nil, fmt.Errorf("dashboards: embedded schema: %w", err)
	}
	p := &Provisioner{log: log.Named("dashboards"), db: db, pub: pub, rec: rec, keep: map[string]bool{}, complete: true}
	bySlug := map[string]int{}
	add := func(origin string, data []byte, fromDir bool) {
		doc, err := ParseDocument(data)
		if err != nil {
			p.log.Error("skipping dashboard file: fix it and restart to provision it", "file", origin, "problem", err)
			if slug := slugOf(data); slug != "" {
				p.keep[slug] = true
			}
			return
		}
		if doc.Slug == "" {
			doc.Slug = Slugify(doc.Title)
		}
		sp, err := specOf(doc.Input())
		if err != nil {
			p.log.Error("skipping dashboard file", "file", origin, "problem", err)
			return
		}
		d := provisionedDoc{origin: origin, slug: doc.Slug, title: doc.Title, spec: sp}
		if i, dup := bySlug[doc.Slug]; dup {
			if fromDir && strings.HasPrefix(p.docs[i].origin, "embedded:") {
				p.log.Info("dashboard file replaces the built-in dashboard with its slug", "file", origin, "slug", doc.Slug)
				p.docs[i] = d
				return
			}
			p.log.Error("skipping dashboard file: another file has its slug", "file", origin, "slug", doc.Slug, "other", p.docs[i].origin)
			return
		}
		bySlug[doc.Slug] = len(p.docs)
		p.docs = append(p.docs, d)
	}
	for _, f := range dashfiles.Files() {
		add("embedded:"+f.Name, f.Data, false)
	}
	if cfg.Dir != "" {
		entries, err := os.ReadDir(cfg.Dir)
		if err != nil {
			p.complete = false
			p.log.Error("cannot read the dashboards folder; its dashboards are left as they are", "dir", cfg.Dir, "error", err)
		}
		for _, e := range entries {
			if e.IsDir() || !dashfiles.IsDocumentName(e.Name()) {
				continue
			}
			path := filepath.Join(cfg.Dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				p.complete = false
				p.log.Error("skipping dashboard file", "file", path, "problem", err)
				continue
			}
			add(path, data, true)
		}
	}
	sort.Slice(p.docs, func(i, j int) bool { return p.docs[i].slug < p.docs[j].slug })
	return p, nil
}

// Slugs lists the slugs of the dashboards the provisioner installs.
func (p *Provisioner) Slugs() []string {
	out := make([]string, len(p.docs))
	for i, d := range p.docs {
		out[i] = d.slug
	}
	return out
}

// ProvisionAll provisions every profile. A profile that fails is logged
// and the others still provisioned; the errors are returned together.
func (p *Provisioner) ProvisionAll(ctx context.Context) error {
	var errs []error
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		profs, next, err := p.db.System().Profiles().List(ctx, page)
		if err != nil {
			return fmt.Errorf("provision dashboards: list profiles: %w", err)
		}
		for _, prof := range profs {
			if err := p.ProvisionProfile(ctx, prof.ID); err != nil {
				p.log.Error("could not provision the dashboards of a profile", "profile", prof.ID, "error", err)
				errs = append(errs, err)
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		page.Cursor = next
	}
}

// systemPrincipal is who provisioning acts as in a profile.
func systemPrincipal(ctx context.Context, profileID string) context.Context {
	return identity.With(ctx, identity.Principal{UserID: "system", Username: "puod-provisioning", ProfileID: profileID,
		Role: identity.RoleAdmin, Via: "system"})
}

// ProvisionProfile brings the provisioned dashboards of one profile in
// line with the files: missing ones are created, changed ones updated (at
// the next version), those whose file is gone removed. Dashboards of users
// are never touched, even one whose slug a file uses (that file's
// dashboard is then not installed in the profile, and a warning says so).
// It is idempotent, and safe when several replicas run it at once. Call it
// when a profile is created.
func (p *Provisioner) ProvisionProfile(ctx context.Context, profileID string) error {
	ctx = systemPrincipal(ctx, profileID)
	repo := p.db.Dashboards()
	rows, err := repo.List(ctx)
	if err != nil {
		return fmt.Errorf("provision dashboards of profile %s: %w", profileID, err)
	}
	bySlug := make(map[string]store.Dashboard, len(rows))
	for _, r := range rows {
		bySlug[r.Slug] = r
	}
	var errs []error
	wanted := make(map[string]bool, len(p.docs))
	for _, d := range p.docs {
		wanted[d.slug] = true
		in := store.DashboardInput{Slug: d.slug, Title: d.title, Spec: d.spec, ReadOnly: true, Provisioned: true}
		cur, exists := bySlug[d.slug]
		switch {
		case !exists:
			row, err := repo.Create(ctx, in)
			if errors.Is(err, store.ErrConflict) {
				continue // another replica provisioned it a moment ago
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("create %s: %w", d.slug, err))
				continue
			}
			p.changed(ctx, row, "created", d.origin)
		case !cur.Provisioned:
			p.log.Warn("a user's dashboard has the slug of a provisioned one; it is kept and the file's dashboard is not installed in this profile",
				"profile", profileID, "slug", d.slug, "file", d.origin)
		case cur.Title != d.title || !bytes.Equal(cur.Spec, d.spec) || !cur.ReadOnly:
			row, err := repo.Update(ctx, cur.ID, cur.Version, in)
			if errors.Is(err, store.ErrConflict) {
				continue // updated meanwhile by another replica
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("update %s: %w", d.slug, err))
				continue
			}
			p.changed(ctx, row, "updated", d.origin)
		}
	}
	if p.complete {
		for _, r := range rows {
			if !r.Provisioned || wanted[r.Slug] || p.keep[r.Slug] {
				continue
			}
			err := repo.Delete(ctx, r.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", r.Slug, err))
				continue
			}
			publish(ctx, p.log, p.pub, r.ID, r.Version, true)
			p.audit(ctx, r, "removed", "")
			p.log.Info("removed a provisioned dashboard whose file is gone", "profile", profileID, "slug", r.Slug)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("provision dashboards of profile %s: %w", profileID, errors.Join(errs...))
	}
	return nil
}

func (p *Provisioner) changed(ctx context.Context, row store.Dashboard, what, origin string) {
	publish(ctx, p.log, p.pub, row.ID, row.Version, false)
	p.audit(ctx, row, what, origin)
	p.log.Debug("provisioned dashboard", "profile", row.ProfileID, "slug", row.Slug, "version", row.Version, "change", what)
}

func (p *Provisioner) audit(ctx context.Context, row store.Dashboard, what, origin string) {
	if p.rec == nil {
		return
	}
	det := map[string]any{"slug": row.Slug, "title": row.Title, "version": row.Version, "change": what}
	if origin != "" {
		det["file"] = origin
	}
	p.rec.RecordCtx(ctx, "", audit.Event{Action: ActionProvision, ObjectType: "dashboard", ObjectID: row.ID, Details: det})
}

// slugOf reads the slug of a document that failed validation, if it has
// one that looks right.
func slugOf(data []byte) string {
	var v struct {
		Slug string `json:"slug"`
	}
	if json.Unmarshal(data, &v) != nil || slugProblem(v.Slug) != "" {
		return ""
	}
	return v.Slug
}

func fieldProblem(p schema.Problem) api.FieldProblem {
	return api.FieldProblem{Field: p.Pointer, Message: p.Message}
}
