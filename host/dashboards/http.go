package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/timerange"
)

// Error codes this package adds to the API's.
const (
	// CodeVersionConflict: the update was based on an old version; the
	// answer carries the stored dashboard in "current".
	CodeVersionConflict = "version_conflict"
	// CodeReadOnly: the dashboard is provisioned from a file.
	CodeReadOnly = "read_only"
)

// Audited actions.
const (
	ActionCreate    = "dashboard.create"
	ActionUpdate    = "dashboard.update"
	ActionDelete    = "dashboard.delete"
	ActionCopy      = "dashboard.copy"
	ActionImport    = "dashboard.import"
	ActionProvision = "dashboard.provision"
)

// Handler serves the /api/v1/dashboards routes.
type Handler struct {
	svc   *Service
	audit *audit.Recorder
}

// Register adds the /api/v1/dashboards routes. Members read and export
// dashboards; editors change them. rec may be nil (nothing audited).
func Register(srv *api.Server, svc *Service, rec *audit.Recorder) {
	h := &Handler{svc: svc, audit: rec}
	g := srv.API()
	g.GET("/dashboards", api.Require(identity.RoleViewer), h.list)
	g.POST("/dashboards", api.Require(identity.RoleEditor), h.create)
	g.POST("/dashboards/import", api.Require(identity.RoleEditor), h.importDoc)
	g.GET("/dashboards/:id", api.Require(identity.RoleViewer), h.get)
	g.PUT("/dashboards/:id", api.Require(identity.RoleEditor), h.update)
	g.DELETE("/dashboards/:id", api.Require(identity.RoleEditor), h.delete)
	g.POST("/dashboards/:id/copy", api.Require(identity.RoleEditor), h.copy)
	g.GET("/dashboards/:id/export", api.Require(identity.RoleViewer), h.export)
}

// createRequest is the body of POST /api/v1/dashboards and PUT
// /api/v1/dashboards/{id} (version is required there, refused here).
type createRequest struct {
	Slug           string           `json:"slug"`
	Title          string           `json:"title"`
	Description    string           `json:"description"`
	TimeRange      *timerange.Range `json:"time_range"`
	RefreshSeconds int              `json:"refresh_seconds"`
	Cards          []Card           `json:"cards"`
	Version        *int64           `json:"version"`
}

func (r createRequest) input() Input {
	return Input{Slug: r.Slug, Title: r.Title, Description: r.Description, TimeRange: r.TimeRange,
		RefreshSeconds: r.RefreshSeconds, Cards: r.Cards}
}

type copyRequest struct {
	Title string `json:"title"`
}

func (h *Handler) list(c *gin.Context) {
	if err := noQuery(c); err != nil {
		api.Fail(c, err)
		return
	}
	list, err := h.svc.List(c.Request.Context())
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"dashboards": list})
}

func (h *Handler) get(c *gin.Context) {
	d, err := h.svc.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *Handler) create(c *gin.Context) {
	var req createRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		h.fail(c, ActionCreate, "", err)
		return
	}
	if req.Version != nil {
		h.fail(c, ActionCreate, "", &ValidationError{Fields: []api.FieldProblem{{Field: "/version", Message: "is only sent when updating a dashboard"}}})
		return
	}
	d, err := h.svc.Create(c.Request.Context(), req.input())
	if err != nil {
		h.fail(c, ActionCreate, "", err)
		return
	}
	h.record(c, audit.Event{Action: ActionCreate, ObjectType: "dashboard", ObjectID: d.ID, Details: details(d)})
	c.JSON(http.StatusCreated, d)
}

func (h *Handler) update(c *gin.Context) {
	id := c.Param("id")
	var req createRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		h.fail(c, ActionUpdate, id, err)
		return
	}
	if req.Version == nil {
		h.fail(c, ActionUpdate, id, &ValidationError{Fields: []api.FieldProblem{{Field: "/version",
			Message: "is required: send the version you read, so a concurrent change is not overwritten"}}})
		return
	}
	d, err := h.svc.Update(c.Request.Context(), id, *req.Version, req.input())
	if err != nil {
		h.fail(c, ActionUpdate, id, err)
		return
	}
	det := details(d)
	det["previous_version"] = *req.Version
	h.record(c, audit.Event{Action: ActionUpdate, ObjectType: "dashboard", ObjectID: d.ID, Details: det})
	c.JSON(http.StatusOK, d)
}

func (h *Handler) delete(c *gin.Context) {
	id := c.Param("id")
	d, err := h.svc.Delete(c.Request.Context(), id)
	if err != nil {
		h.fail(c, ActionDelete, id, err)
		return
	}
	h.record(c, audit.Event{Action: ActionDelete, ObjectType: "dashboard", ObjectID: d.ID, Details: details(d)})
	c.Status(http.StatusNoContent)
}

func (h *Handler) copy(c *gin.Context) {
	id := c.Param("id")
	var req copyRequest
	if err := decodeOptional(c, &req); err != nil {
		h.fail(c, ActionCopy, id, err)
		return
	}
	d, err := h.svc.Copy(c.Request.Context(), id, req.Title)
	if err != nil {
		h.fail(c, ActionCopy, id, err)
		return
	}
	det := details(d)
	det["copied_from"] = id
	h.record(c, audit.Event{Action: ActionCopy, ObjectType: "dashboard", ObjectID: d.ID, Details: det})
	c.JSON(http.StatusCreated, d)
}

func (h *Handler) export(c *gin.Context) {
	if err := noQuery(c); err != nil {
		api.Fail(c, err)
		return
	}
	doc, err := h.svc.Export(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		api.Fail(c, err)
		return
	}
	// The slug is [a-z0-9-] only, so it needs no quoting in the header.
	c.Header("Content-Disposition", `attachment; filename="`+doc.Slug+`.json"`)
	c.Data(http.StatusOK, "application/json; charset=utf-8", append(body, '\n'))
}

func (h *Handler) importDoc(c *gin.Context) {
	var doc Document
	if err := api.DecodeJSON(c, &doc); err != nil {
		h.fail(c, ActionImport, "", err)
		return
	}
	d, err := h.svc.Import(c.Request.Context(), doc)
	if err != nil {
		h.fail(c, ActionImport, "", err)
		return
	}
	h.record(c, audit.Event{Action: ActionImport, ObjectType: "dashboard", ObjectID: d.ID, Details: details(d)})
	c.JSON(http.StatusCreated, d)
}

// details is what the audit log keeps of a dashboard: what identifies it,
// not its layout.
func details(d Dashboard) map[string]any {
	return map[string]any{"slug": d.Slug, "title": d.Title, "version": d.Version, "card_count": len(d.Cards)}
}

func (h *Handler) record(c *gin.Context, e audit.Event) {
	if h.audit != nil {
		h.audit.Record(c, e)
	}
}

// fail answers with err and audits the failed attempt with the reason's
// code only (messages may quote what the client sent).
func (h *Handler) fail(c *gin.Context, action, id string, err error) {
	reason := "error"
	var ce *ConflictError
	if errors.As(err, &ce) {
		reason = CodeVersionConflict
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{
			"error":   api.Error{Code: CodeVersionConflict, Message: ce.Error(), RequestID: api.RequestID(c)},
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
	h.record(c, audit.Event{Action: action, ObjectType: "dashboard", ObjectID: id, Outcome: audit.Failure,
		Details: map[string]any{"reason": reason}})
}

// apiError maps the service's errors to API errors; others pass through to
// the server's mappers (store errors) or become a 500.
func apiError(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%s", ve.Error())
		e.Fields = ve.Fields
		return e
	case errors.Is(err, ErrReadOnly):
		return api.Errorf(http.StatusForbidden, CodeReadOnly, "%v (POST /api/v1/dashboards/{id}/copy); to change the original, edit its file in the dashboards folder", err)
	case errors.Is(err, ErrSlugTaken):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%v", err)
	}
	return err
}

// decodeOptional decodes a JSON body into v when there is one; an absent
// or blank body leaves v as it is.
func decodeOptional(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit)
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return api.DecodeJSON(c, v)
}

// noQuery refuses query parameters on routes that take none, so a
// misspelt filter is an error rather than silently ignored.
func noQuery(c *gin.Context) error {
	for key := range c.Request.URL.Query() {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "unknown query parameter %q: this route takes none", key)
		e.Fields = []api.FieldProblem{{Field: key, Message: "unknown query parameter"}}
		return e
	}
	return nil
}
