package collect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// OpenLineage ingest (POST /api/v1/lineage, see shared/apis/openlineage.md).
//
// Authentication: the route is outside the bearer-token group because the
// OpenLineage clients' "api key" auth sends the key as a bearer token that
// is not a PUOD login: the simplest contract is that it IS a PUOD API token
// (POST /api/v1/tokens) of an editor, so the handler calls the host's
// authenticator itself. The token's profile receives the runs, in its
// built-in "OpenLineage" source (plugin id builtin.openlineage, created on
// first use, never polled).
//
// Mapping: pipeline = (job.namespace, job.name), external id
// "<namespace>/<name>", name job.name; run = run.runId. Events of one run
// may arrive in any order and more than once; lineageMerge makes the result
// independent of the order: the earliest START is the start, a terminal
// state is never replaced by a non-terminal one, and between two terminal
// events (or two non-terminal ones) the later eventTime wins.

// Built-in source of OpenLineage events.
const (
	LineagePluginID   = builtinPrefix + "openlineage"
	LineageSourceName = "OpenLineage"
)

// maxLineageBody bounds a decompressed lineage body.
const maxLineageBody = 8 << 20

// lineageEvent is the part of an OpenLineage RunEvent PUOD reads. Unknown
// fields and facets are ignored, never rejected: producers add their own.
// The fields PUOD knows must have their documented type.
type lineageEvent struct {
	EventType string `json:"eventType"`
	EventTime string `json:"eventTime"`
	Producer  string `json:"producer"`
	// SchemaURL is not used, only type-checked like the other fields.
	SchemaURL string `json:"schemaURL"`
	Run       *struct {
		RunID  string                     `json:"runId"`
		Facets map[string]json.RawMessage `json:"facets"`
	} `json:"run"`
	Job *struct {
		Namespace string                     `json:"namespace"`
		Name      string                     `json:"name"`
		Facets    map[string]json.RawMessage `json:"facets"`
	} `json:"job"`
}

// lineageStates maps eventType to a run state; OTHER (and any type a later
// spec adds) is metadata only.
var lineageStates = map[string]string{
	"START":    store.RunRunning,
	"RUNNING":  store.RunRunning,
	"COMPLETE": store.RunSucceeded,
	"FAIL":     store.RunFailed,
	"ABORT":    store.RunCancelled,
	"OTHER":    "",
}

func (c *Collector) handleLineage(gc *gin.Context) {
	if c.auth == nil {
		api.Fail(gc, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "lineage ingest is not enabled on this host"))
		return
	}
	p, err := c.auth.Authenticate(gc)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	if !p.Role.Allows(identity.RoleEditor) {
		api.Fail(gc, api.Errorf(http.StatusForbidden, api.CodeForbidden, "sending lineage events needs the editor role in profile %s; this token has %s", p.ProfileID, p.Role))
		return
	}
	ctx := identity.With(gc.Request.Context(), p)
	if err := requireJSONContent(gc, false); err != nil {
		api.Fail(gc, err)
		return
	}
	body, err := lineageBody(gc)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	runs, err := parseLineage(body)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	if len(runs) == 0 {
		// Dataset and job events only: accepted, nothing to store.
		gc.JSON(http.StatusOK, gin.H{"status": "success", "received": 0, "changed": 0})
		return
	}
	src, err := c.db.Sources().EnsureBuiltin(ctx, LineagePluginID, LineageSourceName)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	res, err := c.ingest(ctx, src.ID, runs, nil, lineageMerge)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	gc.JSON(http.StatusOK, gin.H{"status": "success", "received": res.Received, "changed": len(res.Changed)})
}

// lineageBody reads the body, gunzipping it when the emitter compressed it
// (Content-Encoding: gzip, what the OpenLineage HTTP transports send when
// compression is on). Any other content coding is refused (415): read as
// is, it would only fail as malformed JSON.
func lineageBody(gc *gin.Context) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(gc.GetHeader("Content-Encoding")))
	switch enc {
	case "", "identity", "gzip", "x-gzip":
	default:
		return nil, api.Errorf(http.StatusUnsupportedMediaType, api.CodeInvalid, "Content-Encoding %s is not supported: send the body as is or with Content-Encoding gzip", enc)
	}
	body, err := readBody(gc)
	if err != nil {
		return nil, err
	}
	if enc != "gzip" && enc != "x-gzip" {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "Content-Encoding is gzip but the body is not gzip data: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxLineageBody+1))
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "the gzip body is corrupt: %v", err)
	}
	if len(out) > maxLineageBody {
		return nil, api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "the decompressed body exceeds %d bytes", maxLineageBody)
	}
	return out, nil
}

// parseLineage decodes one RunEvent or a JSON array of them (the batch
// form) into run upserts. Every problem is reported with the JSON pointer
// of its field; any problem rejects the whole body.
func parseLineage(body []byte) ([]store.RunUpsert, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "request body is empty; send an OpenLineage RunEvent")
	}
	if e := checkJSONValue(trimmed); e != nil {
		e.Fields = []api.FieldProblem{{Field: "/", Message: e.Message}}
		return nil, e
	}
	var raws []json.RawMessage
	prefix := func(int) string { return "" }
	switch kind := jsonKindOf(trimmed); kind {
	case "an array":
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "malformed JSON array of events: %v", err)
		}
		if len(raws) == 0 {
			e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "no events in the array: send one OpenLineage RunEvent (a JSON object) or a non-empty array of them")
			e.Fields = []api.FieldProblem{{Field: "/", Message: "has no events"}}
			return nil, e
		}
		prefix = func(i int) string { return fmt.Sprintf("/%d", i) }
	case "an object":
		raws = []json.RawMessage{trimmed}
	default:
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "request body must be an OpenLineage event (a JSON object) or an array of them, got %s", kind)
		e.Fields = []api.FieldProblem{{Field: "/", Message: "must be an object or an array of objects"}}
		return nil, e
	}
	var (
		probs []api.FieldProblem
		runs  []store.RunUpsert
	)
	for i, raw := range raws {
		u, ok, fp := parseLineageEvent(raw, prefix(i))
		probs = append(probs, fp...)
		if ok {
			runs = append(runs, u)
		}
	}
	if len(probs) > 0 {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid OpenLineage event: %s %s; nothing was stored", probs[0].Field, probs[0].Message)
		e.Fields = probs
		return nil, e
	}
	return runs, nil
}

// parseLineageEvent converts one event. ok is false for events without a
// run (DatasetEvent, JobEvent), which PUOD ignores.
func parseLineageEvent(raw json.RawMessage, at string) (store.RunUpsert, bool, []api.FieldProblem) {
	whole := at
	if whole == "" {
		whole = "/"
	}
	if kind := jsonKindOf(raw); kind != "an object" {
		return store.RunUpsert{}, false, []api.FieldProblem{{Field: whole, Message: "must be an OpenLineage event (a JSON object), got " + kind}}
	}
	var ev lineageEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return store.RunUpsert{}, false, []api.FieldProblem{{Field: at + "/" + strings.ReplaceAll(typ.Field, ".", "/"),
				Message: fmt.Sprintf("must be %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)}}
		}
		return store.RunUpsert{}, false, []api.FieldProblem{{Field: whole, Message: "malformed event: " + err.Error()}}
	}
	if ev.Run == nil {
		return store.RunUpsert{}, false, nil
	}
	var probs []api.FieldProblem
	bad := func(field, msg string) { probs = append(probs, api.FieldProblem{Field: at + field, Message: msg}) }
	eventType := strings.ToUpper(strings.TrimSpace(ev.EventType))
	state, known := lineageStates[eventType]
	if !known && eventType != "" {
		// A type a later spec version adds: metadata only, like OTHER.
		state = ""
	}
	var when time.Time
	if strings.TrimSpace(ev.EventTime) == "" {
		bad("/eventTime", "is required (RFC 3339 date-time)")
	} else if t, err := time.Parse(time.RFC3339Nano, ev.EventTime); err != nil {
		bad("/eventTime", fmt.Sprintf("is not an RFC 3339 date-time: %q", ev.EventTime))
	} else {
		when = t
	}
	runID := strings.TrimSpace(ev.Run.RunID)
	switch {
	case runID == "":
		bad("/run/runId", "is required")
	case len(runID) > 200:
		bad("/run/runId", "is longer than 200 characters")
	}
	if ev.Job == nil {
		bad("/job", "is required (namespace and name)")
	} else {
		if strings.TrimSpace(ev.Job.Namespace) == "" {
			bad("/job/namespace", "is required")
		}
		if strings.TrimSpace(ev.Job.Name) == "" {
			bad("/job/name", "is required")
		}
	}
	// Stored in text columns: PostgreSQL cannot hold a NUL character.
	for _, f := range []struct{ field, value string }{
		{"/eventType", ev.EventType}, {"/run/runId", ev.Run.RunID}, {"/job/namespace", jobField(ev, true)}, {"/job/name", jobField(ev, false)},
	} {
		if !storableText(f.value) {
			bad(f.field, "must not contain NUL characters")
		}
	}
	if len(probs) > 0 {
		return store.RunUpsert{}, false, probs
	}
	ns, name := strings.TrimSpace(ev.Job.Namespace), strings.TrimSpace(ev.Job.Name)
	u := store.RunUpsert{
		ExternalID:         runID,
		PipelineExternalID: ns + "/" + name,
		PipelineName:       name,
		RunData: store.RunData{
			State:      state,
			EventAt:    &when,
			Attributes: map[string]string{"openlineage.namespace": ns, "openlineage.job": name},
		},
	}
	if eventType != "" {
		u.RawState = eventType
	}
	switch eventType {
	case "START":
		u.StartedAt = &when
	case "COMPLETE", "FAIL", "ABORT":
		u.EndedAt = &when
	}
	if ev.Producer != "" {
		u.Attributes["openlineage.producer"] = ev.Producer
	}
	readFacets(&u, ev.Run.Facets, ev.Job.Facets)
	return u, true, nil
}

// jobField returns job.namespace (or job.name) of ev, "" without a job.
func jobField(ev lineageEvent, namespace bool) string {
	switch {
	case ev.Job == nil:
		return ""
	case namespace:
		return ev.Job.Namespace
	}
	return ev.Job.Name
}

// readFacets copies the facets PUOD uses into the run. A facet that does
// not have the documented shape is ignored, never an error.
func readFacets(u *store.RunUpsert, run, job map[string]json.RawMessage) {
	var em struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(run["errorMessage"], &em) == nil && em.Message != "" {
		// Free text, stored in a text column: NUL characters are dropped.
		u.ErrorMessage = strings.ReplaceAll(em.Message, "\x00", "")
	}
	var parent struct {
		Run struct {
			RunID string `json:"runId"`
		} `json:"run"`
		Job struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"job"`
	}
	if json.Unmarshal(run["parent"], &parent) == nil && parent.Run.RunID != "" {
		u.Attributes["parent_run_id"] = parent.Run.RunID
		u.Attributes["parent_job"] = parent.Job.Namespace + "/" + parent.Job.Name
	}
	var nominal struct {
		Start string `json:"nominalStartTime"`
		End   string `json:"nominalEndTime"`
	}
	if json.Unmarshal(run["nominalTime"], &nominal) == nil {
		if nominal.Start != "" {
			u.Attributes["nominal_start"] = nominal.Start
		}
		if nominal.End != "" {
			u.Attributes["nominal_end"] = nominal.End
		}
	}
	var engine struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if json.Unmarshal(run["processing_engine"], &engine) == nil && engine.Name != "" {
		u.Attributes["processing_engine"] = strings.TrimSpace(engine.Name + " " + engine.Version)
	}
	var jt struct {
		ProcessingType string `json:"processingType"`
		Integration    string `json:"integration"`
		JobType        string `json:"jobType"`
	}
	if json.Unmarshal(job["jobType"], &jt) == nil {
		for k, v := range map[string]string{"job_type": jt.JobType, "integration": jt.Integration, "processing_type": jt.ProcessingType} {
			if v != "" {
				u.Attributes[k] = v
			}
		}
	}
}

// lineageMerge folds one lineage event into a run so that any order of the
// same events gives the same run: the earliest START is the start, a
// terminal state is never replaced by a non-terminal one, and otherwise the
// later eventTime wins. Attributes are additive.
func lineageMerge(stored *store.RunData, in store.RunData) store.RunData {
	var out store.RunData
	if stored != nil {
		out = *stored
	}
	apply := false
	switch {
	case in.State == "":
		// OTHER: metadata only.
	case stored == nil || !store.ValidRunState(stored.State):
		apply = true
	case store.TerminalRunState(stored.State) != store.TerminalRunState(in.State):
		apply = store.TerminalRunState(in.State)
	default:
		apply = stored.EventAt == nil || (in.EventAt != nil && laterOrSame(*in.EventAt, *stored.EventAt, in.RawState, stored.RawState))
	}
	if apply {
		out.State, out.RawState, out.EventAt = in.State, in.RawState, in.EventAt
		if store.TerminalRunState(in.State) {
			out.EndedAt, out.ErrorMessage = in.EndedAt, in.ErrorMessage
		}
	}
	// First sight through an OTHER event: the run is running (see
	// store.Ingest) with no event time, so whatever state event comes next
	// applies.
	if in.StartedAt != nil && (out.StartedAt == nil || in.StartedAt.Before(*out.StartedAt)) {
		out.StartedAt = in.StartedAt
	}
	if !apply && out.ErrorMessage == "" && in.ErrorMessage != "" && out.State == store.RunFailed {
		out.ErrorMessage = in.ErrorMessage
	}
	attrs := make(map[string]string, len(out.Attributes)+len(in.Attributes))
	for k, v := range out.Attributes {
		attrs[k] = v
	}
	for k, v := range in.Attributes {
		attrs[k] = v
	}
	out.Attributes = attrs
	// Recomputed from the (possibly earlier) start and the end.
	out.DurationMS = nil
	return out
}

// laterOrSame orders two events of the same class (both terminal or both
// not): the later eventTime wins; on a tie, a fixed order of the event
// types does, so deliveries in any order agree.
func laterOrSame(a, b time.Time, typeA, typeB string) bool {
	if !a.Equal(b) {
		return a.After(b)
	}
	return typeA >= typeB
}
