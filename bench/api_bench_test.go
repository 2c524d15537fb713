package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver, to probe PostgreSQL

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/auth"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

const benchAdminPassword = "benchmark admin password"

// apiHost is a whole PUOD host (app.New) with the benchmark connector,
// served over real TCP.
type apiHost struct {
	app *app.App
	srv *httptest.Server
}

// startAPIHost builds a host on dialect's database and waits until its
// plugin runs.
func startAPIHost(b *testing.B, dialect string) *apiHost {
	b.Helper()
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.PluginDir = b.TempDir()
	cfg.AdminPassword = benchAdminPassword
	if dialect == store.DialectPostgres {
		// Skips loudly without PostgreSQL, fails under CI=true.
		cfg.DatabaseURL = storetest.NewPostgresDatabase(b)
	}
	bundle(b, cfg.PluginDir, "bench.runs")
	ctx := context.Background()
	a, err := app.New(ctx, cfg, hclog.NewNullLogger(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Plugins().Start(ctx); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(func() {
		srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = a.Plugins().Close(cctx)
		_ = a.Store().Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for running := false; !running; {
		for _, st := range a.Plugins().Plugins() {
			running = running || st.State == "running"
		}
		if time.Now().After(deadline) {
			b.Fatalf("benchmark plugin not running after 60s: %+v", a.Plugins().Plugins())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &apiHost{app: a, srv: srv}
}

// call sends one JSON request and decodes the answer into out (if not nil).
func (h *apiHost) call(b *testing.B, client *http.Client, method, path, token string, body any, want int, out any) {
	b.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	rq, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		b.Fatal(err)
	}
	rq.Header.Set("Content-Type", "application/json")
	if token != "" {
		rq.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(rq)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

func (h *apiHost) login(b *testing.B, client *http.Client, user, password string) string {
	b.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	h.call(b, client, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": password}, http.StatusOK, &tr)
	return tr.AccessToken
}

// keepAliveClient is the load generator's client: up to conns kept-alive
// connections to one host.
func keepAliveClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// loadResult is one load round.
type loadResult struct {
	elapsed time.Duration
	lat     []time.Duration
}

func (r loadResult) rate() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// percentile of the round's latencies (q in 0..1).
func (r loadResult) percentile(q float64) time.Duration {
	s := append([]time.Duration(nil), r.lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// load sends n requests made by newReq from conc concurrent workers and
// measures each one's latency; every answer must be 200.
func load(b *testing.B, client *http.Client, newReq func() *http.Request, n, conc int) loadResult {
	b.Helper()
	res := loadResult{lat: make([]time.Duration, n)}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				r, err := client.Do(newReq())
				if err == nil {
					_, err = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if err == nil && r.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", r.StatusCode)
					}
				}
				res.lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed, the first with: %v", f, n, firstErr.Load())
	}
	return res
}

// BenchmarkSourcesList measures an authenticated, profile-scoped
// GET /api/v1/sources answering 50 sources, at 64 concurrent keep-alive
// connections over real TCP, against a gin hello-world handler served and
// loaded the same way in the same run. Target: ratio ≥ 0.40.
func BenchmarkSourcesList(b *testing.B) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		b.Run(dialect, func(b *testing.B) { benchSourcesList(b, dialect) })
	}
}

func benchSourcesList(b *testing.B, dialect string) {
	const (
		conns    = 64
		requests = 10000 // per round
		rounds   = 2     // interleaved, so drift hits both alike
		rows     = 50
	)
	h := startAPIHost(b, dialect)
	client := keepAliveClient(conns)
	defer client.CloseIdleConnections()
	token := h.login(b, client, "admin", benchAdminPassword)
	var me struct {
		Profile struct{ ID string } `json:"profile"`
	}
	h.call(b, client, "GET", "/api/v1/auth/me", token, nil, http.StatusOK, &me)
	for i := 0; i < rows; i++ {
		h.call(b, client, "POST", "/api/v1/sources", token, map[string]any{
			"plugin_id": "bench.runs", "name": fmt.Sprintf("source %02d", i), "config": map[string]any{}, "poll_interval_seconds": 0,
		}, http.StatusCreated, nil)
	}
	var page struct {
		Sources []json.RawMessage `json:"sources"`
	}
	h.call(b, client, "GET", "/api/v1/sources?limit=50", token, nil, http.StatusOK, &page)
	if len(page.Sources) != rows {
		b.Fatalf("list answered %d sources, want %d", len(page.Sources), rows)
	}

	gin.SetMode(gin.ReleaseMode)
	hello := gin.New()
	hello.GET("/hello", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"hello": "world"}) })
	helloSrv := httptest.NewServer(hello)
	defer helloSrv.Close()

	// The same request shape (headers included) for both servers.
	newReq := func(url string) func() *http.Request {
		return func() *http.Request {
			rq, _ := http.NewRequest("GET", url, nil)
			rq.Header.Set("Authorization", "Bearer "+token)
			rq.Header.Set("X-PUOD-Profile", me.Profile.ID)
			return rq
		}
	}
	puodReq := newReq(h.srv.URL + "/api/v1/sources?limit=50")
	ginReq := newReq(helloSrv.URL + "/hello")
	// Warm up: connections, caches, the JIT-free but lazy parts of both.
	load(b, client, ginReq, 2000, conns)
	load(b, client, puodReq, 1000, conns)

	var puod, base loadResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			g := load(b, client, ginReq, requests, conns)
			p := load(b, client, puodReq, requests, conns)
			base.elapsed += g.elapsed
			base.lat = append(base.lat, g.lat...)
			puod.elapsed += p.elapsed
			puod.lat = append(puod.lat, p.lat...)
		}
	}
	b.StopTimer()
	b.ReportMetric(puod.rate(), "puod-req/s")
	b.ReportMetric(base.rate(), "gin-req/s")
	b.ReportMetric(puod.rate()/base.rate(), "ratio")
	b.ReportMetric(float64(puod.percentile(0.99).Microseconds())/1000, "puod-p99-ms")
	b.ReportMetric(float64(base.percentile(0.99).Microseconds())/1000, "gin-p99-ms")
}

// BenchmarkLogin measures what one login costs, next to the argon2id
// verification it is built around, and sends a burst of 1,000 login
// attempts for one user from one address: the limiter must let at most
// its burst through (allowed: passwords checked) and refuse the rest with
// 429 (limited), quickly.
func BenchmarkLogin(b *testing.B) {
	const (
		logins = 10 // sequential, successful; within the per-address burst
		burst  = 1000
		conc   = 64
	)
	h := startAPIHost(b, store.DialectSQLite)
	const password = "benchmark user password"
	hash, err := auth.DefaultPasswordParams.Hash(password)
	if err != nil {
		b.Fatal(err)
	}
	var loginD, verifyD, burstD time.Duration
	var allowed, limited int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each iteration comes from its own loopback address and attacks its
		// own user, so the limits of one iteration do not carry over.
		client := clientFrom(fmt.Sprintf("127.0.0.%d", 2+i%250), conc)
		user := fmt.Sprintf("user-%d", i)
		b.StopTimer()
		if _, _, err := auth.AddUser(context.Background(), h.app.Store(), auth.NewUserSpec{Username: user, Password: password}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		for j := 0; j < logins; j++ {
			if ok, err := auth.VerifyPassword(hash, password); !ok || err != nil {
				b.Fatalf("verify: %v %v", ok, err)
			}
		}
		verifyD += time.Since(start)
		start = time.Now()
		for j := 0; j < logins; j++ {
			h.login(b, client, user, password)
		}
		loginD += time.Since(start)

		body, _ := json.Marshal(map[string]string{"username": user, "password": "a wrong password!"})
		var checked, refused, other atomic.Int64
		var next atomic.Int64
		var wg sync.WaitGroup
		start = time.Now()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= burst {
					res, err := client.Post(h.srv.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
					if err != nil {
						other.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					switch res.StatusCode {
					case http.StatusUnauthorized:
						checked.Add(1)
					case http.StatusTooManyRequests:
						refused.Add(1)
					default:
						other.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		burstD += took
		client.CloseIdleConnections()
		if other.Load() > 0 {
			b.Fatalf("%d login attempts of the burst answered neither 401 nor 429", other.Load())
		}
		// The per-user bucket holds DefaultLoginLimits.UserBurst attempts and
		// refills at UserPerMinute; nothing more may get through.
		lim := auth.DefaultLoginLimits
		most := int64(lim.UserBurst) + int64(math.Ceil(took.Minutes()*lim.UserPerMinute))
		if checked.Load() > most {
			b.Errorf("the limiter let %d of %d attempts check a password in %v; at most %d may", checked.Load(), burst, took, most)
		}
		allowed += checked.Load()
		limited += refused.Load()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(loginD.Microseconds())/1000/(n*logins), "login-ms")
	b.ReportMetric(float64(verifyD.Microseconds())/1000/(n*logins), "argon2id-ms")
	b.ReportMetric(float64(loginD)/float64(verifyD), "ratio")
	b.ReportMetric(float64(allowed)/n, "allowed")
	b.ReportMetric(float64(limited)/n, "limited")
	b.ReportMetric(float64(burstD.Microseconds())/1000/n, "burst-ms")
}

// clientFrom is a keep-alive client whose connections come from the local
// address ip (any 127.0.0.0/8 address reaches the loopback server), so the
// server sees a distinct client address.
func clientFrom(ip string, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "127.") {
				return d.DialContext(ctx, network, addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
	}
	return &http.Client{Transport: tr}
}
