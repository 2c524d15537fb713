package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cache/redistest"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// replicaRedisDB is the Redis logical database the replica test owns on the
// shared Redis: the host's keys (puod:cache:*, puod:tag:*, the puod:events
// stream) have fixed names, so the test cannot give them a per-test prefix
// and takes a database of its own instead, emptied of puod:* at start and
// end.
const replicaRedisDB = 11

// waitLong bounds every wait for something asynchronous (an event crossing
// Redis, a Redis coming back). It is a deadline against hangs, not a
// timing assertion.
const waitLong = 60 * time.Second

// TestReplicas_shareCacheAndEvents: two hosts on one PostgreSQL database
// and one Redis, as behind a load balancer. A card computed on one replica
// is served from the shared cache by the other; a run that enters through
// one replica reaches the event streams of the other, with the tags of
// what it changed, and invalidates the cached cards of both.
func TestReplicas_shareCacheAndEvents(t *testing.T) {
	t.Parallel()
	redisURL := replicaRedisURL(t)
	dbURL := storetest.NewPostgresDatabase(t)
	secretKey := newSecretKey(t)
	replica := func(name string) *testEnv {
		cfg := replicaConfig(t)
		cfg.DatabaseURL, cfg.RedisURL, cfg.SecretKey = dbURL, redisURL, secretKey
		return startReplica(t, name, cfg)
	}
	a, b := replica("a"), replica("b")

	// One login is good on every replica: they share the signing key.
	admin, _ := a.login(t, "admin", adminPassword)
	must(t, b.do(t, req{method: "GET", path: "/api/v1/auth/me", token: admin}), http.StatusOK)

	stream := openEventStream(t, b, admin)

	// B computes the card, then answers it from the cache; A answers it
	// from the same cache.
	const card = "puod.runs_by_source"
	first := queryCard(t, b, admin, card)
	if first.Cached || !slices.Equal(first.Tags, []string{"runs"}) {
		t.Fatalf("first query on B: cached=%v tags=%v, want a fresh answer tagged [runs]", first.Cached, first.Tags)
	}
	if got := first.runsBySource(t); len(got) != 0 {
		t.Fatalf("first query on B: runs by source %v, want none (fresh database)", got)
	}
	second := queryCard(t, b, admin, card)
	if !second.Cached || second.AsOf != first.AsOf || string(second.Frame) != string(first.Frame) {
		t.Fatalf("second query on B: cached=%v as_of=%s, want the cached answer of %s", second.Cached, second.AsOf, first.AsOf)
	}
	onA := queryCard(t, a, admin, card)
	if !onA.Cached || onA.AsOf != first.AsOf || string(onA.Frame) != string(first.Frame) {
		t.Fatalf("query on A after B: cached=%v as_of=%s frame=%s, want B's cached answer (as_of %s): the replicas do not share the cache",
			onA.Cached, onA.AsOf, onA.Frame, first.AsOf)
	}

	// A run enters through A, as an OpenLineage event.
	editorToken := createAPIToken(t, a, admin, "replica lineage", "editor")
	runID := randomID(t)
	postLineage(t, a, editorToken, "COMPLETE", runID, "replicas", "nightly_load")

	// B's stream announces it, with the tags of what changed.
	ev := stream.waitRunChanged(t, runID)
	var rc bus.RunChanged
	if err := json.Unmarshal(ev.Payload, &rc); err != nil {
		t.Fatalf("run.changed payload %s: %v", ev.Payload, err)
	}
	if rc.State != store.RunSucceeded || rc.RunID == "" || rc.SourceID == "" || rc.PipelineID == "" {
		t.Errorf("run.changed payload %s: want state succeeded with run, source and pipeline ids", ev.Payload)
	}
	var run struct {
		ID         string `json:"id"`
		SourceID   string `json:"source_id"`
		PipelineID string `json:"pipeline_id"`
		ExternalID string `json:"external_id"`
		State      string `json:"state"`
	}
	must(t, b.do(t, req{method: "GET", path: "/api/v1/runs/" + rc.RunID, token: admin}), http.StatusOK).json(t, &run)
	if run.ExternalID != runID || run.SourceID != rc.SourceID || run.PipelineID != rc.PipelineID || run.State != store.RunSucceeded {
		t.Errorf("run on B %+v does not match the event %s", run, ev.Payload)
	}
	if want := []string{"runs", "source:" + run.SourceID, "pipeline:" + run.PipelineID}; !slices.Equal(ev.Tags, want) {
		t.Errorf("run.changed tags %v, want %v", ev.Tags, want)
	}

	// The event on B means the cached card is stale: B's next query
	// computes it again, with the run, and A then serves that answer.
	after := queryCard(t, b, admin, card)
	if after.Cached {
		t.Fatalf("query on B after its stream announced run.changed: cached=true (as_of %s, frame %s): the cached card was not invalidated before the event reached the page",
			after.AsOf, after.Frame)
	}
	if got, want := after.runsBySource(t), map[string]int{"OpenLineage": 1}; !maps.Equal(got, want) {
		t.Errorf("query on B after the run: runs by source %v, want %v", got, want)
	}
	onA = queryCard(t, a, admin, card)
	if !onA.Cached || onA.AsOf != after.AsOf || string(onA.Frame) != string(after.Frame) {
		t.Errorf("query on A after B recomputed: cached=%v as_of=%s frame=%s, want B's new answer (as_of %s) from the cache",
			onA.Cached, onA.AsOf, onA.Frame, after.AsOf)
	}
}

// TestRedisOutage_cardsStillAnswer: when Redis dies, card queries answer
// from the store (uncached, still correct), ingest goes on and the API
// stays up; when it comes back, answers are cached and invalidated again.
func TestRedisOutage_cardsStillAnswer(t *testing.T) {
	t.Parallel()
	rs := redistest.StartServer(t)
	cfg := replicaConfig(t)
	cfg.RedisURL = rs.URL()
	e := startReplica(t, "solo", cfg)
	admin, _ := e.login(t, "admin", adminPassword)
	editorToken := createAPIToken(t, e, admin, "outage lineage", "editor")

	const card = "puod.runs_by_source"
	first := queryCard(t, e, admin, card)
	if first.Cached || len(first.runsBySource(t)) != 0 {
		t.Fatalf("first query: cached=%v frame=%s, want a fresh answer without runs", first.Cached, first.Frame)
	}
	if second := queryCard(t, e, admin, card); !second.Cached || second.AsOf != first.AsOf {
		t.Fatalf("second query with Redis up: cached=%v as_of=%s, want the cached answer of %s", second.Cached, second.AsOf, first.AsOf)
	}

	rs.Stop()

	// Ingest goes on (the store holds the run; only its event is lost) and
	// cards answer with the new run: the first from the store, the next
	// ones possibly from the process's near cache, never an error.
	postLineage(t, e, editorToken, "FAIL", randomID(t), "outage", "during")
	want := map[string]int{"OpenLineage": 1}
	for i := range 3 {
		c := queryCard(t, e, admin, card)
		if i == 0 && c.Cached {
			t.Errorf("query %d with Redis down: cached=true (as_of %s), want the answer computed after the run", i, c.AsOf)
		}
		if got := c.runsBySource(t); !maps.Equal(got, want) {
			t.Errorf("query %d with Redis down: runs by source %v, want %v", i, got, want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		must(t, e.do(t, req{method: "GET", path: path}), http.StatusOK)
	}
	must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: admin}), http.StatusOK)
	must(t, e.do(t, req{method: "GET", path: "/api/v1/runs", token: admin}), http.StatusOK)

	rs.Start()

	// Once the cache's back-off ends (and the near cache's entry has
	// expired), answers are stored in the restarted Redis again.
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rc.Close()
	waitCard(t, e, admin, card, "a card answer stored in Redis after it came back", func(c cardAnswer) bool {
		if got := c.runsBySource(t); !maps.Equal(got, want) {
			t.Fatalf("query after Redis came back: runs by source %v, want %v (cached=%v)", got, want, c.Cached)
		}
		keys, err := rc.Keys(t.Context(), "puod:cache:*").Result()
		return err == nil && len(keys) > 0
	})

	// And the bus follows the new Redis: a run sent now invalidates the
	// cached card.
	postLineage(t, e, editorToken, "COMPLETE", randomID(t), "outage", "after")
	want = map[string]int{"OpenLineage": 2}
	waitCard(t, e, admin, card, "the run sent after Redis came back", func(c cardAnswer) bool {
		return maps.Equal(c.runsBySource(t), want)
	})
}

// --- replicas ---------------------------------------------------------------

// replicaConfig is a host configuration without plugins on SQLite in a
// temp dir; callers point it at PostgreSQL and Redis.
func replicaConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.PluginDir = t.TempDir()
	cfg.AdminPassword = adminPassword
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// startReplica builds a host with app.New and runs it (Run: plugins,
// collector, its own listener) until the test ends, when it cancels Run
// and waits for it to return: that is the host's whole shutdown (HTTP,
// event streams, cards, cache, bus, plugins, store). The test talks to it
// through an httptest server on the same handler, so the harness's
// helpers apply.
func startReplica(t *testing.T, name string, cfg config.Config) *testEnv {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "puod-" + name, Level: hclog.Warn, Output: newTestWriter(t)})
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("app.New (replica %s): %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("replica %s: Run: %v", name, err)
			}
		case <-time.After(waitLong):
			t.Errorf("replica %s did not stop within %s", name, waitLong)
		}
		srv.Close()
	})
	client := *srv.Client()
	client.Timeout = waitLong // a hung API fails the test instead of hanging it
	dialect := store.DialectSQLite
	if cfg.DatabaseURL != "" {
		dialect = store.DialectPostgres
	}
	return &testEnv{dialect: dialect, cfg: cfg, app: a, srv: srv, client: &client}
}

// replicaRedisURL is the shared Redis's URL with the replica test's
// logical database, emptied of the host's keys now and when the test
// ends (after the replicas stopped: cleanups run last-in, first-out).
func replicaRedisURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(replicaRedisDB)
	s := u.String()
	deletePuodKeys(t, s)
	t.Cleanup(func() { deletePuodKeys(t, s) })
	return s
}

func deletePuodKeys(t *testing.T, redisURL string) {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, "puod:*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan puod:* in %s: %v", redisURL, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete %d puod:* keys in %s: %v", len(keys), redisURL, err)
		}
	}
}

// newSecretKey is a PUOD_SECRET_KEY: replicas must share it, or a token
// signed by one is refused by the other.
func newSecretKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "run-" + hex.EncodeToString(b)
}

// --- API calls ----------------------------------------------------------------

// createAPIToken creates an API token of role in the caller's profile and
// returns its secret.
func createAPIToken(t *testing.T, e *testEnv, admin, name, role string) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/tokens", token: admin, body: map[string]any{"name": name, "role": role}}),
		http.StatusCreated).json(t, &tok)
	if tok.Token == "" {
		t.Fatal("POST /api/v1/tokens answered no token")
	}
	return tok.Token
}

// postLineage sends one OpenLineage RunEvent, the way emitters do, and
// checks that it changed a run.
func postLineage(t *testing.T, e *testEnv, token, eventType, runID, namespace, job string) {
	t.Helper()
	var out struct {
		Changed int `json:"changed"`
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/lineage", token: token, body: map[string]any{
		"eventType": eventType, "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "producer": "https://example.com/replicas-test",
		"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":       map[string]any{"runId": runID}, "job": map[string]any{"namespace": namespace, "name": job}}}), http.StatusOK).json(t, &out)
	if out.Changed != 1 {
		t.Fatalf("lineage %s %s: changed %d runs, want 1", eventType, runID, out.Changed)
	}
}

// cardAnswer is the answer of POST /api/v1/cards/query.
type cardAnswer struct {
	Frame  json.RawMessage `json:"frame"`
	AsOf   string          `json:"as_of"`
	Cached bool            `json:"cached"`
	Tags   []string        `json:"tags"`
}

// queryCard queries a built-in card with no options over the default time
// range.
func queryCard(t *testing.T, e *testEnv, token, typ string) cardAnswer {
	t.Helper()
	var c cardAnswer
	must(t, e.do(t, req{method: "POST", path: "/api/v1/cards/query", token: token,
		body: map[string]any{"type": typ, "options": map[string]any{}, "time_range": map[string]string{"from": "now-24h", "to": "now"}}}),
		http.StatusOK).json(t, &c)
	return c
}

// runsBySource reads a puod.runs_by_source frame: source name → runs.
func (c cardAnswer) runsBySource(t *testing.T) map[string]int {
	t.Helper()
	var fr struct {
		Name   string `json:"name"`
		Fields []struct {
			Name   string            `json:"name"`
			Values []json.RawMessage `json:"values"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(c.Frame, &fr); err != nil {
		t.Fatalf("frame %s: %v", c.Frame, err)
	}
	var names []string
	var runs []int
	for _, f := range fr.Fields {
		for _, v := range f.Values {
			switch f.Name {
			case "source":
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					t.Fatalf("frame %s: source %s: %v", c.Frame, v, err)
				}
				names = append(names, s)
			case "runs":
				var n int
				if err := json.Unmarshal(v, &n); err != nil {
					t.Fatalf("frame %s: runs %s: %v", c.Frame, v, err)
				}
				runs = append(runs, n)
			}
		}
	}
	if fr.Name != "runs_by_source" || len(names) != len(runs) {
		t.Fatalf("not a runs_by_source frame: %s", c.Frame)
	}
	out := map[string]int{}
	for i, n := range names {
		out[n] += runs[i]
	}
	return out
}

// waitCard queries the card until ok holds for an answer (deadline
// waitLong).
func waitCard(t *testing.T, e *testEnv, token, typ, what string, ok func(cardAnswer) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		c := queryCard(t, e, token, typ)
		if ok(c) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %s: still cached=%v as_of=%s frame=%s", waitLong, what, c.Cached, c.AsOf, c.Frame)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- event streams ------------------------------------------------------------

// eventStream is a GET /api/v1/events stream read by a goroutine.
type eventStream struct {
	events <-chan sseEvent
	// errc receives why the stream ended.
	errc <-chan error
}

// sseEvent is one dispatched event: its SSE fields and its data decoded.
type sseEvent struct {
	ID      string          `json:"-"`
	Event   string          `json:"-"`
	Topic   string          `json:"topic"`
	Tags    []string        `json:"tags"`
	Payload json.RawMessage `json:"payload"`
	DataID  string          `json:"id"`
}

// openEventStream opens the stream as the browser does (fetch with the
// bearer token) and checks its preamble. The hub subscribed before it
// answered, so every event published afterwards is on it.
func openEventStream(t *testing.T, e *testEnv, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/events", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	res, err := e.srv.Client().Do(hr) // no client timeout: the stream is long
	if err != nil {
		cancel()
		t.Fatalf("GET /api/v1/events: %v", err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		_ = res.Body.Close()
		cancel()
		t.Fatalf("GET /api/v1/events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 256)
	errc := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer close(events)
		errc <- readEvents(bufio.NewReader(res.Body), events)
	}()
	// Registered after the replica: runs before its shutdown.
	t.Cleanup(func() {
		cancel()
		_ = res.Body.Close()
		<-stopped
	})
	return &eventStream{events: events, errc: errc}
}

// readEvents parses SSE blocks and sends those that dispatch an event.
func readEvents(r *bufio.Reader, out chan<- sseEvent) error {
	var ev sseEvent
	var data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if data != "" {
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					return errors.New("event data is not JSON: " + data)
				}
				out <- ev
			}
			ev, data = sseEvent{}, ""
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			data = value
		}
	}
}

// waitRunChanged reads the stream until the run.changed of the run with
// external id runID, checking every event's SSE fields against its data.
func (s *eventStream) waitRunChanged(t *testing.T, runID string) sseEvent {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("event stream ended before run.changed of %s: %v", runID, <-s.errc)
			}
			if ev.ID != ev.DataID || ev.Event != ev.Topic || ev.ID == "" {
				t.Errorf("event id %q / event %q do not match its data (id %q, topic %q)", ev.ID, ev.Event, ev.DataID, ev.Topic)
			}
			if ev.Topic != bus.TopicRunChanged {
				continue
			}
			var p bus.RunChanged
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatalf("run.changed payload %s: %v", ev.Payload, err)
			}
			if p.ExternalID == runID {
				return ev
			}
		case <-timeout:
			t.Fatalf("no run.changed of %s on the other replica's event stream within %s", runID, waitLong)
		}
	}
}
