package cards

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/bus"
)

// Cache stores card results (host/cache.Memory and host/cache.Redis
// implement it). Keys and tags are opaque strings; this package prefixes
// them with the profile.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// TagVersions returns the current version of each tag (0 for a tag
	// never bumped), in order.
	TagVersions(ctx context.Context, tags []string) ([]uint64, error)
	// Bump increments the version of each tag: every entry whose key
	// embedded an older version is never read again.
	Bump(ctx context.Context, tags ...string) error
	Close() error
}

// scopedTags prefixes tags with the profile.
func scopedTags(profileID string, tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = profileID + ":" + t
	}
	return out
}

// cacheKey is profile + type + canonical options + time range text + tag
// versions; the variable part is hashed so keys stay short whatever the
// options.
func cacheKey(profileID, typ string, options []byte, rangeText string, versions []uint64) string {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(options)
	h.Write([]byte{0})
	h.Write([]byte(rangeText))
	for _, v := range versions {
		h.Write([]byte{0})
		h.Write([]byte(strconv.FormatUint(v, 10)))
	}
	var sum [sha256.Size]byte
	return profileID + ":card:" + typ + ":" + hex.EncodeToString(h.Sum(sum[:0])[:20])
}

// runTags are the tags a run.changed event invalidates, profile-scoped.
func runTags(ev bus.Event, rc bus.RunChanged) []string {
	out := []string{ev.ProfileID + ":runs"}
	if rc.SourceID != "" {
		out = append(out, ev.ProfileID+":source:"+rc.SourceID)
	}
	if rc.PipelineID != "" {
		out = append(out, ev.ProfileID+":pipeline:"+rc.PipelineID)
	}
	return out
}

// errNoProfile: an event that names no profile invalidates nothing.
var errNoProfile = errors.New("event names no profile")

// tagsOf are the profile-scoped tags an event invalidates: run.changed →
// runs, source:S and pipeline:P; alert.changed (an alert's state or
// acknowledgement, or a rule, changed) → alerts. Other topics invalidate
// nothing.
func tagsOf(ev bus.Event) ([]string, error) {
	switch ev.Topic {
	case bus.TopicRunChanged:
		var rc bus.RunChanged
		if err := ev.Decode(&rc); err != nil {
			return nil, err
		}
		if ev.ProfileID == "" {
			return nil, errNoProfile
		}
		return runTags(ev, rc), nil
	case bus.TopicAlertChanged:
		if ev.ProfileID == "" {
			return nil, errNoProfile
		}
		return []string{ev.ProfileID + ":alerts"}, nil
	}
	return nil, nil
}

// Invalidate bumps the tags of run.changed and alert.changed events at
// once, in one Bump. The collector calls it before it publishes run
// changes, so a page that refreshes a card on the event never reads the
// entry the event made stale, whichever replica serves it.
func (s *Service) Invalidate(ctx context.Context, events ...bus.Event) {
	if s.cache == nil {
		return
	}
	tags := eventTags(events)
	if len(tags) == 0 {
		return
	}
	// The shared cache first, then the near one: a query that sees the
	// near cache's new versions then reads the shared cache after its
	// bump too, and cannot copy a stale shared entry into the near cache.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.cache.Bump(ctx, tags...); err != nil {
		s.warn.Printf(s.log, "could not invalidate cached cards; they may show stale data until their TTL", "tags", strings.Join(tags, ","), "error", err)
	}
	s.InvalidateLocal(events...)
}

// Observe sees every event of the bus, from any replica, before any
// browser does (the app's event hub calls it). A run change was already
// invalidated in the shared cache by the replica that ingested it, before
// it published the event: only this process's near cache follows. Alert
// changes have many publishers (rules, silences, the engine) that do not
// invalidate first, so each replica invalidates both caches here.
func (s *Service) Observe(ev bus.Event) {
	switch ev.Topic {
	case bus.TopicRunChanged:
		s.InvalidateLocal(ev)
	case bus.TopicAlertChanged:
		s.Invalidate(context.Background(), ev)
	}
}

// InvalidateLocal invalidates the near cache only, for changes already
// invalidated in the shared cache.
func (s *Service) InvalidateLocal(events ...bus.Event) {
	if s.near == nil {
		return
	}
	if tags := eventTags(events); len(tags) > 0 {
		// In-process: cannot fail in a way worth more than the TTL bound.
		_ = s.near.Bump(context.Background(), tags...)
	}
}

// eventTags are the distinct profile-scoped tags of the run.changed and
// alert.changed events among events.
func eventTags(events []bus.Event) []string {
	seen := map[string]bool{}
	var tags []string
	for _, ev := range events {
		evTags, err := tagsOf(ev)
		if err != nil {
			continue
		}
		for _, t := range evTags {
			if !seen[t] {
				seen[t] = true
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// rateLimitedLog logs at most one warning per interval and counts the
// others, so a cache outage under load does not flood the log.
type rateLimitedLog struct {
	interval   time.Duration
	last       atomic.Int64
	suppressed atomic.Int64
}

func (r *rateLimitedLog) Printf(log hclog.Logger, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(r.interval) || !r.last.CompareAndSwap(last, now) {
		r.suppressed.Add(1)
		return
	}
	if n := r.suppressed.Swap(0); n > 0 {
		args = append(args, "similar_warnings_suppressed", n)
	}
	log.Warn(msg, args...)
}
