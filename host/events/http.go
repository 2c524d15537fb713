package events

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
)

var (
	errClosed  = errors.New("events: hub closed")
	errTooMany = errors.New("events: too many streams")
)

// maxLastEventID bounds the Last-Event-ID we look up; ours are UUIDs or
// short cursors, so anything longer is unknown anyway.
const maxLastEventID = 128

// Register mounts GET /api/v1/events; any member of the profile may
// listen.
func (h *Hub) Register(srv *api.Server) {
	srv.API().GET("/events", api.Require(identity.RoleViewer), h.serve)
}

func (h *Hub) serve(c *gin.Context) {
	p, ok := api.Principal(c)
	if !ok {
		api.Fail(c, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required"))
		return
	}
	lastID := c.GetHeader("Last-Event-ID")
	if lastID == "" {
		// The browser's fetch-based client sends the header; the query
		// parameter is for clients that cannot set headers.
		lastID = c.Query("last_event_id")
	}
	if len(lastID) > maxLastEventID {
		lastID = lastID[:maxLastEventID] // unknown either way: answered with a reset
	}
	s, first, err := h.open(p.UserID, p.ProfileID, lastID)
	switch {
	case errors.Is(err, errTooMany):
		c.Header("Retry-After", "30")
		api.Fail(c, api.Errorf(http.StatusTooManyRequests, api.CodeRateLimited,
			"you have %d event streams open, the limit per user; close other PUOD tabs or windows, or wait for them to disconnect", h.cfg.MaxStreamsPerUser))
		return
	case errors.Is(err, errClosed):
		c.Header("Retry-After", "5")
		api.Fail(c, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the server is shutting down; reconnect in a few seconds"))
		return
	case err != nil:
		api.Fail(c, err)
		return
	}
	defer h.close(s)

	w := c.Writer
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	// nginx buffers proxied answers unless told not to, which would hold
	// events back until its buffer fills.
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(b []byte) bool {
		// A client that stopped reading fills the socket; the deadline
		// ends the stream instead of blocking this goroutine for good.
		// (ErrNotSupported: a writer without deadlines, as in unit tests.)
		_ = rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(append([]byte("retry: 3000\n\n"), first...)) {
		return
	}
	ping := time.NewTicker(h.cfg.Ping)
	defer ping.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case e := <-s.ch:
			if !write(e.frame) {
				return
			}
			h.sent.Inc()
		case <-s.wake:
			if reset := h.catchUp(s); reset != nil && !write(reset) {
				return
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		}
	}
}
