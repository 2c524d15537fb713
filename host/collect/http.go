package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// Error codes this package adds to the API's.
const (
	// CodePluginUnavailable: the source's plugin is not running.
	CodePluginUnavailable = "plugin_unavailable"
	// CodePluginError: the plugin failed to handle the request.
	CodePluginError = "plugin_error"
	// CodeNotPollable: the source is disabled or push-only.
	CodeNotPollable = "not_pollable"
)

// Audited actions.
const (
	ActionSync          = "source.sync"
	ActionWebhookSecret = "source.webhook_secret"
)

// Register mounts the collector's routes:
//
//	POST /api/v1/sources/{id}/sync            editor: poll now
//	POST /api/v1/sources/{id}/webhook-secret  admin: create the webhook secret (shown once)
//	POST /api/v1/metrics                      editor: push business metric points
//	POST /api/v1/webhooks/{source_id}         public: the source's webhook secret
//	POST /api/v1/lineage                      public route, authenticated here: an API token (editor)
func (c *Collector) Register(srv *api.Server) {
	g := srv.API()
	g.POST("/sources/:id/sync", api.Require(identity.RoleEditor), c.handleSync)
	g.POST("/sources/:id/webhook-secret", api.Require(identity.RoleAdmin), c.handleWebhookSecret)
	g.POST("/metrics", api.Require(identity.RoleEditor), c.handleMetrics)
	srv.Public(http.MethodPost, "/webhooks/:source_id", c.handleWebhook)
	srv.Public(http.MethodPost, "/lineage", c.handleLineage)
}

func (c *Collector) record(gc *gin.Context, e audit.Event) {
	if c.audit != nil {
		c.audit.Record(gc, e)
	}
}

// syncRequest is the body of POST /api/v1/sources/{id}/sync. It has no
// fields yet: the body is optional, and when one is sent it is decoded
// strictly like any other, so a client sending options this version does
// not know learns it instead of having them ignored.
type syncRequest struct{}

// handleSync polls a source now. Without ?wait=true it answers 202 at once
// and the poll runs in the background; with it, the answer is the poll's
// result (bounded by the poll timeout).
func (c *Collector) handleSync(gc *gin.Context) {
	id := gc.Param("id")
	ctx := gc.Request.Context()
	var req syncRequest
	if err := decodeOptionalJSON(gc, &req); err != nil {
		api.Fail(gc, err)
		return
	}
	wait := false
	if v := gc.Query("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query parameter wait: must be true or false, got %q", v)
			fail.Fields = []api.FieldProblem{{Field: "wait", Message: "must be true or false"}}
			api.Fail(gc, fail)
			return
		}
		wait = b
	}
	// Check access and pollability before answering, so a 202 means the
	// poll really starts.
	src, err := c.sourceOf(ctx, id)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	if err := pollable(src); err != nil {
		api.Fail(gc, syncError(err))
		return
	}
	c.record(gc, audit.Event{Action: ActionSync, ObjectType: "source", ObjectID: id, Details: map[string]any{"wait": wait}})
	if !wait {
		p, _ := api.Principal(gc)
		// The poll outlives the request, not the collector.
		bg, cancel := context.WithTimeout(identity.With(c.life, p), c.cfg.PollTimeout)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer cancel()
			if _, err := c.SyncNow(bg, id); err != nil {
				c.log.Info("manual sync failed", "source", id, "error", err)
			}
		}()
		gc.JSON(http.StatusAccepted, gin.H{"source_id": id, "status": "started"})
		return
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.PollTimeout)
	defer cancel()
	res, err := c.SyncNow(sctx, id)
	if err != nil {
		api.Fail(gc, syncError(err))
		return
	}
	gc.JSON(http.StatusOK, res)
}

// sourceOf reads a source of the caller's profile. An id that cannot be
// stored names no source: not found, rather than a query PostgreSQL fails.
func (c *Collector) sourceOf(ctx context.Context, id string) (store.Source, error) {
	if !storableText(id) {
		return store.Source{}, fmt.Errorf("source: %w", store.ErrNotFound)
	}
	return c.db.Sources().Get(ctx, id)
}

func pollable(src store.Source) error {
	if !src.Enabled {
		return ErrNotPollable
	}
	if strings.HasPrefix(src.PluginID, builtinPrefix) {
		return ErrNotPollable
	}
	return nil
}

// syncError maps poll errors to API errors.
func syncError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound) && !errors.Is(err, ErrPluginUnavailable):
		return err
	case errors.Is(err, ErrNotPollable):
		return api.Errorf(http.StatusConflict, CodeNotPollable, "this source cannot be polled: it is disabled (enable it) or only receives pushed events")
	case errors.Is(err, ErrLeased):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "another PUOD replica polls this source now; its next poll will pick up new runs")
	case errors.Is(err, ErrPluginUnavailable):
		return api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable, "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(http.StatusGatewayTimeout, CodePluginError, "the poll did not finish in time; what was received is stored and the next poll continues from there")
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return api.Errorf(http.StatusBadGateway, CodePluginError, "%v", err)
	}
	return err
}

// readBody reads a request body within the server's size limit.
func readBody(gc *gin.Context) ([]byte, error) {
	body, err := gc.GetRawData()
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit)
		}
		return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "could not read the request body: %v", err)
	}
	return body, nil
}

// decodeOptionalJSON decodes an optional request body strictly into v (see
// api.DecodeJSON): no body, or one of only white space, leaves v as it is.
func decodeOptionalJSON(gc *gin.Context, v any) error {
	body, err := readBody(gc)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	gc.Request.Body = io.NopCloser(bytes.NewReader(body))
	return api.DecodeJSON(gc, v)
}

// requireJSONContent refuses (415) a body declared as anything but JSON:
// application/json, with or without parameters such as charset, or, when
// structuredSuffix is set, a structured syntax like application/cloudevents+json.
// A body without a Content-Type is read as JSON, like api.DecodeJSON does.
func requireJSONContent(gc *gin.Context, structuredSuffix bool) error {
	ct := strings.ToLower(gc.ContentType())
	if ct == "" || ct == "application/json" || (structuredSuffix && strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json")) {
		return nil
	}
	return api.Errorf(http.StatusUnsupportedMediaType, api.CodeInvalid, "Content-Type must be application/json, got %s", ct)
}

// checkJSONValue checks that body holds exactly one well-formed JSON value,
// with the messages of api.DecodeJSON. It does not look at what the value
// is.
func checkJSONValue(body []byte) *api.Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "malformed JSON: the body ends early")
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "malformed JSON: %v", err)
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "request body has data after the JSON value")
	}
	return nil
}

// storableText reports whether s can be stored in, or compared with, a
// text column on both databases: PostgreSQL refuses NUL characters and
// invalid UTF-8 (the query fails, which would answer 500). Neither has a
// place in an id or a name.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// jsonKindOf names the kind of the JSON value raw starts with.
func jsonKindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// retryAfterHeader sets Retry-After (whole seconds, at least 1).
func retryAfterHeader(gc *gin.Context, d time.Duration) {
	if d > 0 {
		gc.Header("Retry-After", strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second))))
	}
}
