package alertapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// Error codes this package adds to the API's.
const (
	// CodeRevisionConflict: the update was based on an old revision; the
	// answer carries the stored rule in "current".
	CodeRevisionConflict = "revision_conflict"
	// CodeReadOnly: the rule is loaded from a file.
	CodeReadOnly = "read_only"
)

// Audited actions.
const (
	ActionRuleCreate    = "alert_rule.create"
	ActionRuleUpdate    = "alert_rule.update"
	ActionRuleDelete    = "alert_rule.delete"
	ActionRuleProvision = "alert_rule.provision"
	ActionAck           = "alert.ack"
	ActionSilenceCreate = "silence.create"
	ActionSilenceExpire = "silence.expire"
)

// Handler serves the alerting routes.
type Handler struct {
	svc   *Service
	audit *audit.Recorder
}

// Register adds the /api/v1/alert-rules, /api/v1/alerts,
// /api/v1/silences and /api/v1/notifications routes, and the outbox gauge
// to the server's metrics. Members read; editors write. rec may be nil
// (nothing audited).
func Register(srv *api.Server, svc *Service, rec *audit.Recorder) {
	h := &Handler{svc: svc, audit: rec}
	g := srv.API()
	g.GET("/alert-rules", api.Require(identity.RoleViewer), h.listRules)
	g.POST("/alert-rules", api.Require(identity.RoleEditor), h.createRule)
	g.POST("/alert-rules/preview", api.Require(identity.RoleEditor), newPreviewer(svc).preview)
	g.GET("/alert-rules/:id", api.Require(identity.RoleViewer), h.getRule)
	g.PUT("/alert-rules/:id", api.Require(identity.RoleEditor), h.updateRule)
	g.DELETE("/alert-rules/:id", api.Require(identity.RoleEditor), h.deleteRule)
	g.GET("/alerts", api.Require(identity.RoleViewer), h.listAlerts)
	g.POST("/alerts/:id/ack", api.Require(identity.RoleEditor), h.ack)
	g.GET("/silences", api.Require(identity.RoleViewer), h.listSilences)
	g.POST("/silences", api.Require(identity.RoleEditor), h.createSilence)
	g.DELETE("/silences/:id", api.Require(identity.RoleEditor), h.expireSilence)
	h.registerNotifications(g)
	registerMetrics(srv, svc.db)
}

// decodeRule reads the body of POST and PUT /api/v1/alert-rules: a rule
// (strictly, like every body) and, on PUT, the revision it is based on.
// The revision is taken out first so the rule decodes as alert.Rule
// itself, and the free-form maps are checked first so a wrong value names
// its key ("labels.team"), which the JSON decoder cannot.
func decodeRule(c *gin.Context) (alert.Rule, *int64, error) {
	var raw map[string]json.RawMessage
	if err := api.DecodeJSON(c, &raw); err != nil {
		return alert.Rule{}, nil, err
	}
	var rev *int64
	if v, ok := raw["revision"]; ok {
		delete(raw, "revision")
		if err := json.Unmarshal(v, &rev); err != nil {
			return alert.Rule{}, nil, fieldError("revision", "an integer")
		}
	}
	for _, key := range []string{"labels", "annotations"} {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return alert.Rule{}, nil, fieldError(key, "an object of strings")
		}
		for k, mv := range m {
			var str string
			if err := json.Unmarshal(mv, &str); err != nil {
				return alert.Rule{}, nil, fieldError(key+"."+k, "a string")
			}
		}
	}
	body, err := json.Marshal(raw)
	if err != nil {
		return alert.Rule{}, nil, err
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	var r alert.Rule
	if err := api.DecodeJSON(c, &r); err != nil {
		return alert.Rule{}, nil, err
	}
	return r, rev, nil
}

// decodeSilence reads the body of POST /api/v1/silences; times are
// checked first so a bad one names its field.
func decodeSilence(c *gin.Context) (SilenceInput, error) {
	var raw map[string]json.RawMessage
	if err := api.DecodeJSON(c, &raw); err != nil {
		return SilenceInput{}, err
	}
	for _, key := range []string{"starts_at", "ends_at"} {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return SilenceInput{}, fieldError(key, "an RFC 3339 time as a string")
		}
		if _, err := time.Parse(time.RFC3339, str); err != nil {
			return SilenceInput{}, fieldError(key, "an RFC 3339 time (2026-11-25T06:00:00Z)")
		}
	}
	body, err := json.Marshal(raw)
	if err != nil {
		return SilenceInput{}, err
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	var in SilenceInput
	if err := api.DecodeJSON(c, &in); err != nil {
		return SilenceInput{}, err
	}
	return in, nil
}

// fieldError is a 400 naming a body field (dotted, and as a JSON pointer
// in fields).
func fieldError(dotted, want string) *api.Error {
	e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "field %q must be %s", dotted, want)
	e.Fields = []api.FieldProblem{{Field: "/" + strings.ReplaceAll(dotted, ".", "/"), Message: "must be " + want}}
	return e
}

func (h *Handler) listRules(c *gin.Context) {
	if err := onlyQuery(c); err != nil {
		api.Fail(c, err)
		return
	}
	rules, err := h.svc.ListRules(c.Request.Context())
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"rules": rules})
}

func (h *Handler) getRule(c *gin.Context) {
	if err := onlyQuery(c); err != nil {
		api.Fail(c, err)
		return
	}
	r, err := h.svc.GetRule(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *Handler) createRule(c *gin.Context) {
	rule, rev, err := decodeRule(c)
	if err != nil {
		h.fail(c, ActionRuleCreate, "alert_rule", "", err)
		return
	}
	if rev != nil {
		h.fail(c, ActionRuleCreate, "alert_rule", "", invalid("alert rule", "/revision", "is only sent when updating a rule"))
		return
	}
	r, err := h.svc.CreateRule(c.Request.Context(), rule)
	if err != nil {
		h.fail(c, ActionRuleCreate, "alert_rule", "", err)
		return
	}
	h.record(c, audit.Event{Action: ActionRuleCreate, ObjectType: "alert_rule", ObjectID: r.ID, Details: ruleDetails(r)})
	c.JSON(http.StatusCreated, r)
}

func (h *Handler) updateRule(c *gin.Context) {
	id := c.Param("id")
	rule, rev, err := decodeRule(c)
	if err != nil {
		h.fail(c, ActionRuleUpdate, "alert_rule", id, err)
		return
	}
	if rev == nil {
		h.fail(c, ActionRuleUpdate, "alert_rule", id, invalid("alert rule", "/revision",
			"is required: send the revision you read, so a concurrent change is not overwritten"))
		return
	}
	r, err := h.svc.UpdateRule(c.Request.Context(), id, *rev, rule)
	if err != nil {
		h.fail(c, ActionRuleUpdate, "alert_rule", id, err)
		return
	}
	det := ruleDetails(r)
	det["previous_revision"] = *rev
	h.record(c, audit.Event{Action: ActionRuleUpdate, ObjectType: "alert_rule", ObjectID: r.ID, Details: det})
	c.JSON(http.StatusOK, r)
}

func (h *Handler) deleteRule(c *gin.Context) {
	id := c.Param("id")
	r, err := h.svc.DeleteRule(c.Request.Context(), id)
	if err != nil {
		h.fail(c, ActionRuleDelete, "alert_rule", id, err)
		return
	}
	h.record(c, audit.Event{Action: ActionRuleDelete, ObjectType: "alert_rule", ObjectID: r.ID, Details: ruleDetails(r)})
	c.Status(http.StatusNoContent)
}

// Alert states a filter may name.
var alertStates = []string{string(alert.StateNormal), string(alert.StatePending), string(alert.StateFiring), string(alert.StateResolved)}

func (h *Handler) listAlerts(c *gin.Context) {
	if err := onlyQuery(c, "state", "rule_id"); err != nil {
		api.Fail(c, err)
		return
	}
	f := AlertFilter{State: c.Query("state"), RuleID: c.Query("rule_id")}
	if f.State != "" && !slices.Contains(alertStates, f.State) {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "state must be normal, pending, firing or resolved")
		e.Fields = []api.FieldProblem{{Field: "state", Message: "must be normal, pending, firing or resolved"}}
		api.Fail(c, e)
		return
	}
	alerts, err := h.svc.ListAlerts(c.Request.Context(), f)
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"alerts": alerts})
}

func (h *Handler) ack(c *gin.Context) {
	id := c.Param("id")
	if err := noBody(c); err != nil {
		h.fail(c, ActionAck, "alert", id, err)
		return
	}
	a, err := h.svc.Acknowledge(c.Request.Context(), id)
	if err != nil {
		h.fail(c, ActionAck, "alert", id, err)
		return
	}
	h.record(c, audit.Event{Action: ActionAck, ObjectType: "alert", ObjectID: a.ID,
		Details: map[string]any{"rule_id": a.RuleID, "state": a.State}})
	c.JSON(http.StatusOK, a)
}

func (h *Handler) listSilences(c *gin.Context) {
	if err := onlyQuery(c, "expired"); err != nil {
		api.Fail(c, err)
		return
	}
	expired := false
	if v, ok := c.GetQuery("expired"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "expired must be true or false")
			e.Fields = []api.FieldProblem{{Field: "expired", Message: "must be true or false"}}
			api.Fail(c, e)
			return
		}
		expired = b
	}
	list, err := h.svc.ListSilences(c.Request.Context(), expired)
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"silences": list})
}

func (h *Handler) createSilence(c *gin.Context) {
	in, err := decodeSilence(c)
	if err != nil {
		h.fail(c, ActionSilenceCreate, "silence", "", err)
		return
	}
	s, err := h.svc.CreateSilence(c.Request.Context(), in)
	if err != nil {
		h.fail(c, ActionSilenceCreate, "silence", "", err)
		return
	}
	h.record(c, audit.Event{Action: ActionSilenceCreate, ObjectType: "silence", ObjectID: s.ID, Details: map[string]any{
		"matchers": len(s.Matchers), "starts_at": s.StartsAt, "ends_at": s.EndsAt}})
	c.JSON(http.StatusCreated, s)
}

func (h *Handler) expireSilence(c *gin.Context) {
	id := c.Param("id")
	s, err := h.svc.ExpireSilence(c.Request.Context(), id)
	if err != nil {
		h.fail(c, ActionSilenceExpire, "silence", id, err)
		return
	}
	h.record(c, audit.Event{Action: ActionSilenceExpire, ObjectType: "silence", ObjectID: s.ID, Details: map[string]any{"ends_at": s.EndsAt}})
	c.Status(http.StatusNoContent)
}

// ruleDetails is what the audit log keeps of a rule: what identifies it.
func ruleDetails(r Rule) map[string]any {
	return map[string]any{"name": r.Name, "kind": r.Kind, "revision": r.Revision, "severity": r.Severity, "disabled": r.Disabled}
}

func (h *Handler) record(c *gin.Context, e audit.Event) {
	if h.audit != nil {
		h.audit.Record(c, e)
	}
}

// fail answers with err and audits the failed attempt with the reason's
// code only (messages may quote what the client sent).
func (h *Handler) fail(c *gin.Context, action, objectType, id string, err error) {
	reason := "error"
	var ce *ConflictError
	if errors.As(err, &ce) {
		reason = CodeRevisionConflict
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{
			"error":   api.Error{Code: CodeRevisionConflict, Message: ce.Error(), RequestID: api.RequestID(c)},
			"current": ce.Current,
		})
	} else {
		e := apiError(err)
		api.Fail(c, e)
		var ae *api.Error
		switch {
		case errors.As(e, &ae):
			reason = ae.Code
		case errors.Is(err, store.ErrNotFound):
			reason = api.CodeNotFound
		case errors.Is(err, store.ErrConflict):
			reason = api.CodeConflict
		}
	}
	h.record(c, audit.Event{Action: action, ObjectType: objectType, ObjectID: id, Outcome: audit.Failure,
		Details: map[string]any{"reason": reason}})
}

// apiError maps the service's errors to API errors; others pass through to
// the server's mappers (store errors) or become a 500.
func apiError(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%s", ve.Error())
		for _, p := range ve.Problems {
			e.Fields = append(e.Fields, api.FieldProblem{Field: p.Field, Message: p.Message})
		}
		return e
	case errors.Is(err, ErrReadOnly):
		return api.Errorf(http.StatusForbidden, CodeReadOnly, "%v", err)
	case errors.Is(err, ErrNameTaken):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%v", err)
	case errors.Is(err, store.ErrNotAcknowledgeable):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "only a pending or firing alert can be acknowledged")
	}
	return err
}

// onlyQuery refuses query parameters other than allowed, so a misspelt
// filter is an error rather than silently ignored.
func onlyQuery(c *gin.Context, allowed ...string) error {
	for key, vals := range c.Request.URL.Query() {
		if !slices.Contains(allowed, key) {
			e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "unknown query parameter %q", key)
			e.Fields = []api.FieldProblem{{Field: key, Message: "unknown query parameter"}}
			return e
		}
		if len(vals) > 1 {
			e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "query parameter %q is given %d times; give it once", key, len(vals))
			e.Fields = []api.FieldProblem{{Field: key, Message: "given more than once"}}
			return e
		}
	}
	return nil
}

// noBody refuses a request body on a route that takes none.
func noBody(c *gin.Context) error {
	if c.Request.ContentLength > 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "this route takes no request body")
	}
	return nil
}
