package plugins

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// Plugin states, as listed by Plugins and GET /api/v1/plugins.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateBackoff  = "backoff"
	StateFailed   = "failed"
	StateDraining = "draining"
	StateStopped  = "stopped"
)

var allStates = []string{StateStarting, StateRunning, StateBackoff, StateFailed, StateDraining, StateStopped}

var (
	// ErrUnknownPlugin: no bundle in the plugin directory has this id.
	ErrUnknownPlugin = errors.New("unknown plugin")
	// ErrNotRunning: the plugin exists but cannot take calls now (starting,
	// restarting, failed, draining or stopped).
	ErrNotRunning = errors.New("plugin is not running")
)

// Config configures a Manager. A zero duration or count takes its default.
type Config struct {
	// Dir is the plugin directory: one folder per bundle.
	Dir string
	// HostVersion is matched against each manifest's "host" range. A
	// version that is not semver (a development build) skips that check,
	// so a locally built host can run any plugin.
	HostVersion string

	// RescanInterval is how often the directory is read again besides the
	// file-system watch, which can miss events (network file systems,
	// overflowing queues). Default 10s.
	RescanInterval time.Duration
	// Debounce groups the burst of events one copy produces. Default 300ms.
	Debounce time.Duration

	// HealthInterval is how often a running plugin is asked CheckHealth.
	// Default 2s.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check. Default 1s.
	HealthTimeout time.Duration
	// HealthMisses consecutive failed health checks make the manager kill
	// and restart the plugin. Default 3.
	HealthMisses int

	// CallTimeout bounds every short call made through a Handle whose
	// context has no earlier deadline, so a hung plugin cannot hang the
	// host. ListRuns and Export take their deadline from the context only.
	// Default 30s.
	CallTimeout time.Duration
	// StartTimeout bounds the go-plugin handshake of a new process, and
	// then again bringing it to its first healthy answer (Describe,
	// configuring instances, a health check). Default 15s.
	StartTimeout time.Duration
	// DrainTimeout bounds how long a replaced or removed generation may
	// finish its calls in flight before it is stopped. Default 30s.
	DrainTimeout time.Duration

	// BackoffInitial is the first restart delay after a crash; it doubles
	// up to BackoffMax, each with ±20% jitter. Defaults 1s and 2m.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// CrashLimit crashes within CrashWindow open the circuit: the plugin
	// stays failed until its bundle changes. Defaults 5 and 10m.
	CrashLimit  int
	CrashWindow time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RescanInterval, 10*time.Second)
	def(&c.Debounce, 300*time.Millisecond)
	def(&c.HealthInterval, 2*time.Second)
	def(&c.HealthTimeout, time.Second)
	def(&c.CallTimeout, 30*time.Second)
	def(&c.StartTimeout, 15*time.Second)
	def(&c.DrainTimeout, 30*time.Second)
	def(&c.BackoffInitial, time.Second)
	def(&c.BackoffMax, 2*time.Minute)
	def(&c.CrashWindow, 10*time.Minute)
	if c.HealthMisses <= 0 {
		c.HealthMisses = 3
	}
	if c.CrashLimit <= 0 {
		c.CrashLimit = 5
	}
}

// Option configures a Manager beyond its Config.
type Option func(*Manager)

// WithRegisterer registers the manager's metrics (plugin state, restarts,
// call durations) with r. Without it the metrics are kept but not exported.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(m *Manager) { m.registerer = r }
}

// WithHostServices serves the host services (state, progress, pushed runs)
// to every plugin. The factory gets the plugin id, so the services it
// returns can refuse a plugin's access to instances of another plugin.
func WithHostServices(f func(pluginID string) sdk.HostServices) Option {
	return func(m *Manager) { m.hostServices = f }
}

// WithBackoff replaces the restart delay policy; attempt counts from 0.
// Tests use it to make restarts immediate and deterministic.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(m *Manager) { m.backoff = f }
}

// Manager discovers, starts, supervises and stops plugins. Its methods are
// safe for concurrent use; none holds a lock while calling a plugin.
type Manager struct {
	cfg          Config
	log          hclog.Logger
	hostVersion  *semver.Version
	protocols    []int
	registerer   prometheus.Registerer
	hostServices func(pluginID string) sdk.HostServices
	backoff      func(attempt int) time.Duration
	metrics      *metrics
	events       *broadcaster

	ctx    context.Context // lives until Close
	cancel context.CancelFunc

	scanMu sync.Mutex // one scan at a time
	kick   chan struct{}

	mu      sync.Mutex
	sups    map[string]*supervisor // by plugin id
	dirs    map[string]*dirEntry   // by bundle folder
	live    map[*proc]struct{}     // every process started and not yet reaped
	started bool
	closed  bool
	wg      sync.WaitGroup // supervisors and the watcher

	instMu    sync.Mutex
	instances map[string]map[string]sdk.InstanceConfig // plugin id → instance id → config
}

// New returns a manager of the plugins in cfg.Dir. Nothing starts before
// Start.
func New(cfg Config, log hclog.Logger, opts ...Option) (*Manager, error) {
	if cfg.Dir == "" {
		return nil, errors.New("plugins: Config.Dir is empty: set the plugin directory (--plugin-dir, PUOD_PLUGIN_DIR)")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg.setDefaults()
	m := &Manager{
		cfg:       cfg,
		log:       log,
		events:    newBroadcaster(),
		kick:      make(chan struct{}, 1),
		sups:      map[string]*supervisor{},
		dirs:      map[string]*dirEntry{},
		live:      map[*proc]struct{}{},
		instances: map[string]map[string]sdk.InstanceConfig{},
	}
	for v := range sdk.ClientPluginSets() {
		m.protocols = append(m.protocols, v)
	}
	sort.Ints(m.protocols)
	if v, err := semver.NewVersion(cfg.HostVersion); err == nil {
		m.hostVersion = v
	} else {
		log.Warn("host version is not semver: plugins' host ranges are not checked", "host_version", cfg.HostVersion)
	}
	for _, o := range opts {
		o(m)
	}
	if m.backoff == nil {
		m.backoff = func(attempt int) time.Duration {
			return backoffDelay(attempt, cfg.BackoffInitial, cfg.BackoffMax, rand.Float64()*2-1)
		}
	}
	met, err := newMetrics(m.registerer)
	if err != nil {
		return nil, err
	}
	m.metrics = met
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Start scans the plugin directory, launches every valid bundle (each in
// its own goroutine, so plugins start concurrently and a slow one delays
// no other) and starts watching the directory. It returns once everything
// found is launched, without waiting for the plugins to be running. ctx
// bounds only this call; the manager runs until Close.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("plugins: Start after Close")
	}
	if m.started {
		m.mu.Unlock()
		return errors.New("plugins: Start called twice")
	}
	m.started = true
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(m.cfg.Dir); err != nil {
		m.log.Warn("plugin directory not readable; watching for it", "dir", m.cfg.Dir, "error", err)
	}
	m.scan()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.watch(m.ctx)
	}()
	return nil
}

// Close stops watching and stops every plugin: calls in flight may finish
// (up to DrainTimeout), then each process is asked to exit and killed if it
// does not. When ctx ends first, every remaining process is killed at once
// and ctx's error returned.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	var procs []*proc
	for p := range m.live {
		procs = append(procs, p)
	}
	m.mu.Unlock()
	for _, p := range procs {
		p.hardKill()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("plugins: close: %w", ctx.Err())
}

// Status is the state of one plugin, or of a refused bundle (State
// "failed", ID from its manifest or its folder name, LastError the reason).
type Status struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Version    string                  `json:"version"`
	Kinds      []string                `json:"kinds"`
	State      string                  `json:"state"`
	PID        int                     `json:"pid"`
	Restarts   int                     `json:"restarts"`
	LastError  string                  `json:"last_error"`
	LogTail    []string                `json:"log_tail"`
	Dir        string                  `json:"dir"`
	Generation int                     `json:"generation"`
	Cards      []manifest.Card         `json:"cards,omitempty"`
	Exports    []manifest.ExportFormat `json:"exports,omitempty"`
	StartedAt  time.Time               `json:"started_at,omitzero"`
}

// Plugins lists every plugin and every refused bundle, by id.
func (m *Manager) Plugins() []Status {
	m.mu.Lock()
	sups := make([]*supervisor, 0, len(m.sups))
	for _, s := range m.sups {
		sups = append(sups, s)
	}
	var refused []Status
	for _, d := range m.dirs {
		if d.refused != nil {
			refused = append(refused, *d.refused)
		}
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(sups)+len(refused))
	for _, s := range sups {
		out = append(out, s.status())
	}
	out = append(out, refused...)
	for i := range out {
		// Lists, not nulls, in the API.
		if out[i].Kinds == nil {
			out[i].Kinds = []string{}
		}
		if out[i].LogTail == nil {
			out[i].LogTail = []string{}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Dir < out[j].Dir
	})
	return out
}

// CardType is a card type offered by a running plugin.
type CardType struct {
	PluginID string `json:"plugin_id"`
	manifest.Card
}

// CardTypes is the union of the card types of the running plugins, by
// plugin id then type.
func (m *Manager) CardTypes() []CardType {
	m.mu.Lock()
	sups := make([]*supervisor, 0, len(m.sups))
	for _, s := range m.sups {
		sups = append(sups, s)
	}
	m.mu.Unlock()
	var out []CardType
	for _, s := range sups {
		d := s.description()
		if d == nil {
			continue
		}
		for _, c := range d.Cards {
			out = append(out, CardType{PluginID: s.id, Card: c})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PluginID != out[j].PluginID {
			return out[i].PluginID < out[j].PluginID
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Plugin returns a handle on the running plugin id, or an error wrapping
// ErrUnknownPlugin or ErrNotRunning that says its state. A handle follows
// the plugin across restarts and new generations; get a fresh one per
// operation rather than keeping it.
func (m *Manager) Plugin(id string) (*Handle, error) {
	m.mu.Lock()
	s := m.sups[id]
	var refusedFor string
	for _, d := range m.dirs {
		if d.refused != nil && d.refused.ID == id {
			refusedFor = d.refused.LastError
		}
	}
	m.mu.Unlock()
	switch {
	case s != nil:
		if err := s.servingErr(); err != nil {
			return nil, err
		}
		return &Handle{s: s}, nil
	case refusedFor != "":
		return nil, fmt.Errorf("plugin %s was refused: %s: %w", id, refusedFor, ErrNotRunning)
	default:
		return nil, fmt.Errorf("plugin %s: no bundle in %s has this id: %w", id, m.cfg.Dir, ErrUnknownPlugin)
	}
}

// SetInstance registers (or updates) the configuration of one instance of
// a plugin. The manager configures it in every process of that plugin: on
// each start and new generation before it takes over, and lazily before
// the next call when the revision changed. The plugin need not be running
// (or even installed) yet.
func (m *Manager) SetInstance(pluginID string, ic sdk.InstanceConfig) {
	m.instMu.Lock()
	defer m.instMu.Unlock()
	byID := m.instances[pluginID]
	if byID == nil {
		byID = map[string]sdk.InstanceConfig{}
		m.instances[pluginID] = byID
	}
	byID[ic.ID] = ic
}

// RemoveInstance forgets an instance and asks the running plugin to
// dispose of it (in the background, with the call deadline).
func (m *Manager) RemoveInstance(pluginID, instanceID string) {
	m.instMu.Lock()
	delete(m.instances[pluginID], instanceID)
	m.instMu.Unlock()
	m.mu.Lock()
	s := m.sups[pluginID]
	m.mu.Unlock()
	if s != nil {
		s.removeInstance(instanceID)
	}
}

func (m *Manager) instance(pluginID, instanceID string) (sdk.InstanceConfig, bool) {
	m.instMu.Lock()
	defer m.instMu.Unlock()
	ic, ok := m.instances[pluginID][instanceID]
	return ic, ok
}

func (m *Manager) instancesOf(pluginID string) []sdk.InstanceConfig {
	m.instMu.Lock()
	defer m.instMu.Unlock()
	out := make([]sdk.InstanceConfig, 0, len(m.instances[pluginID]))
	for _, ic := range m.instances[pluginID] {
		out = append(out, ic)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Event is a change of a plugin's state.
type Event struct {
	PluginID   string    `json:"plugin_id"`
	State      string    `json:"state"`
	Generation int       `json:"generation"`
	PID        int       `json:"pid,omitempty"`
	Error      string    `json:"error,omitempty"`
	Time       time.Time `json:"time"`
}

// Subscribe returns the plugins' state changes from now on, and a function
// that ends the subscription. A subscriber that does not keep up misses
// events rather than slowing the manager; call Plugins for the full state.
func (m *Manager) Subscribe() (<-chan Event, func()) {
	return m.events.subscribe()
}

// track records a started process so Close can kill it whatever its
// supervisor is doing.
func (m *Manager) track(p *proc, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.live[p] = struct{}{}
	} else {
		delete(m.live, p)
	}
}

// pids lists the processes the manager started and has not reaped (tests).
func (m *Manager) pids() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for p := range m.live {
		out = append(out, p.pid)
	}
	sort.Ints(out)
	return out
}
