package events_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/events"
	"github.com/puod/puod/host/identity"
)

// tokenAuth knows a fixed set of bearer tokens.
type tokenAuth map[string]identity.Principal

func (a tokenAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	if p, ok := a[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]; ok {
		return p, nil
	}
	return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
}

var principals = tokenAuth{
	"alice": {UserID: "u-alice", Username: "alice", ProfileID: "p1", Role: identity.RoleViewer},
	"carol": {UserID: "u-carol", Username: "carol", ProfileID: "p1", Role: identity.RoleAdmin},
	"bob":   {UserID: "u-bob", Username: "bob", ProfileID: "p2", Role: identity.RoleViewer},
}

type env struct {
	hub *events.Hub
	bus *bus.Memory
	srv *httptest.Server
}

// newEnv serves the events route of a hub over real HTTP, with the
// shutdown of the HTTP server ending the streams as in the app.
func newEnv(t *testing.T, cfg events.Config) *env {
	t.Helper()
	b, err := bus.NewMemory(bus.MemoryConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := events.New(cfg, hclog.NewNullLogger(), b, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Options{}, hclog.NewNullLogger(), principals)
	hub.Register(a)
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Config.RegisterOnShutdown(hub.Close)
	srv.Start()
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	return &env{hub: hub, bus: b, srv: srv}
}

func (e *env) publish(t *testing.T, topic, profile string, payload any) bus.Event {
	t.Helper()
	ev, err := bus.NewEvent(topic, profile, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.bus.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// frame is one SSE block as read off the wire.
type frame struct {
	id, event, data string
	hasID           bool
	retry           string
	comments        []string
}

type client struct {
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// connect opens a stream; header holds extra request headers.
func (e *env) connect(t *testing.T, token, query string, header map[string]string) (*client, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &client{res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c, res
}

// open connects and checks the stream's headers and its retry preamble.
func (e *env) open(t *testing.T, token, query string, header map[string]string) *client {
	t.Helper()
	c, res := e.connect(t, token, query, header)
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /api/v1/events: %d %s", res.StatusCode, body)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if f := c.next(t); f.retry != "3000" {
		t.Fatalf("first block %+v, want retry: 3000", f)
	}
	return c
}

func (c *client) close() {
	c.cancel()
	_ = c.res.Body.Close()
}

// next reads one block (up to a blank line).
func (c *client) next(t *testing.T) frame {
	t.Helper()
	f, err := c.read()
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	return f
}

func (c *client) read() (frame, error) {
	var f frame
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return f, nil
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "":
			f.comments = append(f.comments, value)
		case "id":
			f.id, f.hasID = value, true
		case "event":
			f.event = value
		case "data":
			f.data = value
		case "retry":
			f.retry = value
		}
	}
}

// nextEvent skips blocks that dispatch nothing (pings, bare ids).
func (c *client) nextEvent(t *testing.T) frame {
	t.Helper()
	for {
		if f := c.next(t); f.data != "" {
			return f
		}
	}
}

type wire struct {
	ID      string          `json:"id"`
	Topic   string          `json:"topic"`
	Time    time.Time       `json:"time"`
	Tags    []string        `json:"tags"`
	Payload json.RawMessage `json:"payload"`
}

func decode(t *testing.T, f frame) wire {
	t.Helper()
	var w wire
	if err := json.Unmarshal([]byte(f.data), &w); err != nil {
		t.Fatalf("data %q: %v", f.data, err)
	}
	if w.ID != f.id || w.Topic != f.event {
		t.Fatalf("data %+v does not match id %q / event %q", w, f.id, f.event)
	}
	return w
}

// expect reads the next event and checks it is ev.
func expect(t *testing.T, c *client, ev bus.Event) {
	t.Helper()
	f := c.nextEvent(t)
	if f.id != ev.ID || f.event != ev.Topic {
		t.Fatalf("got event %s %s (%s), want %s %s", f.event, f.id, f.data, ev.Topic, ev.ID)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEvents_deliversOwnProfileOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{})
	alice := e.open(t, "alice", "", nil)
	bob := e.open(t, "bob", "", nil)

	cases := []struct {
		topic    string
		payload  any
		wantTags []string
	}{
		{bus.TopicRunChanged, bus.RunChanged{SourceID: "S", PipelineID: "P", RunID: "r1", State: "failed"}, []string{"runs", "source:S", "pipeline:P"}},
		{bus.TopicRunChanged, bus.RunChanged{SourceID: "S", RunID: "r2", State: "running"}, []string{"runs", "source:S"}},
		{bus.TopicDashboardChanged, map[string]any{"dashboard_id": "d1", "version": 2}, []string{"dashboard:d1"}},
		{bus.TopicMetricAppended, bus.MetricAppended{Series: []string{"sales"}, Points: 1}, []string{"metrics"}},
		{bus.TopicAlertChanged, map[string]any{"alert_id": "a1"}, []string{"alerts", "alert.changed"}},
		{bus.TopicExportChanged, map[string]any{"export_id": "x1"}, []string{"export.changed"}},
	}
	for _, c := range cases {
		t.Run(c.topic+" "+strings.Join(c.wantTags, ","), func(t *testing.T) {
			// The other profile's event goes first: had it been delivered,
			// it would be read instead of alice's.
			foreign := e.publish(t, c.topic, "p2", c.payload)
			own := e.publish(t, c.topic, "p1", c.payload)
			f := alice.nextEvent(t)
			if f.id != own.ID || f.event != c.topic {
				t.Fatalf("alice got %s %s %s, want her own %s %s", f.event, f.id, f.data, c.topic, own.ID)
			}
			w := decode(t, f)
			if !slices.Equal(w.Tags, c.wantTags) {
				t.Errorf("tags %v, want %v", w.Tags, c.wantTags)
			}
			if !w.Time.Equal(own.Time) {
				t.Errorf("time %v, want %v", w.Time, own.Time)
			}
			want, _ := json.Marshal(c.payload)
			if string(w.Payload) != string(want) {
				t.Errorf("payload %s, want %s", w.Payload, want)
			}
			if strings.Contains(f.data, "profile") {
				t.Errorf("data shows the profile: %s", f.data)
			}
			expect(t, bob, foreign)
		})
	}
}

func TestEvents_unauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{})
	for name, token := range map[string]string{"no token": "", "unknown token": "mallory"} {
		_, res := e.connect(t, token, "", nil)
		body, _ := io.ReadAll(res.Body)
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(body, &eb) != nil || eb.Error.Code != api.CodeUnauthenticated {
			t.Errorf("%s: %d %s %s", name, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	if n := e.hub.Streams(); n != 0 {
		t.Errorf("%d streams open after refused requests", n)
	}
}

func TestEvents_replayAfterLastEventID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{})
	run := bus.RunChanged{SourceID: "S", RunID: "r"}

	first := e.open(t, "alice", "", nil)
	pos := first.next(t) // the position block: an id, nothing to dispatch
	if !pos.hasID || pos.id == "" || pos.data != "" {
		t.Fatalf("position block %+v", pos)
	}
	e1 := e.publish(t, bus.TopicRunChanged, "p1", run)
	expect(t, first, e1)
	first.close()
	// Missed while away: two of alice's profile, one of another.
	e2 := e.publish(t, bus.TopicRunChanged, "p1", run)
	e.publish(t, bus.TopicRunChanged, "p2", run)
	e3 := e.publish(t, bus.TopicMetricAppended, "p1", bus.MetricAppended{Points: 1})

	t.Run("header", func(t *testing.T) {
		c := e.open(t, "alice", "", map[string]string{"Last-Event-ID": e1.ID})
		expect(t, c, e2)
		expect(t, c, e3)
		// Then live events.
		e4 := e.publish(t, bus.TopicRunChanged, "p1", run)
		expect(t, c, e4)
		c.close()
	})
	t.Run("query", func(t *testing.T) {
		c := e.open(t, "carol", "?last_event_id="+e2.ID, nil)
		expect(t, c, e3)
	})
	t.Run("position of a stream that saw nothing", func(t *testing.T) {
		// bob's profile has events in the ring but none after this point,
		// and carol's new stream has not seen any: both positions replay
		// exactly what came after them.
		b := e.open(t, "bob", "", nil)
		bpos := b.next(t)
		b.close()
		e5 := e.publish(t, bus.TopicRunChanged, "p2", run)
		c := e.open(t, "bob", "", map[string]string{"Last-Event-ID": bpos.id})
		expect(t, c, e5)
	})
	t.Run("cursor of an empty ring", func(t *testing.T) {
		e := newEnv(t, events.Config{})
		c := e.open(t, "alice", "", nil)
		cur := c.next(t)
		c.close()
		ev := e.publish(t, bus.TopicRunChanged, "p1", run)
		c = e.open(t, "alice", "", map[string]string{"Last-Event-ID": cur.id})
		expect(t, c, ev)
	})
}

func TestEvents_unknownIDResets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{Ring: 5})
	run := bus.RunChanged{SourceID: "S", RunID: "r"}
	watch := e.open(t, "alice", "", nil)
	old := e.publish(t, bus.TopicRunChanged, "p1", run)
	foreign := e.publish(t, bus.TopicRunChanged, "p2", run)
	var last bus.Event
	for range 4 {
		last = e.publish(t, bus.TopicRunChanged, "p1", run)
	}
	// Once the last one reached a stream, it is in the ring (events enter
	// the ring first), which holds the last 5: old has left it.
	expect(t, watch, old)
	for range 3 {
		watch.nextEvent(t)
	}
	expect(t, watch, last)
	// Ordered: each case publishes one more event, which pushes foreign
	// out of the ring after the first.
	for _, tc := range []struct{ name, id string }{
		{"another profile's", foreign.ID},
		{"evicted", old.ID},
		{"never seen", "0190d7a4-7c1e-7e2a-9a3b-5d1f0b6c2e01"},
		{"garbage", `' OR 1=1 --`},
		{"cursor of elsewhere", "abcdef.12"},
	} {
		name, id := tc.name, tc.id
		t.Run(name, func(t *testing.T) {
			c := e.open(t, "alice", "", map[string]string{"Last-Event-ID": id})
			f := c.nextEvent(t)
			w := decode(t, f)
			if f.event != events.TopicReset || string(w.Payload) != `{"reason":"unknown_last_event_id"}` || len(w.Tags) != 0 {
				t.Fatalf("got %+v, want a reset", f)
			}
			c.close()
			// The reset's id is a position: reconnecting with it replays
			// what came after, without another reset.
			next := e.publish(t, bus.TopicDashboardChanged, "p1", map[string]any{"dashboard_id": "d"})
			c = e.open(t, "alice", "", map[string]string{"Last-Event-ID": f.id})
			expect(t, c, next)
		})
	}
}

// TestEvents_slowClientGetsReset: a browser that stops reading does not
// hold up the hub (other streams keep receiving), and when it reads again
// it is told with a reset that it missed events.
func TestEvents_slowClientGetsReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{Ring: 8, ClientBuffer: 2})
	slow := e.open(t, "alice", "", nil)
	other := e.open(t, "bob", "", nil)
	// Far more than the sockets between the server and the client hold,
	// so the stream's writer blocks and its buffer overflows.
	big := map[string]string{"blob": strings.Repeat("x", 32<<10)}
	const burst = 800
	for range burst {
		e.publish(t, bus.TopicExportChanged, "p1", big)
	}
	// The hub still serves the others while alice is not reading.
	bobs := e.publish(t, bus.TopicRunChanged, "p2", bus.RunChanged{RunID: "r"})
	expect(t, other, bobs)

	after := e.publish(t, bus.TopicRunChanged, "p1", bus.RunChanged{RunID: "after"})
	var got, resets int
	for {
		f := slow.nextEvent(t)
		if f.id == after.ID {
			break
		}
		if f.event == events.TopicReset {
			if w := decode(t, f); string(w.Payload) != `{"reason":"lagged"}` {
				t.Fatalf("reset payload %s", w.Payload)
			}
			resets++
			continue
		}
		got++
	}
	if resets == 0 {
		t.Fatalf("read %d of %d events and no reset: the client was never told it missed events", got, burst)
	}
	if got >= burst {
		t.Fatalf("all %d events arrived, yet a reset was sent", got)
	}
	t.Logf("the slow client got %d of %d events and %d reset(s)", got, burst, resets)
}

func TestEvents_disconnectReleasesStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{})
	if n := e.bus.Subscribers(); n != 1 {
		t.Fatalf("bus subscriptions before any stream: %d, want the hub's 1", n)
	}
	var cs []*client
	for range 3 {
		cs = append(cs, e.open(t, "alice", "", nil))
	}
	if n := e.hub.Streams(); n != 3 {
		t.Fatalf("%d streams, want 3", n)
	}
	if n := e.bus.Subscribers(); n != 1 {
		t.Fatalf("bus subscriptions with 3 streams: %d, want 1 for the whole process", n)
	}
	for _, c := range cs {
		c.close()
	}
	waitFor(t, "the streams to be released", func() bool { return e.hub.Streams() == 0 })
	// The released streams free the per-user quota too.
	for range events.DefaultMaxStreamsPerUser {
		e.open(t, "alice", "", nil)
	}
}

func TestEvents_limitPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{MaxStreamsPerUser: 2})
	a := e.open(t, "alice", "", nil)
	e.open(t, "alice", "", nil)
	_, res := e.connect(t, "alice", "", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"rate_limited"`) {
		t.Fatalf("third stream: %d %s", res.StatusCode, body)
	}
	// Another user of the same profile is not affected.
	e.open(t, "carol", "", nil)
	a.close()
	waitFor(t, "a stream to be released", func() bool { return e.hub.Streams() == 2 })
	e.open(t, "alice", "", nil)
}

func TestEvents_pings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{Ping: 5 * time.Millisecond})
	c := e.open(t, "alice", "", nil)
	for {
		f := c.next(t)
		if slices.Contains(f.comments, "ping") {
			return
		}
	}
}

func TestEvents_shutdownEndsStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, events.Config{})
	c := e.open(t, "alice", "", nil)
	c.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (an event stream kept it waiting)", err)
	}
	if _, err := c.read(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after shutdown: %v, want EOF", err)
	}
	if n := e.hub.Streams(); n != 0 {
		t.Fatalf("%d streams after shutdown", n)
	}
}
