package alertapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// The notifications outbox seen from the API (/api/v1/notifications): what
// was decided, where it was sent, how delivery went, and the dead letters
// a sink refused for good, which an editor may send again.

// ChangedNotification is the Changed.Kind of a notification put back in
// the queue.
const ChangedNotification = "notification"

// ActionNotificationRetry is audited when an editor retries a dead letter.
const ActionNotificationRetry = "notification.retry"

// Notification is one outbox row as the API shows it: one notification
// to one sink.
type Notification struct {
	// ID is the row's id (one notification, one sink).
	ID string `json:"id"`
	// NotificationID is the engine's id of the notification, the same for
	// every sink it goes to; sinks receive it to de-duplicate.
	NotificationID string `json:"notification_id"`
	RuleID         string `json:"rule_id"`
	// RuleName is the rule's current name, or the name it had when the
	// notification was decided if it is gone.
	RuleName    string `json:"rule_name"`
	Fingerprint string `json:"fingerprint"`
	// AlertID is the alert (series) the notification is about, as in
	// /api/v1/alerts; empty when the series is unknown.
	AlertID      string `json:"alert_id,omitempty"`
	SinkSourceID string `json:"sink_source_id"`
	// SinkName is the sink source's name; empty when it was deleted.
	SinkName string `json:"sink_name"`
	GroupKey string `json:"group_key"`
	// Status is what the notification announces: firing or resolved.
	Status   string `json:"status"`
	Title    string `json:"title"`
	Severity string `json:"severity,omitempty"`
	// State is pending (queued, or waiting for a retry), delivered or dead.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// NextAttemptAt is when a pending notification is (re)tried; absent
	// for delivered and dead ones.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// LastError is the last failure; for a dead letter, why it was given
	// up. A retried dead letter keeps it until its next outcome.
	LastError   string     `json:"last_error"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// NotificationDetail is one notification with what was (or is to be)
// sent.
type NotificationDetail struct {
	Notification
	// Payload is the notification as the sink receives it; null if the
	// stored payload cannot be read (the worker makes such a row a dead
	// letter).
	Payload *sdk.Notification `json:"payload"`
}

// NotDeadError: only a dead letter can be retried.
type NotDeadError struct{ Current Notification }

func (e *NotDeadError) Error() string {
	n := e.Current
	switch n.State {
	case store.NotificationDelivered:
		at := ""
		if n.DeliveredAt != nil {
			at = " at " + n.DeliveredAt.UTC().Format(time.RFC3339)
		}
		return "notification " + n.ID + " was delivered" + at + ": only a dead notification can be retried"
	case store.NotificationPending:
		msg := "notification " + n.ID + " is pending: the delivery worker is still sending it"
		if n.NextAttemptAt != nil {
			msg += fmt.Sprintf(" (%d failed attempts so far, next at %s)", n.Attempts, n.NextAttemptAt.UTC().Format(time.RFC3339))
		}
		return msg + "; only a dead notification can be retried"
	}
	return "notification " + n.ID + " is " + n.State + ": only a dead notification can be retried"
}

// Is makes errors.Is(err, store.ErrNotDead) true.
func (e *NotDeadError) Is(target error) bool { return target == store.ErrNotDead }

// notificationViews turns rows into their API form, looking up the names
// of their rules and sinks once per page.
func (s *Service) notificationViews(ctx context.Context, rows []store.Notification) ([]NotificationDetail, error) {
	rules, sinks := map[string]string{}, map[string]string{}
	out := make([]NotificationDetail, 0, len(rows))
	for _, row := range rows {
		if _, ok := rules[row.RuleID]; !ok && row.RuleID != "" {
			r, err := s.db.AlertRules().Get(ctx, row.RuleID)
			switch {
			case err == nil:
				rules[row.RuleID] = r.Name
			case errors.Is(err, store.ErrNotFound):
				rules[row.RuleID] = ""
			default:
				return nil, err
			}
		}
		if _, ok := sinks[row.SinkSourceID]; !ok && row.SinkSourceID != "" {
			src, err := s.db.Sources().Get(ctx, row.SinkSourceID)
			switch {
			case err == nil:
				sinks[row.SinkSourceID] = src.Name
			case errors.Is(err, store.ErrNotFound):
				sinks[row.SinkSourceID] = ""
			default:
				return nil, err
			}
		}
		out = append(out, notificationView(row, rules[row.RuleID], sinks[row.SinkSourceID]))
	}
	return out, nil
}

func notificationView(row store.Notification, ruleName, sinkName string) NotificationDetail {
	v := NotificationDetail{Notification: Notification{ID: row.ID, NotificationID: row.NotificationID, RuleID: row.RuleID,
		RuleName: ruleName, Fingerprint: row.Fingerprint, SinkSourceID: row.SinkSourceID, SinkName: sinkName,
		GroupKey: row.GroupKey, State: row.State, Attempts: row.Attempts, LastError: row.LastError,
		DeliveredAt: row.DeliveredAt, CreatedAt: row.CreatedAt}}
	if row.RuleID != "" && row.Fingerprint != "" {
		v.AlertID = alertID(row.RuleID, row.Fingerprint)
	}
	if row.State == store.NotificationPending {
		t := row.NextAttemptAt
		v.NextAttemptAt = &t
	}
	var p sdk.Notification
	if json.Unmarshal(row.Payload, &p) == nil {
		v.Payload = &p
		v.Status, v.Title, v.Severity = string(p.Status), p.Title, p.Severity
		if v.RuleName == "" {
			v.RuleName = p.RuleName
		}
	}
	return v
}

// ListNotifications returns a page of the caller's notifications, newest
// first, and the cursor of the next page ("" after the last).
func (s *Service) ListNotifications(ctx context.Context, f store.NotificationFilter, page store.Page) ([]Notification, string, error) {
	rows, next, err := s.db.Notifications().List(ctx, f, page)
	if err != nil {
		return nil, "", err
	}
	views, err := s.notificationViews(ctx, rows)
	if err != nil {
		return nil, "", err
	}
	out := make([]Notification, len(views))
	for i, v := range views {
		out[i] = v.Notification
	}
	return out, next, nil
}

// CountDeadNotifications counts the caller's dead letters.
func (s *Service) CountDeadNotifications(ctx context.Context) (int, error) {
	return s.db.Notifications().CountDead(ctx)
}

// GetNotification returns one notification of the caller's profile with
// its payload.
func (s *Service) GetNotification(ctx context.Context, id string) (NotificationDetail, error) {
	row, err := s.db.Notifications().Get(ctx, id)
	if err != nil {
		return NotificationDetail{}, err
	}
	views, err := s.notificationViews(ctx, []store.Notification{row})
	if err != nil {
		return NotificationDetail{}, err
	}
	return views[0], nil
}

// RetryNotification puts dead letter id back in the queue, due now (see
// store.Notifications.Retry). Any other state is a *NotDeadError.
func (s *Service) RetryNotification(ctx context.Context, id string) (Notification, error) {
	row, err := s.db.Notifications().Retry(ctx, id, s.now())
	if errors.Is(err, store.ErrNotDead) {
		views, verr := s.notificationViews(ctx, []store.Notification{row})
		if verr != nil {
			return Notification{}, verr
		}
		return Notification{}, &NotDeadError{Current: views[0].Notification}
	}
	if err != nil {
		return Notification{}, err
	}
	views, err := s.notificationViews(ctx, []store.Notification{row})
	if err != nil {
		return Notification{}, err
	}
	v := views[0].Notification
	s.publish(ctx, Changed{Kind: ChangedNotification, RuleID: v.RuleID, AlertID: v.AlertID, NotificationID: v.ID})
	return v, nil
}

// --- HTTP ---

func (h *Handler) registerNotifications(g *gin.RouterGroup) {
	g.GET("/notifications", api.Require(identity.RoleViewer), h.listNotifications)
	g.GET("/notifications/:id", api.Require(identity.RoleViewer), h.getNotification)
	g.POST("/notifications/:id/retry", api.Require(identity.RoleEditor), h.retryNotification)
}

// notificationQuery reads the filters and page of GET
// /api/v1/notifications; every problem is reported, each under its
// parameter.
func notificationQuery(c *gin.Context) (store.NotificationFilter, store.Page, error) {
	var f store.NotificationFilter
	var page store.Page
	var probs []api.FieldProblem
	bad := func(field, msg string) { probs = append(probs, api.FieldProblem{Field: field, Message: msg}) }
	for key, vals := range c.Request.URL.Query() {
		if len(vals) > 1 {
			bad(key, fmt.Sprintf("is given %d times; give it once", len(vals)))
			continue
		}
		// The server refused NUL characters and invalid UTF-8 already.
		v := vals[0]
		switch key {
		case "state":
			switch v {
			case store.NotificationPending, store.NotificationDelivered, store.NotificationDead:
				f.State = v
			default:
				bad(key, "must be pending, delivered or dead")
			}
		case "status":
			switch v {
			case store.NotificationFiring, store.NotificationResolved:
				f.Status = v
			default:
				bad(key, "must be firing or resolved")
			}
		case "rule_id":
			f.RuleID = v
		case "fingerprint":
			f.Fingerprint = v
		case "sink":
			f.SinkSourceID = v
		case "since", "until":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(key, "must be an RFC 3339 date-time, e.g. 2026-11-17T00:00:00Z")
				continue
			}
			if key == "since" {
				f.Since = t
			} else {
				f.Until = t
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > store.MaxPageLimit {
				bad(key, "must be an integer between 1 and "+strconv.Itoa(store.MaxPageLimit))
				continue
			}
			page.Limit = n
		case "cursor":
			page.Cursor = v
		default:
			bad(key, "unknown query parameter: use state, status, rule_id, fingerprint, sink, since, until, limit or cursor")
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		bad("until", "must be after since (the range is since <= created_at < until)")
	}
	if len(probs) > 0 {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query parameter %s: %s", probs[0].Field, probs[0].Message)
		e.Fields = probs
		return f, page, e
	}
	return f, page, nil
}

func (h *Handler) listNotifications(c *gin.Context) {
	f, page, err := notificationQuery(c)
	if err != nil {
		api.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	list, next, err := h.svc.ListNotifications(ctx, f, page)
	if errors.Is(err, store.ErrInvalid) {
		// Only the cursor is left for the store to refuse.
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query parameter cursor: it is not a cursor this list gave; request the first page again")
		e.Fields = []api.FieldProblem{{Field: "cursor", Message: "is not a cursor of this list"}}
		api.Fail(c, e)
		return
	}
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	dead, err := h.svc.CountDeadNotifications(ctx)
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"notifications": list, "next_cursor": next, "dead_count": dead})
}

func (h *Handler) getNotification(c *gin.Context) {
	if err := onlyQuery(c); err != nil {
		api.Fail(c, err)
		return
	}
	n, err := h.svc.GetNotification(c.Request.Context(), c.Param("id"))
	if err != nil {
		api.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, n)
}

func (h *Handler) retryNotification(c *gin.Context) {
	id := c.Param("id")
	if err := noBody(c); err != nil {
		h.fail(c, ActionNotificationRetry, "notification", id, err)
		return
	}
	n, err := h.svc.RetryNotification(c.Request.Context(), id)
	var nd *NotDeadError
	if errors.As(err, &nd) {
		err = api.Errorf(http.StatusConflict, api.CodeConflict, "%s", nd.Error())
	}
	if err != nil {
		h.fail(c, ActionNotificationRetry, "notification", id, err)
		return
	}
	h.record(c, audit.Event{Action: ActionNotificationRetry, ObjectType: "notification", ObjectID: n.ID, Details: map[string]any{
		"rule_id": n.RuleID, "sink_source_id": n.SinkSourceID, "attempts": n.Attempts, "notification_id": n.NotificationID}})
	c.JSON(http.StatusOK, n)
}

// --- metrics ---

// outboxCollector exports the outbox's size per state (every profile):
// puod_notifications{state="dead"} is the number of dead letters.
type outboxCollector struct {
	outbox *store.Outbox
	desc   *prometheus.Desc
}

func newOutboxCollector(db *store.DB) *outboxCollector {
	return &outboxCollector{outbox: db.System().Outbox(), desc: prometheus.NewDesc("puod_notifications",
		"Notifications in the outbox by state (pending, delivered, dead: dead letters a sink refused for good).", []string{"state"}, nil)}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.outbox.CountByState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, state := range []string{store.NotificationPending, store.NotificationDelivered, store.NotificationDead} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[state]), state)
	}
}

// registerMetrics adds the outbox gauge to the server's registry once.
func registerMetrics(srv *api.Server, db *store.DB) {
	if err := srv.Registry().Register(newOutboxCollector(db)); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			panic(fmt.Sprintf("alertapi: register the outbox metrics: %v", err))
		}
	}
}
