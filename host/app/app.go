// Package app assembles the host from its parts (store, keys, auth,
// plugins, sources, HTTP API) and runs it until its context ends. It is the
// only place that knows every package; the packages know only the small
// interfaces they use.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/auditapi"
	"github.com/puod/puod/host/auth"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/dashboards"
	"github.com/puod/puod/host/demo"
	"github.com/puod/puod/host/events"
	"github.com/puod/puod/host/lease"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/pluginapi"
	"github.com/puod/puod/host/pluginhost"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/runs"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/version"
	"github.com/puod/puod/host/web"
	"github.com/puod/puod/sdk"
)

// App is a running host.
type App struct {
	cfg     config.Config
	log     hclog.Logger
	db      *store.DB
	plugins *plugins.Manager
	api     *api.Server
	srv     *http.Server
	ln      net.Listener
	sources *sources.Service
	demo    *demo.Demo
	bus     bus.Bus
	// closeBus stops the Redis bus reader (nil for the in-memory bus).
	closeBus func() error
	// leases makes replicas sharing Redis split the polling of sources
	// (nil without Redis: one process owns everything).
	leases    *lease.Redis
	collector *collect.Collector
	events    *events.Hub
	cards     *cards.Service
	cardCache cards.Cache
	// dashboards provisions dashboards-as-code; ProvisionProfile is what a
	// new profile needs.
	dashboards *dashboards.Provisioner
	// alerts serves alert rules, alerts and silences; its LoadRules loads
	// rules as code.
	alerts *alertapi.Service
	// alerting evaluates the rules and delivers their notifications.
	alerting *alerting.Runner
}

// Option changes how New builds the host in ways a configuration file
// cannot say: hooks for tests and benchmarks. `puod serve` passes none,
// and the host it runs behaves as if none existed.
type Option func(*options)

type options struct {
	alertClock  alert.Clock
	notifyClock notify.Clock
}

// WithAlertClock makes alert evaluation take the time from c instead of
// the system clock: run and metric events are evaluated at c.Now(), the
// periodic tick (still every second of real time) evaluates deadlines,
// absence and `for` at c.Now(), and silences are matched at c.Now(). A
// test sets c to 05:59:50 of a day to watch a 06:00 deadline fire without
// waiting for the morning.
func WithAlertClock(c alert.Clock) Option { return func(o *options) { o.alertClock = c } }

// WithNotifyClock makes the notification worker take the time and its
// waits from c instead of the system clock: when a notification was
// written, when its next attempt is due, how long backoff and Retry-After
// last. A test steps c to run minutes of a Slack outage in seconds. (The
// sink plugins are other processes and keep the real clock.)
func WithNotifyClock(c notify.Clock) Option { return func(o *options) { o.notifyClock = c } }

// New opens the store (migrating it), sets up keys, authentication and the
// plugin manager, and builds the HTTP API. Nothing is served until Run.
// out receives what an operator must see once (the generated admin
// password, the URL).
func New(ctx context.Context, cfg config.Config, log hclog.Logger, out io.Writer, opts ...Option) (a *App, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a = &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	a.db, err = store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir}, log)
	if err != nil {
		return nil, err
	}
	if _, err := a.db.Migrate(ctx); err != nil {
		return nil, err
	}
	keys, err := secrets.New(secrets.Config{Keys: cfg.SecretKey, DataDir: cfg.DataDir}, log)
	if err != nil {
		return nil, err
	}
	if err := auth.Bootstrap(ctx, a.db, cfg.AdminPassword, out); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(newStoreCollector(a.db))
	if err := a.openBus(ctx, cfg, reg); err != nil {
		return nil, err
	}

	a.plugins, err = plugins.New(plugins.Config{
		Dir:            cfg.PluginDir,
		HostVersion:    version.Semver(),
		CallTimeout:    cfg.Plugins.CallTimeout,
		HealthInterval: cfg.Plugins.HealthInterval,
		RescanInterval: cfg.Plugins.RescanInterval,
	}, log.Named("plugins"), plugins.WithRegisterer(reg), plugins.WithHostServices(pluginhost.New(a.db, log, a.pushRuns, nil).For))
	if err != nil {
		return nil, err
	}

	rec := audit.New(a.db, log)
	signing, kid := keys.Derive("jwt-signing")
	authSvc, err := auth.NewService(auth.Config{
		SigningKey: signing,
		KeyID:      kid,
		AccessTTL:  cfg.Auth.AccessTokenTTL,
		RefreshTTL: cfg.Auth.RefreshTokenTTL,
		OIDC: auth.OIDCConfig{
			Issuer:       cfg.Auth.OIDCIssuer,
			Audience:     cfg.Auth.OIDCAudience,
			ProfileClaim: cfg.Auth.OIDCProfileClaim,
			RoleClaim:    cfg.Auth.OIDCRoleClaim,
		},
	}, a.db, rec, log)
	if err != nil {
		return nil, err
	}
	srcSvc, err := sources.New(sources.Config{CallTimeout: cfg.Plugins.CallTimeout}, log, a.db, keys, sourcePlugins{a.plugins}, rec)
	if err != nil {
		return nil, err
	}
	a.sources = srcSvc
	var leaser collect.Leaser
	if cfg.RedisURL != "" {
		if a.leases, err = lease.NewRedis(cfg.RedisURL, replicaName(), ""); err != nil {
			return nil, err
		}
		leaser = a.leases
	}
	a.collector, err = collect.New(collect.Config{}, log, collect.Deps{
		Leaser: leaser,
		DB:     a.db, Connectors: collect.ManagerConnectors(a.plugins), Bus: a.bus, Keys: keys,
		Auth: authSvc.Authenticator(), Audit: rec, Registerer: reg,
		BeforePublish: a.invalidateCards,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Demo {
		if a.demo, err = demo.Start(ctx, log); err != nil {
			return nil, err
		}
	}

	a.api = api.New(api.Options{Registry: reg}, log, authSvc.Authenticator())
	auth.Register(a.api, authSvc)
	srcSvc.Register(a.api)
	auditapi.Register(a.api, a.db, rec)
	pluginapi.Register(a.api, pluginRegistry{a.plugins}, cards.Builtins{}, pluginapi.WithSources(a.db.Cards().Sources))
	if a.cards, a.cardCache, err = newCards(ctx, cfg, log, a.db, a.plugins, reg); err != nil {
		return nil, err
	}
	a.cards.Register(a.api)
	a.collector.Register(a.api)
	runs.Register(a.api, a.db)
	if a.events, err = events.New(events.Config{BeforeDeliver: a.cards.Observe}, log, a.bus, reg); err != nil {
		return nil, err
	}
	a.events.Register(a.api)
	dashSvc, err := dashboards.New(log, a.db, a.bus)
	if err != nil {
		return nil, err
	}
	dashboards.Register(a.api, dashSvc, rec)
	if a.alerts, err = alertapi.New(log, a.db, a.bus); err != nil {
		return nil, err
	}
	alertapi.Register(a.api, a.alerts, rec)
	var evalLease alerting.Leaser
	if a.leases != nil {
		evalLease = a.leases
	}
	alertCfg := alerting.Config{Leaser: evalLease}
	if o.alertClock != nil {
		alertCfg.Engine.Clock = o.alertClock
	}
	if o.notifyClock != nil {
		alertCfg.Notify.Clock = o.notifyClock
	}
	if a.alerting, err = alerting.New(alertCfg, log, alerting.Deps{
		DB: a.db, Bus: a.bus, Sender: alerting.SinkSender(a.db, alerting.ManagerSinks(a.plugins)),
	}); err != nil {
		return nil, err
	}
	// Dashboards-as-code go into every profile before the first request.
	if a.dashboards, err = dashboards.NewProvisioner(dashboards.ProvisionConfig{Dir: cfg.DashboardsDir}, log, a.db, a.bus, rec); err != nil {
		return nil, err
	}
	authSvc.OnProfileCreated(a.dashboards.ProvisionProfile)
	if err := a.dashboards.ProvisionAll(ctx); err != nil {
		log.Error("some dashboards could not be provisioned; the others are in place", "error", err)
	}
	// Alert rules as code, before the alerting runner loads the rules.
	authSvc.OnProfileCreated(func(ctx context.Context, profileID string) error {
		return a.alerts.ProvisionRulesOf(ctx, cfg.RulesDir, profileID)
	})
	if err := a.alerts.ProvisionRules(ctx, cfg.RulesDir); err != nil {
		log.Error("some alert rules as code could not be loaded; the others are in place", "error", err)
	}
	a.api.SetFallback(web.Handler())
	a.api.AddReadinessCheck(api.ReadinessCheck{Name: "database", Check: a.db.Ping})

	// Sources are registered with the manager before it starts, so each
	// plugin is configured with its instances before it takes calls.
	if _, err := srcSvc.LoadAll(ctx); err != nil {
		log.Error("could not load the configured sources; they start unconfigured", "error", err)
	}
	return a, nil
}

// Handler is the HTTP handler (for tests).
func (a *App) Handler() http.Handler { return a.api.Handler() }

// API is the HTTP server (for tests that inspect its routes).
func (a *App) API() *api.Server { return a.api }

// Store is the database (for tests).
func (a *App) Store() *store.DB { return a.db }

// Bus is the event bus (for tests and benchmarks that watch events).
func (a *App) Bus() bus.Bus { return a.bus }

// Demo is what --demo started (nil without it): tests read its fake Slack.
func (a *App) Demo() *demo.Demo { return a.demo }

// Plugins is the plugin manager.
func (a *App) Plugins() *plugins.Manager { return a.plugins }

// Listen binds the HTTP address; Addr is known afterwards.
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; choose another address with --listen or PUOD_LISTEN", a.cfg.Listen, err)
	}
	a.ln = ln
	return nil
}

// Addr is the bound HTTP address.
func (a *App) Addr() string {
	if a.ln == nil {
		return a.cfg.Listen
	}
	return a.ln.Addr().String()
}

// Run starts the plugins and serves HTTP until ctx ends, then shuts down
// in order: stop accepting requests, let those in flight finish, stop the
// plugins, close the store.
func (a *App) Run(ctx context.Context) error {
	if a.ln == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	if err := a.plugins.Start(ctx); err != nil {
		return err
	}
	cctx, stopCollect := context.WithCancel(ctx)
	collectDone := make(chan struct{})
	go func() {
		defer close(collectDone)
		if err := a.collector.Run(cctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("collector stopped", "error", err)
		}
	}()
	alertsDone := make(chan struct{})
	go func() {
		defer close(alertsDone)
		if err := a.alerting.Run(cctx); err != nil {
			a.log.Error("alerting stopped", "error", err)
		}
	}()
	if a.demo != nil {
		go func() {
			if err := a.provisionDemo(ctx, a.demo, a.sources); err != nil {
				a.log.Error("demo sources could not be set up", "error", err)
			}
		}()
	}
	a.srv = &http.Server{
		Handler:           a.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// Event streams never end by themselves: Shutdown ends them once it
	// stopped accepting connections, or it would wait for its deadline.
	a.srv.RegisterOnShutdown(a.events.Close)
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(a.ln) }()
	// Start-up allocates what serving never needs again (migrations, the
	// argon2 work of the first admin and of the dummy hash): hand it back to
	// the OS now rather than when the scavenger gets round to it.
	debug.FreeOSMemory()
	a.log.Info("PUOD is serving", "url", "http://"+a.Addr(), "version", version.Version, "database", a.db.Dialect(), "plugin_dir", a.cfg.PluginDir)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	stopCollect()
	<-collectDone
	<-alertsDone
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.close(shutdown)
	return err
}

// pushRuns ingests runs a plugin pushed through the host services. The
// manager (which serves those) is built before the collector, hence the
// indirection.
func (a *App) pushRuns(ctx context.Context, src store.Source, rs []sdk.Run) error {
	if a.collector == nil {
		return &sdk.Error{Kind: sdk.KindRetryable, Message: "the collector is not ready yet"}
	}
	return a.collector.IngestPushed(ctx, src, rs)
}

// invalidateCards bumps the cache tags of run changes before the collector
// publishes them (the card service is built after the collector).
func (a *App) invalidateCards(ctx context.Context, events []bus.Event) {
	if a.cards != nil {
		a.cards.Invalidate(ctx, events...)
	}
}

func (a *App) close(ctx context.Context) {
	if a.srv != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			a.log.Warn("HTTP shutdown", "error", err)
		}
	}
	if a.events != nil {
		a.events.Close()
	}
	if a.demo != nil {
		a.demo.Close()
	}
	if a.cardCache != nil {
		_ = a.cardCache.Close()
	}
	if a.leases != nil {
		_ = a.leases.Close()
	}
	if a.closeBus != nil {
		_ = a.closeBus()
	}
	if a.plugins != nil {
		if err := a.plugins.Close(ctx); err != nil {
			a.log.Warn("stopping plugins", "error", err)
		}
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// storeCollector exports the connection pool statistics.
type storeCollector struct {
	db                  *store.DB
	open, inUse, waited *prometheus.Desc
}

func newStoreCollector(db *store.DB) *storeCollector {
	l := prometheus.Labels{"dialect": db.Dialect()}
	return &storeCollector{
		db:     db,
		open:   prometheus.NewDesc("puod_store_open_connections", "Open database connections.", nil, l),
		inUse:  prometheus.NewDesc("puod_store_in_use_connections", "Database connections in use.", nil, l),
		waited: prometheus.NewDesc("puod_store_wait_seconds_total", "Time spent waiting for a database connection.", nil, l),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.inUse
	ch <- c.waited
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.Stats()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.OpenConnections))
	ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(st.InUse))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, st.WaitDuration.Seconds())
}

// openBus connects the event bus: Redis Streams when PUOD_REDIS_URL is set,
// so every replica sees every event (cache invalidation, live pages), else
// in memory.
func (a *App) openBus(ctx context.Context, cfg config.Config, reg prometheus.Registerer) error {
	if cfg.RedisURL == "" {
		m, err := bus.NewMemory(bus.MemoryConfig{}, reg)
		if err != nil {
			return err
		}
		a.bus = m
		return nil
	}
	// go-redis reports connection failures through its own global logger
	// (to stderr); they belong in the host log.
	redis.SetLogger(redisLog{a.log.Named("redis")})
	r, err := bus.NewRedis(ctx, bus.RedisConfig{URL: cfg.RedisURL}, a.log.Named("bus"), reg)
	if err != nil {
		return err
	}
	a.bus, a.closeBus = r, r.Close
	return nil
}

// redisLog routes go-redis's own messages (failed dials while Redis is
// down) into the host log at debug level: the cache and the bus already
// report an outage once, as a warning.
type redisLog struct{ log hclog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// replicaName identifies this process among the replicas sharing Redis.
func replicaName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
}
