// Package audit records who did what into the store's hash-chained audit
// log. Handlers call Record for every change, every login and every read of
// sensitive data (exports, user lists, the audit log itself). A failure to
// audit is logged loudly but does not fail the user's request: the action
// already happened, and refusing to answer would hide it from the user
// without un-doing it.
package audit

import (
	"context"
	"encoding/json"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// Outcomes of an audited action.
const (
	Success = store.OutcomeSuccess
	Failure = store.OutcomeFailure
	Denied  = store.OutcomeDenied
)

// Recorder appends audit entries.
type Recorder struct {
	db  *store.DB
	log hclog.Logger
}

// New returns a recorder writing to db.
func New(db *store.DB, log hclog.Logger) *Recorder {
	return &Recorder{db: db, log: log.Named("audit")}
}

// Event is one audited action.
type Event struct {
	Action     string
	ObjectType string
	ObjectID   string
	Outcome    string
	// Details is marshalled to a JSON object; never put secrets in it.
	Details map[string]any
	// ProfileID and Username identify the actor when no principal is in
	// the context (failed logins).
	ProfileID string
	UserID    string
	Username  string
}

// Record appends e for the request's caller.
func (r *Recorder) Record(c *gin.Context, e Event) {
	r.RecordCtx(c.Request.Context(), c.ClientIP(), e)
}

// RecordCtx appends e for the principal in ctx (or the actor named in e).
func (r *Recorder) RecordCtx(ctx context.Context, clientAddr string, e Event) {
	if e.Outcome == "" {
		e.Outcome = Success
	}
	entry := store.AuditEntry{
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Outcome: e.Outcome,
		ClientAddr: clientAddr, ProfileID: e.ProfileID, UserID: e.UserID, Username: e.Username,
	}
	if len(e.Details) > 0 {
		if b, err := json.Marshal(e.Details); err == nil {
			entry.Details = b
		}
	}
	var err error
	if _, ok := identity.From(ctx); ok {
		_, err = r.db.Audit().Append(ctx, entry)
	} else {
		_, err = r.db.System().Audit().Append(ctx, entry)
	}
	if err != nil {
		r.log.Error("could not write audit entry", "action", e.Action, "object", e.ObjectType+"/"+e.ObjectID, "error", err)
	}
}
