// Package auditapi is the outward face of the audit log: GET /api/v1/audit
// for admins (filtered, paginated, and itself audited) and the chain check
// behind `puod audit verify`.
package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// ActionRead is audited for every read of the audit log.
const ActionRead = "audit.read"

// Entry is an audit entry as the API shows it.
type Entry struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	At         time.Time       `json:"at"`
	ProfileID  string          `json:"profile_id"`
	UserID     string          `json:"user_id,omitempty"`
	Username   string          `json:"username,omitempty"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type,omitempty"`
	ObjectID   string          `json:"object_id,omitempty"`
	Outcome    string          `json:"outcome"`
	ClientAddr string          `json:"client_addr,omitempty"`
	Details    json.RawMessage `json:"details"`
	// Hash and PrevHash let a client check the chain of what it reads.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

func entryOf(e store.AuditEntry) Entry {
	d := e.Details
	if len(d) == 0 {
		d = json.RawMessage(`{}`)
	}
	return Entry{
		Seq: e.Seq, ID: e.ID, At: e.At, ProfileID: e.ProfileID, UserID: e.UserID, Username: e.Username,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Outcome: e.Outcome,
		ClientAddr: e.ClientAddr, Details: d, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

// Register adds GET /api/v1/audit (admins of the profile). rec records
// each read; it must not be nil: reading the audit log is itself audited.
func Register(srv *api.Server, db *store.DB, rec *audit.Recorder) {
	if rec == nil {
		panic("auditapi.Register: an audit recorder is required")
	}
	h := &handler{db: db, rec: rec}
	srv.API().GET("/audit", api.Require(identity.RoleAdmin), h.list)
}

type handler struct {
	db  *store.DB
	rec *audit.Recorder
}

func (h *handler) list(c *gin.Context) {
	f, page, err := ParseQuery(c.Request.URL.Query())
	if err != nil {
		h.rec.Record(c, audit.Event{Action: ActionRead, ObjectType: "audit_log", Outcome: audit.Failure,
			Details: map[string]any{"reason": api.CodeInvalid}})
		api.Fail(c, err)
		return
	}
	entries, next, err := h.db.Audit().List(c.Request.Context(), f, page)
	if err != nil {
		h.rec.Record(c, audit.Event{Action: ActionRead, ObjectType: "audit_log", Outcome: audit.Failure,
			Details: map[string]any{"reason": "error"}})
		api.Fail(c, err)
		return
	}
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = entryOf(e)
	}
	// Recorded after the read, so a page never contains its own read.
	d := filterDetails(f)
	d["returned"] = len(out)
	if page.Cursor != "" {
		d["page"] = "next"
	}
	h.rec.Record(c, audit.Event{Action: ActionRead, ObjectType: "audit_log", Details: d})
	c.JSON(http.StatusOK, gin.H{"entries": out, "next_cursor": next})
}

func filterDetails(f store.AuditFilter) map[string]any {
	d := map[string]any{}
	if f.Action != "" {
		d["action"] = f.Action
	}
	if f.User != "" {
		d["user"] = f.User
	}
	if f.Outcome != "" {
		d["outcome"] = f.Outcome
	}
	if !f.From.IsZero() {
		d["from"] = f.From.UTC().Format(time.RFC3339Nano)
	}
	if !f.To.IsZero() {
		d["to"] = f.To.UTC().Format(time.RFC3339Nano)
	}
	return d
}

// ParseQuery reads the filters and page of GET /api/v1/audit: action,
// user (id or username), outcome (success|failure|denied), from and to
// (RFC 3339; from <= at < to), limit and cursor. Unknown parameters and bad
// values are an *api.Error naming each one.
func ParseQuery(q url.Values) (store.AuditFilter, store.Page, error) {
	var f store.AuditFilter
	var page store.Page
	var probs []api.FieldProblem
	bad := func(field, format string, args ...any) {
		probs = append(probs, api.FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		vals := q[key]
		if len(vals) > 1 {
			bad(key, "is given %d times; give it once", len(vals))
			continue
		}
		v := vals[0]
		switch key {
		case "action":
			f.Action = v
		case "user":
			f.User = v
		case "outcome":
			switch v {
			case store.OutcomeSuccess, store.OutcomeFailure, store.OutcomeDenied:
				f.Outcome = v
			default:
				bad(key, "%q is not an outcome: use success, failure or denied", v)
			}
		case "from", "to":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad(key, "%q is not an RFC 3339 time: write e.g. 2026-01-02T15:04:05Z or 2026-01-02T15:04:05+01:00", v)
				continue
			}
			if key == "from" {
				f.From = t
			} else {
				f.To = t
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > store.MaxPageLimit {
				bad(key, "must be an integer from 1 to %d", store.MaxPageLimit)
				continue
			}
			page.Limit = n
		case "cursor":
			page.Cursor = v
		default:
			bad(key, "unknown query parameter: use action, user, outcome, from, to, limit or cursor")
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		bad("to", "must be after from (the range is from <= at < to)")
	}
	if len(probs) > 0 {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query: %s: %s", probs[0].Field, probs[0].Message)
		e.Fields = probs
		return f, page, e
	}
	return f, page, nil
}

// Verify walks the whole audit chain (all profiles) and returns the line
// `puod audit verify` prints: "audit log intact: N entries". A broken chain
// is an error wrapping store.ErrAuditBroken whose message is "audit log
// broken at entry N: reason".
func Verify(ctx context.Context, db *store.DB) (string, error) {
	res, err := db.System().Audit().Verify(ctx)
	if err != nil {
		return "", err
	}
	if !res.OK() {
		return "", &BrokenError{Entry: *res.FirstBroken, Reason: res.Reason, Entries: res.Entries}
	}
	return fmt.Sprintf("audit log intact: %d entries", res.Entries), nil
}

// BrokenError reports a broken audit chain.
type BrokenError struct {
	// Entry is the seq of the first entry that fails the check.
	Entry   int64
	Reason  string
	Entries int
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.Entry, e.Reason)
}

// Is makes errors.Is(err, store.ErrAuditBroken) true.
func (e *BrokenError) Is(target error) bool { return errors.Is(store.ErrAuditBroken, target) }
