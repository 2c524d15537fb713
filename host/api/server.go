package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/puod/puod/host/identity"
)

// Authenticator identifies the caller of a request. It returns an *Error
// (401) when the request carries no valid credentials. The server core
// (JWT, OIDC, API tokens) implements it.
type Authenticator interface {
	Authenticate(c *gin.Context) (identity.Principal, error)
}

// ReadinessCheck reports whether one dependency is ready.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure the server.
type Options struct {
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger → 413.
	MaxBodyBytes int64
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// none by default.
	TrustedProxies []string
	// Registry receives the HTTP metrics and is served at /metrics. A new
	// one is created when nil.
	Registry *prometheus.Registry
}

// Server is the HTTP API.
type Server struct {
	engine  *gin.Engine
	api     *gin.RouterGroup
	log     hclog.Logger
	auth    Authenticator
	reg     *prometheus.Registry
	checks  []ReadinessCheck
	mappers []ErrorMapper
	public  map[string]bool
	// fallback serves GET and HEAD requests outside /api/ that match no
	// route (the web UI); nil leaves them to the JSON 404.
	fallback http.Handler

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

const (
	serverKey    = "puod.server"
	requestIDKey = "puod.request_id"
	principalKey = "puod.principal"
	// DefaultMaxBodyBytes is the default request body limit.
	DefaultMaxBodyBytes = 1 << 20
)

// PublicAPIRoutes are the only /api/v1 routes that do not require a bearer
// token, because they carry their own credentials (a password, a
// per-source webhook secret). Adding one here is a security decision.
var PublicAPIRoutes = []string{
	"POST /api/v1/auth/login",
	"POST /api/v1/auth/refresh",
	"POST /api/v1/webhooks/:source_id",
	"POST /api/v1/lineage",
	"GET /api/v1/openapi.json",
}

// New builds the server. auth is required: there is no unauthenticated
// mode.
func New(opts Options, log hclog.Logger, auth Authenticator) *Server {
	if auth == nil {
		panic("api.New: an Authenticator is required")
	}
	gin.SetMode(gin.ReleaseMode)
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Server{engine: gin.New(), log: log.Named("http"), auth: auth, reg: opts.Registry, public: map[string]bool{}}
	for _, r := range PublicAPIRoutes {
		s.public[r] = true
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "puod_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "puod_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	s.reg.MustRegister(s.requests, s.latency)
	s.mappers = append(s.mappers, storeErrors)

	e := s.engine
	// Client addresses (login rate limits, audit) come from the connection
	// unless an operator configures trusted proxies: trusting
	// X-Forwarded-For from anyone would let a client choose its address.
	_ = e.SetTrustedProxies(opts.TrustedProxies)
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(s.requestID, s.recover, s.observe, s.limitBody(opts.MaxBodyBytes), checkText)
	e.NoRoute(func(c *gin.Context) {
		if s.fallback != nil && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) && !isAPIPath(c.Request.URL.Path) {
			c.Status(http.StatusOK) // gin presets 404 for unmatched routes
			s.fallback.ServeHTTP(c.Writer, c.Request)
			return
		}
		Fail(c, Errorf(http.StatusNotFound, CodeNotFound, "no route %s %s; the API reference is at /api/v1/openapi.json", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		Fail(c, Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	s.api = e.Group("/api/v1", s.authenticate)
	s.registerOpenAPI()
	return s
}

// Handler returns the http.Handler serving everything.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine exposes the gin engine for routes outside /api/v1 (the web UI).
func (s *Server) Engine() *gin.Engine { return s.engine }

// API is the authenticated /api/v1 group.
func (s *Server) API() *gin.RouterGroup { return s.api }

// Registry is the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Public registers an /api/v1 route that authenticates by itself. The route
// must be listed in PublicAPIRoutes, or Public panics at start.
func (s *Server) Public(method, path string, h ...gin.HandlerFunc) {
	full := "/api/v1" + path
	if !s.public[method+" "+full] {
		panic("api: " + method + " " + full + " is not in PublicAPIRoutes: register it on API() or add it there deliberately")
	}
	s.engine.Handle(method, full, h...)
}

// SetFallback sets the handler of GET and HEAD requests outside /api/ that
// match no route: the web UI, whose client-side routes (/sources, …) are
// not known to the server. Unknown /api/ paths keep the JSON 404. Call it
// before serving.
func (s *Server) SetFallback(h http.Handler) { s.fallback = h }

func isAPIPath(p string) bool { return p == "/api" || strings.HasPrefix(p, "/api/") }

// AddReadinessCheck adds a check to /readyz.
func (s *Server) AddReadinessCheck(c ReadinessCheck) { s.checks = append(s.checks, c) }

// AddErrorMapper registers a mapper of domain errors to API errors.
func (s *Server) AddErrorMapper(m ErrorMapper) { s.mappers = append(s.mappers, m) }

// RequestID returns the request's id.
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

func (s *Server) requestID(c *gin.Context) {
	c.Set(serverKey, s)
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("handler panicked", "request_id", RequestID(c), "path", c.FullPath(), "panic", r)
			Fail(c, Errorf(http.StatusInternalServerError, CodeInternal, "the server failed to handle the request; quote request id %s when reporting it", RequestID(c)))
		}
	}()
	c.Next()
}

func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
	s.latency.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return
	}
	level := hclog.Debug
	if status >= 500 {
		level = hclog.Warn
	}
	s.log.Log(level, "request", "method", c.Request.Method, "route", route, "status", status, "duration", elapsed, "request_id", RequestID(c))
}

func (s *Server) limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			Fail(c, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is %d bytes; the limit is %d bytes", c.Request.ContentLength, max))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// checkText refuses path and query parameters that are not valid UTF-8 or
// hold a NUL character: no resource has such a name or id, and PostgreSQL
// refuses them in text columns, which would otherwise surface as a 500.
func checkText(c *gin.Context) {
	bad := func(v string) bool { return strings.ContainsRune(v, 0) || !utf8.ValidString(v) }
	for _, p := range c.Params {
		if bad(p.Value) {
			Fail(c, Errorf(http.StatusBadRequest, CodeInvalid, "path parameter %q contains a NUL character or invalid UTF-8", p.Key))
			return
		}
	}
	for key, vals := range c.Request.URL.Query() {
		for _, v := range vals {
			if bad(key) || bad(v) {
				Fail(c, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter %q contains a NUL character or invalid UTF-8", strings.ToValidUTF8(key, "?")))
				return
			}
		}
	}
	c.Next()
}

func (s *Server) authenticate(c *gin.Context) {
	// Public routes are registered on the engine, not on this group, so this
	// middleware never sees them; everything here needs a principal.
	p, err := s.auth.Authenticate(c)
	if err != nil {
		Fail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Request = c.Request.WithContext(identity.With(c.Request.Context(), p))
	c.Next()
}

// Principal returns the authenticated caller of an /api/v1 request.
func Principal(c *gin.Context) (identity.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return identity.Principal{}, false
	}
	return v.(identity.Principal), true
}

// Require returns a middleware that lets through callers whose role in the
// current profile allows need, and answers 403 to the others.
func Require(need identity.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := Principal(c)
		if !ok {
			Fail(c, Errorf(http.StatusUnauthorized, CodeUnauthenticated, "authentication required"))
			return
		}
		if !p.Role.Allows(need) {
			Fail(c, Errorf(http.StatusForbidden, CodeForbidden, "this action needs the %s role in profile %s; you are %s", need, p.ProfileID, p.Role))
			return
		}
		c.Next()
	}
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	results := map[string]string{}
	ok := true
	for _, chk := range s.checks {
		if err := chk.Check(ctx); err != nil {
			results[chk.Name] = err.Error()
			ok = false
		} else {
			results[chk.Name] = "ok"
		}
	}
	status := http.StatusOK
	state := "ready"
	if !ok {
		status, state = http.StatusServiceUnavailable, "not ready"
	}
	c.JSON(status, gin.H{"status": state, "checks": results})
}

// Routes lists every registered route as "METHOD /path".
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// IsPublic reports whether an /api/v1 route is in PublicAPIRoutes.
func (s *Server) IsPublic(route string) bool {
	return s.public[route] || !strings.HasPrefix(strings.SplitN(route, " ", 2)[1], "/api/v1")
}
