package sources

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/store"
)

// Error codes this package adds to the API's.
const (
	// CodeUnknownPlugin: the request names a plugin that is not installed.
	CodeUnknownPlugin = "unknown_plugin"
	// CodePluginUnavailable: the plugin is installed but not running.
	CodePluginUnavailable = "plugin_unavailable"
	// CodePluginError: the plugin answered with an error or declared
	// something unusable.
	CodePluginError = "plugin_error"
	// CodeSecretKey: stored secrets cannot be opened with the host's keys.
	CodeSecretKey = "secret_key"
)

// Audited actions.
const (
	ActionCreate = "source.create"
	ActionUpdate = "source.update"
	ActionDelete = "source.delete"
	ActionTest   = "source.test"
)

// sourceRequest is the body of POST /api/v1/sources and PUT
// /api/v1/sources/{id} (revision is required there, refused here).
type sourceRequest struct {
	PluginID            string          `json:"plugin_id"`
	Name                string          `json:"name"`
	Config              json.RawMessage `json:"config"`
	PollIntervalSeconds *int            `json:"poll_interval_seconds"`
	Enabled             *bool           `json:"enabled"`
	Revision            *int64          `json:"revision"`
}

func (r sourceRequest) input() Input {
	return Input{PluginID: r.PluginID, Name: r.Name, Config: r.Config, PollIntervalSeconds: r.PollIntervalSeconds, Enabled: r.Enabled}
}

// Register adds the /api/v1/sources routes. Members read sources (secrets
// masked); admins change and test them.
func (s *Service) Register(srv *api.Server) {
	g := srv.API()
	g.GET("/sources", api.Require(identity.RoleViewer), s.handleList)
	g.GET("/sources/:id", api.Require(identity.RoleViewer), s.handleGet)
	g.POST("/sources", api.Require(identity.RoleAdmin), s.handleCreate)
	g.PUT("/sources/:id", api.Require(identity.RoleAdmin), s.handleUpdate)
	g.DELETE("/sources/:id", api.Require(identity.RoleAdmin), s.handleDelete)
	g.POST("/sources/:id/test", api.Require(identity.RoleAdmin), s.handleTest)
}

func (s *Service) handleList(c *gin.Context) {
	page, err := pageQuery(c)
	if err != nil {
		api.Fail(c, err)
		return
	}
	p, _ := api.Principal(c)
	key := p.ProfileID + "\x00" + strconv.Itoa(page.Limit) + "\x00" + page.Cursor
	gen, now := s.db.Generation(store.GenSources), time.Now()
	if body, ok := s.lists.get(key, gen, now); ok {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
		return
	}
	list, next, err := s.List(c.Request.Context(), page)
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	body, err := json.Marshal(gin.H{"sources": list, "next_cursor": next})
	if err != nil {
		api.Fail(c, err)
		return
	}
	s.lists.put(key, gen, now, body)
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (s *Service) handleGet(c *gin.Context) {
	src, err := s.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, src)
}

func (s *Service) handleCreate(c *gin.Context) {
	var req sourceRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		s.fail(c, ActionCreate, "", err)
		return
	}
	if req.Revision != nil {
		s.fail(c, ActionCreate, "", &ValidationError{Fields: []api.FieldProblem{{Field: "/revision", Message: "is only sent when updating a source"}}})
		return
	}
	src, err := s.Create(c.Request.Context(), req.input())
	if err != nil {
		s.fail(c, ActionCreate, "", err)
		return
	}
	s.record(c, audit.Event{Action: ActionCreate, ObjectType: "source", ObjectID: src.ID, Details: details(src)})
	c.JSON(http.StatusCreated, src)
}

func (s *Service) handleUpdate(c *gin.Context) {
	id := c.Param("id")
	var req sourceRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		s.fail(c, ActionUpdate, id, err)
		return
	}
	if req.Revision == nil {
		s.fail(c, ActionUpdate, id, &ValidationError{Fields: []api.FieldProblem{{Field: "/revision",
			Message: "is required: send the revision you read, so a concurrent change is not overwritten"}}})
		return
	}
	src, err := s.Update(c.Request.Context(), id, *req.Revision, req.input())
	if err != nil {
		s.fail(c, ActionUpdate, id, err)
		return
	}
	d := details(src)
	d["previous_revision"] = *req.Revision
	s.record(c, audit.Event{Action: ActionUpdate, ObjectType: "source", ObjectID: src.ID, Details: d})
	c.JSON(http.StatusOK, src)
}

func (s *Service) handleDelete(c *gin.Context) {
	id := c.Param("id")
	src, err := s.Delete(c.Request.Context(), id)
	if err != nil {
		s.fail(c, ActionDelete, id, err)
		return
	}
	s.record(c, audit.Event{Action: ActionDelete, ObjectType: "source", ObjectID: id,
		Details: map[string]any{"name": src.Name, "plugin_id": src.PluginID}})
	c.Status(http.StatusNoContent)
}

func (s *Service) handleTest(c *gin.Context) {
	id := c.Param("id")
	res, err := s.Test(c.Request.Context(), id)
	if err != nil {
		s.fail(c, ActionTest, id, err)
		return
	}
	outcome := audit.Success
	if res.Status != "ok" {
		outcome = audit.Failure
	}
	s.record(c, audit.Event{Action: ActionTest, ObjectType: "source", ObjectID: id, Outcome: outcome,
		Details: map[string]any{"status": res.Status}})
	c.JSON(http.StatusOK, res)
}

// details is what the audit log keeps of a source: never a config value
// (secret or not: a URL may embed credentials), only names.
func details(src Source) map[string]any {
	return map[string]any{
		"name": src.Name, "plugin_id": src.PluginID, "enabled": src.Enabled,
		"poll_interval_seconds": src.PollIntervalSeconds, "revision": src.Revision,
	}
}

func (s *Service) record(c *gin.Context, e audit.Event) {
	if s.audit != nil {
		s.audit.Record(c, e)
	}
}

// fail answers with err and audits the failed attempt with the reason's
// code only (messages may quote what the client sent).
func (s *Service) fail(c *gin.Context, action, id string, err error) {
	e := apiError(err)
	api.Fail(c, e)
	reason := "error"
	var ae *api.Error
	if errors.As(e, &ae) {
		reason = ae.Code
	} else if errors.Is(err, store.ErrNotFound) {
		reason = api.CodeNotFound
	} else if errors.Is(err, store.ErrConflict) {
		reason = api.CodeConflict
	}
	s.record(c, audit.Event{Action: action, ObjectType: "source", ObjectID: id, Outcome: audit.Failure,
		Details: map[string]any{"reason": reason}})
}

// apiError maps the service's errors to API errors; others pass through to
// the server's mappers (store errors) or become a 500.
func apiError(err error) error {
	var ve *ValidationError
	var pe *PluginError
	switch {
	case errors.As(err, &ve):
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%s", ve.Error())
		e.Fields = ve.Fields
		return e
	case errors.Is(err, ErrUnknownPlugin):
		e := api.Errorf(http.StatusBadRequest, CodeUnknownPlugin, "%v: install its bundle in the plugin directory, or pick a plugin from GET /api/v1/plugins", err)
		e.Fields = []api.FieldProblem{{Field: "/plugin_id", Message: err.Error()}}
		return e
	case errors.Is(err, ErrPluginUnavailable):
		return api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable, "%v: see its state and last error in GET /api/v1/plugins, then retry", err)
	case errors.As(err, &pe):
		return api.Errorf(http.StatusBadGateway, CodePluginError, "%v", pe)
	case errors.Is(err, ErrStaleRevision), errors.Is(err, ErrNameTaken):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%v", err)
	case errors.Is(err, secrets.ErrUnknownKey), errors.Is(err, secrets.ErrDecrypt):
		return api.Errorf(http.StatusInternalServerError, CodeSecretKey, "%v", err)
	}
	return err
}

// pageQuery reads ?limit= and ?cursor= and refuses other parameters, so a
// misspelt one is an error rather than silently ignored.
func pageQuery(c *gin.Context) (store.Page, error) {
	var page store.Page
	var probs []api.FieldProblem
	for key, vals := range c.Request.URL.Query() {
		switch key {
		case "limit":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 || n > store.MaxPageLimit {
				probs = append(probs, api.FieldProblem{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", store.MaxPageLimit)})
			}
			page.Limit = n
		case "cursor":
			page.Cursor = vals[0]
		default:
			probs = append(probs, api.FieldProblem{Field: key, Message: "unknown query parameter: use limit or cursor"})
		}
	}
	if len(probs) > 0 {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query: %s: %s", probs[0].Field, probs[0].Message)
		e.Fields = probs
		return page, e
	}
	return page, nil
}
