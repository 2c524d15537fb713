package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/puod/puod/host/identity"
)

// Dashboard is a stored dashboard of a profile. The store keeps its layout
// (Spec) as opaque JSON: the dashboards package owns its shape and
// validation.
type Dashboard struct {
	ID        string
	ProfileID string
	Slug      string
	Title     string
	// Spec is the dashboard's description, time range, refresh and cards
	// as a JSON object.
	Spec json.RawMessage
	// Version increases on every change; Update uses it for optimistic
	// locking.
	Version int64
	// ReadOnly dashboards are changed only by provisioning.
	ReadOnly bool
	// Provisioned dashboards come from dashboards-as-code files.
	Provisioned bool
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DashboardInput is what a caller sets; the rest is maintained by the store.
type DashboardInput struct {
	Slug        string
	Title       string
	Spec        json.RawMessage
	ReadOnly    bool
	Provisioned bool
}

func (in *DashboardInput) validate() error {
	switch {
	case strings.TrimSpace(in.Slug) == "":
		return fmt.Errorf("%w: dashboard slug is empty", ErrInvalid)
	case strings.TrimSpace(in.Title) == "":
		return fmt.Errorf("%w: dashboard title is empty", ErrInvalid)
	}
	if len(in.Spec) == 0 {
		in.Spec = json.RawMessage(`{}`)
	}
	if !json.Valid(in.Spec) {
		return fmt.Errorf("%w: dashboard spec is not valid JSON", ErrInvalid)
	}
	return nil
}

const dashboardCols = `id, profile_id, slug, title, spec_json, version, read_only, provisioned, created_by, created_at, updated_at`

func scanDashboard(r rowScanner) (Dashboard, error) {
	var d Dashboard
	var spec string
	err := r.Scan(&d.ID, &d.ProfileID, &d.Slug, &d.Title, &spec, &d.Version, &d.ReadOnly, &d.Provisioned,
		&d.CreatedBy, timeDest{&d.CreatedAt}, timeDest{&d.UpdatedAt})
	if err != nil {
		return Dashboard{}, mapErr(err)
	}
	d.Spec = json.RawMessage(spec)
	return d, nil
}

// Dashboards is the profile-scoped dashboard repository.
type Dashboards struct{ db *DB }

// Dashboards returns the profile-scoped dashboard repository.
func (db *DB) Dashboards() *Dashboards { return &Dashboards{db: db} }

// Create adds a dashboard to the caller's profile at version 1, created by
// the caller. A slug already used in the profile is ErrConflict.
func (r *Dashboards) Create(ctx context.Context, in DashboardInput) (Dashboard, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard: %w", err)
	}
	if err := in.validate(); err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard: %w", err)
	}
	now := Now()
	d := Dashboard{
		ID: newID(), ProfileID: p.ProfileID, Slug: in.Slug, Title: in.Title, Spec: in.Spec, Version: 1,
		ReadOnly: in.ReadOnly, Provisioned: in.Provisioned, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now,
	}
	_, err = exec(ctx, r.db.x, `INSERT INTO dashboards (`+dashboardCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.ProfileID, d.Slug, d.Title, string(d.Spec), d.Version, d.ReadOnly, d.Provisioned, d.CreatedBy, d.CreatedAt, d.UpdatedAt)
	if err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard %q: %w", in.Slug, err)
	}
	return d, nil
}

// Get returns a dashboard of the caller's profile by id or, when no id
// matches, by slug.
func (r *Dashboards) Get(ctx context.Context, ref string) (Dashboard, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Dashboard{}, fmt.Errorf("get dashboard: %w", err)
	}
	d, err := getDashboard(ctx, r.db.x, p.ProfileID, ref)
	if err != nil {
		return Dashboard{}, fmt.Errorf("get dashboard %s: %w", ref, err)
	}
	return d, nil
}

func getDashboard(ctx context.Context, q sqlx.ExtContext, profileID, ref string) (Dashboard, error) {
	// An id wins over a slug that happens to spell it.
	return scanDashboard(queryRow(ctx, q, `SELECT `+dashboardCols+` FROM dashboards
		WHERE profile_id = ? AND (id = ? OR slug = ?)
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`, profileID, ref, ref, ref))
}

// List returns every dashboard of the caller's profile ordered by title
// (then slug). Profiles hold tens of dashboards, not thousands, so there is
// no paging.
func (r *Dashboards) List(ctx context.Context) ([]Dashboard, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+dashboardCols+` FROM dashboards WHERE profile_id = ? ORDER BY title, slug`, p.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	ds, err := collect(rows, scanDashboard)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	return ds, nil
}

// Update replaces a dashboard's slug, title, spec and flags if its version
// is still expectedVersion, and returns it at the next version. A dashboard
// changed meanwhile is ErrConflict (reload and retry), and so is a slug
// taken by another dashboard; an unknown one is ErrNotFound.
func (r *Dashboards) Update(ctx context.Context, id string, expectedVersion int64, in DashboardInput) (Dashboard, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Dashboard{}, fmt.Errorf("update dashboard: %w", err)
	}
	if err := in.validate(); err != nil {
		return Dashboard{}, fmt.Errorf("update dashboard %s: %w", id, err)
	}
	var out Dashboard
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		err := execOne(ctx, tx, `UPDATE dashboards SET slug = ?, title = ?, spec_json = ?, read_only = ?, provisioned = ?,
			version = version + 1, updated_at = ? WHERE profile_id = ? AND id = ? AND version = ?`,
			in.Slug, in.Title, string(in.Spec), in.ReadOnly, in.Provisioned, Now(), p.ProfileID, id, expectedVersion)
		if errors.Is(err, ErrNotFound) {
			// Zero rows: tell a stale version from a missing dashboard.
			cur, gerr := scanDashboard(queryRow(ctx, tx, `SELECT `+dashboardCols+` FROM dashboards WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
			if gerr != nil {
				return gerr
			}
			return fmt.Errorf("%w: dashboard is at version %d, not %d: reload it and retry", ErrConflict, cur.Version, expectedVersion)
		}
		if err != nil {
			return err
		}
		out, err = scanDashboard(queryRow(ctx, tx, `SELECT `+dashboardCols+` FROM dashboards WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
		return err
	})
	if err != nil {
		return Dashboard{}, fmt.Errorf("update dashboard %s: %w", id, err)
	}
	return out, nil
}

// Delete removes a dashboard of the caller's profile.
func (r *Dashboards) Delete(ctx context.Context, id string) error {
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("delete dashboard: %w", err)
	}
	if err := execOne(ctx, r.db.x, `DELETE FROM dashboards WHERE profile_id = ? AND id = ?`, p.ProfileID, id); err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	return nil
}
