package cards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/timerange"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/schema"
)

// Error codes of card queries (besides the api package's).
const (
	CodeInvalidOptions    = "invalid_options"
	CodeInvalidTimeRange  = "invalid_time_range"
	CodeCardTypeNotFound  = "card_type_not_found"
	CodePluginUnavailable = "plugin_unavailable"
	CodePluginTimeout     = "plugin_timeout"
	CodePluginError       = "plugin_error"
)

// Config tunes the service. Zero values take the defaults.
type Config struct {
	// BuiltinTTL is how long a built-in card's result is served from the
	// cache (default 30s). Events invalidate it sooner when its data
	// changes; the TTL bounds what events cannot see (renamed pipelines,
	// the clock moving a relative time range).
	BuiltinTTL time.Duration
	// PluginTTL is the same for plugin cards (default 60s): they ask a
	// vendor's API, which is slower and often rate-limited.
	PluginTTL time.Duration
	// CallTimeout bounds one plugin QueryCard (default 10s); past it the
	// query answers 504 plugin_timeout.
	CallTimeout time.Duration
	// QueryTimeout bounds a built-in card's store queries (default 30s).
	QueryTimeout time.Duration
	// NearTTL is the longest an answer stays in the near cache (default
	// 5s).
	NearTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.BuiltinTTL <= 0 {
		c.BuiltinTTL = 30 * time.Second
	}
	if c.PluginTTL <= 0 {
		c.PluginTTL = 60 * time.Second
	}
	if c.NearTTL <= 0 {
		c.NearTTL = 5 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 30 * time.Second
	}
}

// Deps are the service's collaborators.
type Deps struct {
	DB *store.DB
	// Cache may be nil: every query is then answered from the source.
	Cache Cache
	// Near, when set, is an in-process cache in front of a shared Cache
	// (Redis): a hit costs no round trip. Its tags are bumped by
	// Invalidate and Observe, which the app calls for every run.changed
	// and alert.changed of any replica before the event reaches a
	// browser, and its entries live NearTTL at most, which bounds the
	// staleness an event lost between replicas can cause.
	Near Cache
	// Plugins may be nil: plugin card types are then unavailable.
	Plugins Plugins
	// Metrics, when set, gets the card query metrics
	// (puod_card_queries_total, puod_card_query_seconds).
	Metrics prometheus.Registerer
}

// Service answers card queries.
type Service struct {
	cfg     Config
	log     hclog.Logger
	db      *store.DB
	cache   Cache
	near    Cache
	plugins Plugins
	schemas schemaCache
	// builtinOpts remembers validated options of built-in cards: a
	// dashboard sends the same few option objects again and again.
	builtinOpts validatedOptions
	group       singleflight.Group
	now         func() time.Time

	warn    rateLimitedLog
	metrics *metrics
}

// New builds the service. Cached cards are invalidated by the calls the
// app makes: Invalidate before run changes are published, Observe for
// every event before it reaches a browser.
func New(cfg Config, log hclog.Logger, deps Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("cards: a store is required")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg.setDefaults()
	return &Service{cfg: cfg, log: log.Named("cards"), db: deps.DB, cache: deps.Cache, near: deps.Near, plugins: deps.Plugins,
		now: time.Now, warn: rateLimitedLog{interval: 10 * time.Second}, metrics: newMetrics(deps.Metrics)}, nil
}

// Request is a card query.
type Request struct {
	Type string
	// Options is the card's options object; empty means {}.
	Options json.RawMessage
	// TimeRange nil means the default (now-24h → now).
	TimeRange *timerange.Range
}

// Result is a card's answer.
type Result struct {
	// Frame is the sdk.Frame as JSON.
	Frame json.RawMessage
	// AsOf is when the frame was computed (earlier than now when cached).
	AsOf time.Time
	// Cached says the frame came from the cache.
	Cached bool
	// Tags are what the card read (runs, source:S, pipeline:P, alerts).
	Tags []string

	asOfText string
}

// JSON is the API's answer: {"frame","as_of","cached","tags"}, written
// without re-encoding the frame.
func (r *Result) JSON() []byte {
	tags, _ := json.Marshal(r.Tags)
	var b bytes.Buffer
	b.Grow(len(r.Frame) + len(tags) + 80)
	b.WriteString(`{"frame":`)
	b.Write(r.Frame)
	b.WriteString(`,"as_of":"`)
	b.WriteString(r.asOfText)
	b.WriteString(`","cached":`)
	if r.Cached {
		b.WriteString("true")
	} else {
		b.WriteString("false")
	}
	b.WriteString(`,"tags":`)
	b.Write(tags)
	b.WriteByte('}')
	return b.Bytes()
}

// resolved is a validated query, ready to run.
type resolved struct {
	typ     string
	options []byte // canonical JSON
	tags    []string
	ttl     time.Duration
	run     func(ctx context.Context) (*sdk.Frame, error)
}

// Query answers a card query for the caller's profile: from the cache
// when an entry for the same type, options, time range and tag versions
// exists, else from the store or the plugin (and caches the answer).
// Errors are *api.Error for what the caller can fix or must know
// (options, type, plugin state); a cache failure is never an error.
func (s *Service) Query(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	res, err := s.query(ctx, req)
	s.metrics.observe(req.Type, res, err, time.Since(start))
	return res, err
}

func (s *Service) query(ctx context.Context, req Request) (*Result, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("card query: %w", err)
	}
	rng := timerange.Range{}
	if req.TimeRange != nil {
		rng = *req.TimeRange
	}
	rng = rng.WithDefaults()
	from, to, err := timerange.Parse(rng, s.now())
	if err != nil {
		return nil, timeRangeError(err)
	}
	q, err := s.resolve(ctx, strings.TrimSpace(req.Type), req.Options, from, to)
	if err != nil {
		return nil, err
	}
	scoped := scopedTags(p.ProfileID, q.tags)
	if s.near == nil {
		return s.fromCache(ctx, p.ProfileID, q, rng, scoped)
	}
	// The near cache first: its tag versions are in-process counters.
	nearVersions, err := s.near.TagVersions(ctx, scoped)
	if err != nil {
		return s.fromCache(ctx, p.ProfileID, q, rng, scoped)
	}
	nearKey := cacheKey(p.ProfileID, q.typ, q.options, rng.String(), nearVersions)
	if val, ok, err := s.near.Get(ctx, nearKey); err == nil && ok {
		if res, ok := decodeCached(val, q.tags); ok {
			return res, nil
		}
	}
	res, err := s.fromCache(ctx, p.ProfileID, q, rng, scoped)
	if err != nil {
		return nil, err
	}
	// Never past the shared entry's own expiry.
	ttl := min(s.cfg.NearTTL, q.ttl-s.now().Sub(res.AsOf))
	if ttl > 0 {
		_ = s.near.Set(ctx, nearKey, encodeCached(res), ttl)
	}
	return res, nil
}

// fromCache answers from the shared cache, or computes and caches.
func (s *Service) fromCache(ctx context.Context, profileID string, q resolved, rng timerange.Range, scoped []string) (*Result, error) {
	key := ""
	if s.cache != nil {
		versions, err := s.cache.TagVersions(ctx, scoped)
		if err != nil {
			s.warn.Printf(s.log, "card cache unavailable; answering uncached", "error", err)
		} else {
			key = cacheKey(profileID, q.typ, q.options, rng.String(), versions)
			val, ok, err := s.cache.Get(ctx, key)
			switch {
			case err != nil:
				s.warn.Printf(s.log, "card cache read failed; answering uncached", "error", err)
			case ok:
				if res, ok := decodeCached(val, q.tags); ok {
					return res, nil
				}
			}
		}
	}
	if key == "" {
		return s.compute(ctx, q)
	}
	// Identical misses share one computation (a dashboard opened by many
	// people at once), detached from any one caller's cancellation.
	shared := context.WithoutCancel(ctx)
	v, err, _ := s.group.Do(key, func() (any, error) {
		res, err := s.compute(shared, q)
		if err != nil {
			return nil, err
		}
		if err := s.cache.Set(shared, key, encodeCached(res), q.ttl); err != nil {
			s.warn.Printf(s.log, "card cache write failed; the next query is answered uncached too", "error", err)
		}
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	res := *v.(*Result)
	return &res, nil
}

func (s *Service) compute(ctx context.Context, q resolved) (*Result, error) {
	asOf := s.now().UTC()
	frame, err := q.run(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(frame)
	if err != nil {
		return nil, fmt.Errorf("card %s: encode frame: %w", q.typ, err)
	}
	return &Result{Frame: raw, AsOf: asOf, Tags: q.tags, asOfText: asOf.Format(time.RFC3339Nano)}, nil
}

// Cached values are "<as_of>\n<frame JSON>" (JSON encodes no raw newline).
func encodeCached(r *Result) []byte {
	out := make([]byte, 0, len(r.asOfText)+1+len(r.Frame))
	out = append(out, r.asOfText...)
	out = append(out, '\n')
	return append(out, r.Frame...)
}

func decodeCached(val []byte, tags []string) (*Result, bool) {
	i := bytes.IndexByte(val, '\n')
	if i < 0 {
		return nil, false
	}
	asOf, err := time.Parse(time.RFC3339Nano, string(val[:i]))
	if err != nil {
		return nil, false
	}
	return &Result{Frame: val[i+1:], AsOf: asOf, Cached: true, Tags: tags, asOfText: string(val[:i])}, true
}

// resolve validates the type and options and prepares the query.
func (s *Service) resolve(ctx context.Context, typ string, rawOptions json.RawMessage, from, to time.Time) (resolved, error) {
	if typ == "" {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "field \"type\" is required: name a card type of GET /api/v1/card-types")
		e.Fields = []api.FieldProblem{{Field: "/type", Message: "required"}}
		return resolved{}, e
	}
	if ct, ok := builtinType(typ); ok {
		v, err := s.builtinOpts.get(typ, rawOptions, func() (validOptions, error) {
			opts, err := decodeOptions(typ, rawOptions)
			if err != nil {
				return validOptions{}, err
			}
			if err := s.validate(typ, ct.OptionsSchema, opts); err != nil {
				return validOptions{}, err
			}
			canonical, _ := json.Marshal(opts)
			var o builtinOptions
			if err := json.Unmarshal(canonical, &o); err != nil {
				return validOptions{}, invalidOptions(typ, []optionProblem{{Message: err.Error()}})
			}
			return validOptions{canonical: canonical, o: o}, nil
		})
		if err != nil {
			return resolved{}, err
		}
		canonical, o := v.canonical, v.o
		if _, prob := trendBucketCheck(typ, o, from, to); prob != nil {
			return resolved{}, invalidOptions(typ, []optionProblem{*prob})
		}
		return resolved{typ: typ, options: canonical, tags: builtinTags(typ, o), ttl: s.cfg.BuiltinTTL,
			run: func(ctx context.Context) (*sdk.Frame, error) {
				ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
				defer cancel()
				return s.queryBuiltin(ctx, typ, o, from, to)
			}}, nil
	}
	opts, err := decodeOptions(typ, rawOptions)
	if err != nil {
		return resolved{}, err
	}
	return s.resolvePlugin(ctx, typ, opts, from, to)
}

// validOptions are a built-in card's options once validated.
type validOptions struct {
	canonical []byte
	o         builtinOptions
}

// validatedOptions memoizes the validation of built-in card options by
// their exact text. Only valid options are kept; the map starts over when
// full, which bounds it whatever callers send.
type validatedOptions struct {
	mu sync.Mutex
	m  map[string]validOptions
}

const maxValidatedOptions = 4096

func (v *validatedOptions) get(typ string, raw json.RawMessage, validate func() (validOptions, error)) (validOptions, error) {
	key := typ + "\x00" + string(bytes.TrimSpace(raw))
	v.mu.Lock()
	got, ok := v.m[key]
	v.mu.Unlock()
	if ok {
		return got, nil
	}
	got, err := validate()
	if err != nil {
		return validOptions{}, err
	}
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxValidatedOptions {
		v.m = make(map[string]validOptions)
	}
	v.m[key] = got
	v.mu.Unlock()
	return got, nil
}

func trendBucketCheck(typ string, o builtinOptions, from, to time.Time) (time.Duration, *optionProblem) {
	if typ != TypeDurationTrend {
		return 0, nil
	}
	return trendBucket(o.Bucket, from, to)
}

// decodeOptions reads the options object (absent or null: {}), keeping
// numbers as written.
func decodeOptions(typ string, raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalidOptions(typ, []optionProblem{{Message: "not valid JSON: " + err.Error()}})
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidOptions(typ, []optionProblem{{Message: "must be a JSON object"}})
	}
	return m, nil
}

func (s *Service) validate(typ string, raw json.RawMessage, opts map[string]any) error {
	if len(raw) == 0 {
		return nil
	}
	sch, err := s.schemas.get(raw)
	if err != nil {
		// The plugin's manifest passed validation at start; a schema that
		// does not compile here is the plugin's bug, not the caller's.
		return api.Errorf(http.StatusBadGateway, CodePluginError, "the options schema of card type %s does not compile (%v): report it to the plugin's authors", typ, err)
	}
	if probs := sch.Validate(opts); len(probs) > 0 {
		out := make([]optionProblem, len(probs))
		for i, p := range probs {
			out[i] = optionProblem{Field: p.Pointer, Message: p.Message}
		}
		return invalidOptions(typ, out)
	}
	return nil
}

// schemaCache compiles each options schema once.
type schemaCache struct{ m sync.Map } // string(raw) → *schema.Schema

func (c *schemaCache) get(raw json.RawMessage) (*schema.Schema, error) {
	if v, ok := c.m.Load(string(raw)); ok {
		return v.(*schema.Schema), nil
	}
	sch, err := schema.Compile(raw)
	if err != nil {
		return nil, err
	}
	c.m.Store(string(raw), sch)
	return sch, nil
}

// optionProblem is one invalid option; Field is a JSON pointer inside the
// options object.
type optionProblem struct {
	Field   string
	Message string
}

func invalidOptions(typ string, probs []optionProblem) *api.Error {
	fields := make([]api.FieldProblem, len(probs))
	for i, p := range probs {
		fields[i] = api.FieldProblem{Field: "/options" + p.Field, Message: p.Message}
	}
	first := fields[0]
	e := api.Errorf(http.StatusBadRequest, CodeInvalidOptions, "invalid options for card type %s: %s: %s (the card type's options_schema in GET /api/v1/card-types says what is accepted)",
		typ, first.Field, first.Message)
	e.Fields = fields
	return e
}

func timeRangeError(err error) error {
	var te *timerange.Error
	if !errors.As(err, &te) {
		return err
	}
	e := api.Errorf(http.StatusBadRequest, CodeInvalidTimeRange, "%s", te.Error())
	field := "/time_range"
	if te.Field != "" {
		field += "/" + te.Field
	}
	e.Fields = []api.FieldProblem{{Field: field, Message: te.Message}}
	return e
}
