package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// Publisher is the part of the bus the package uses: bus.Bus satisfies it.
type Publisher interface {
	Publish(ctx context.Context, ev bus.Event) error
}

// Changed is the payload of bus.TopicDashboardChanged.
type Changed struct {
	DashboardID string `json:"dashboard_id"`
	// Version is the dashboard's version after the change (its last one
	// when Deleted).
	Version int64 `json:"version"`
	Deleted bool  `json:"deleted,omitempty"`
}

// Errors callers branch on (besides *ValidationError, *ConflictError and
// the store's ErrNotFound).
var (
	// ErrReadOnly: the dashboard is provisioned from a file; only
	// provisioning changes it.
	ErrReadOnly = errors.New("provisioned dashboards are read-only: copy it to edit")
	// ErrSlugTaken: another dashboard of the profile has the slug.
	ErrSlugTaken = errors.New("dashboard slug taken")
)

// ConflictError is an update based on an old version: Current is the
// dashboard as stored now, so a client can show what changed and merge.
type ConflictError struct {
	Expected int64
	Current  Dashboard
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("dashboard %q was changed by someone else: it is at version %d, your change is based on version %d; "+
		"reload it (the stored dashboard is in \"current\"), apply your change again and send version %d",
		e.Current.Title, e.Current.Version, e.Expected, e.Current.Version)
}

// Service manages the dashboards of each profile. Every method acts in the
// profile of the context's principal.
type Service struct {
	log hclog.Logger
	db  *store.DB
	pub Publisher
	now func() time.Time
}

// New returns the service. pub may be nil when nothing listens (tools).
func New(log hclog.Logger, db *store.DB, pub Publisher) (*Service, error) {
	if db == nil {
		return nil, errors.New("dashboards: no store")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Service{log: log.Named("dashboards"), db: db, pub: pub, now: time.Now}, nil
}

// view turns a stored dashboard into its API form.
func view(d store.Dashboard) (Dashboard, error) {
	var sp spec
	if err := json.Unmarshal(d.Spec, &sp); err != nil {
		return Dashboard{}, fmt.Errorf("dashboard %s: stored layout is not valid: %w", d.ID, err)
	}
	if sp.Cards == nil {
		sp.Cards = []Card{}
	}
	for i := range sp.Cards {
		if len(sp.Cards[i].Options) == 0 {
			sp.Cards[i].Options = json.RawMessage(`{}`)
		}
	}
	return Dashboard{
		ID: d.ID, Slug: d.Slug, Title: d.Title, Description: sp.Description, TimeRange: sp.TimeRange.WithDefaults(),
		RefreshSeconds: sp.RefreshSeconds, Cards: sp.Cards, Version: d.Version, ReadOnly: d.ReadOnly,
		Provisioned: d.Provisioned, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}, nil
}

// Summary returns the list form of d.
func (d Dashboard) Summary() Summary {
	return Summary{
		ID: d.ID, Slug: d.Slug, Title: d.Title, Description: d.Description, TimeRange: d.TimeRange,
		RefreshSeconds: d.RefreshSeconds, CardCount: len(d.Cards), Version: d.Version, ReadOnly: d.ReadOnly,
		Provisioned: d.Provisioned, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

// Document returns d as code: what export writes.
func (d Dashboard) Document() Document {
	tr := d.TimeRange
	cards := make([]Card, len(d.Cards))
	copy(cards, d.Cards)
	return Document{Slug: d.Slug, Title: d.Title, Description: d.Description, TimeRange: &tr,
		RefreshSeconds: d.RefreshSeconds, Cards: cards}
}

// List returns the caller's dashboards sorted by title.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	rows, err := s.db.Dashboards().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(rows))
	for _, r := range rows {
		d, err := view(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d.Summary())
	}
	return out, nil
}

// Get returns a dashboard by id or slug.
func (s *Service) Get(ctx context.Context, ref string) (Dashboard, error) {
	row, err := s.db.Dashboards().Get(ctx, ref)
	if err != nil {
		return Dashboard{}, err
	}
	return view(row)
}

// Create validates and stores a new, editable dashboard. Without a slug,
// one is derived from the title and made unique in the profile; a slug
// given and taken is ErrSlugTaken.
func (s *Service) Create(ctx context.Context, in Input) (Dashboard, error) {
	if _, err := identity.Require(ctx); err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard: %w", err)
	}
	if probs := in.Normalize(s.now(), false); len(probs) > 0 {
		return Dashboard{}, &ValidationError{Fields: probs}
	}
	return s.insert(ctx, in, in.Slug == "")
}

// insert stores a normalised input. With pickSlug, the slug (or the one
// derived from the title) is a base that gets a "-<n>" suffix until it is
// free.
func (s *Service) insert(ctx context.Context, in Input, pickSlug bool) (Dashboard, error) {
	sp, err := specOf(in)
	if err != nil {
		return Dashboard{}, err
	}
	base := in.Slug
	if base == "" {
		base = Slugify(in.Title)
	}
	slug := base
	for attempt := 0; ; attempt++ {
		if pickSlug {
			if slug, err = s.freeSlug(ctx, base); err != nil {
				return Dashboard{}, err
			}
		}
		row, err := s.db.Dashboards().Create(ctx, store.DashboardInput{Slug: slug, Title: in.Title, Spec: sp})
		if errors.Is(err, store.ErrConflict) {
			if pickSlug && attempt < 3 {
				continue // taken meanwhile: pick again
			}
			return Dashboard{}, fmt.Errorf("%w: a dashboard with slug %q exists already in this profile: choose another slug, or leave it out to get a free one", ErrSlugTaken, slug)
		}
		if err != nil {
			return Dashboard{}, err
		}
		d, err := view(row)
		if err != nil {
			return Dashboard{}, err
		}
		s.publish(ctx, d.ID, d.Version, false)
		return d, nil
	}
}

// freeSlug returns base, or base-2, base-3, … whichever no dashboard of
// the profile uses.
func (s *Service) freeSlug(ctx context.Context, base string) (string, error) {
	rows, err := s.db.Dashboards().List(ctx)
	if err != nil {
		return "", err
	}
	used := make(map[string]bool, len(rows))
	for _, r := range rows {
		used[r.Slug] = true
	}
	if len(base) > MaxSlugLength-8 {
		base = strings.TrimRight(base[:MaxSlugLength-8], "-")
	}
	slug := base
	for n := 2; used[slug]; n++ {
		slug = base + "-" + strconv.Itoa(n)
	}
	return slug, nil
}

// Update replaces a dashboard (by id or slug) if it is still at version.
// A stale version is a *ConflictError carrying the stored dashboard; a
// provisioned dashboard is ErrReadOnly. An empty slug keeps the current
// one.
func (s *Service) Update(ctx context.Context, ref string, version int64, in Input) (Dashboard, error) {
	cur, err := s.Get(ctx, ref)
	if err != nil {
		return Dashboard{}, err
	}
	if cur.ReadOnly {
		return Dashboard{}, ErrReadOnly
	}
	if probs := in.Normalize(s.now(), true); len(probs) > 0 {
		return Dashboard{}, &ValidationError{Fields: probs}
	}
	if in.Slug == "" {
		in.Slug = cur.Slug
	}
	if version != cur.Version {
		return Dashboard{}, &ConflictError{Expected: version, Current: cur}
	}
	sp, err := specOf(in)
	if err != nil {
		return Dashboard{}, err
	}
	row, err := s.db.Dashboards().Update(ctx, cur.ID, version, store.DashboardInput{Slug: in.Slug, Title: in.Title, Spec: sp})
	if errors.Is(err, store.ErrConflict) {
		now, gerr := s.Get(ctx, cur.ID)
		if gerr != nil {
			return Dashboard{}, gerr
		}
		if now.Version != version {
			return Dashboard{}, &ConflictError{Expected: version, Current: now}
		}
		return Dashboard{}, fmt.Errorf("%w: another dashboard of this profile has the slug %q: choose another one", ErrSlugTaken, in.Slug)
	}
	if err != nil {
		return Dashboard{}, err
	}
	d, err := view(row)
	if err != nil {
		return Dashboard{}, err
	}
	s.publish(ctx, d.ID, d.Version, false)
	return d, nil
}

// Delete removes a dashboard (by id or slug) and returns it as it was. A
// provisioned dashboard is ErrReadOnly: remove its file instead.
func (s *Service) Delete(ctx context.Context, ref string) (Dashboard, error) {
	cur, err := s.Get(ctx, ref)
	if err != nil {
		return Dashboard{}, err
	}
	if cur.ReadOnly {
		return Dashboard{}, ErrReadOnly
	}
	if err := s.db.Dashboards().Delete(ctx, cur.ID); err != nil {
		return Dashboard{}, err
	}
	s.publish(ctx, cur.ID, cur.Version, true)
	return cur, nil
}

// Copy stores an editable copy of a dashboard (provisioned ones included)
// under a free slug. An empty title gives "<title> (copy)".
func (s *Service) Copy(ctx context.Context, ref, title string) (Dashboard, error) {
	src, err := s.Get(ctx, ref)
	if err != nil {
		return Dashboard{}, err
	}
	in := src.Document().Input()
	in.Slug = ""
	in.Title = title
	if title == "" {
		in.Title = src.Title + " (copy)"
		if len([]rune(in.Title)) > MaxTitleLength {
			in.Title = src.Title
		}
	}
	if probs := in.Normalize(s.now(), false); len(probs) > 0 {
		return Dashboard{}, &ValidationError{Fields: probs}
	}
	// The copy's slug says where it comes from unless it was named.
	in.Slug = Slugify(in.Title)
	if title == "" {
		in.Slug = src.Slug + "-copy"
	}
	return s.insert(ctx, in, true)
}

// Export returns a dashboard (by id or slug) as code.
func (s *Service) Export(ctx context.Context, ref string) (Document, error) {
	d, err := s.Get(ctx, ref)
	if err != nil {
		return Document{}, err
	}
	return d.Document(), nil
}

// Import stores a dashboards-as-code document as a new, editable
// dashboard. Its slug must be free in the profile (ErrSlugTaken
// otherwise); a document without one gets a free slug from its title.
func (s *Service) Import(ctx context.Context, doc Document) (Dashboard, error) {
	return s.Create(ctx, doc.Input())
}

// publish announces a change; a failure is logged, not returned: the
// change is stored, and pages catch up on their next load.
func (s *Service) publish(ctx context.Context, id string, version int64, deleted bool) {
	publish(ctx, s.log, s.pub, id, version, deleted)
}

func publish(ctx context.Context, log hclog.Logger, pub Publisher, id string, version int64, deleted bool) {
	if pub == nil {
		return
	}
	p, ok := identity.From(ctx)
	if !ok {
		return
	}
	ev, err := bus.NewEvent(bus.TopicDashboardChanged, p.ProfileID, Changed{DashboardID: id, Version: version, Deleted: deleted})
	if err == nil {
		err = pub.Publish(context.WithoutCancel(ctx), ev)
	}
	if err != nil {
		log.Warn("could not publish dashboard change; open pages see it on their next load", "dashboard", id, "error", err)
	}
}
