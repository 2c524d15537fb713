package synapsesim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// A query kind lists what RunFilterParameters may name for one endpoint.
type queryKind struct {
	what     string
	operands []string
	orderBys []string
	// defaultOrder applies when the body has no orderBy.
	defaultOrder RunQueryOrderBy
}

var (
	pipelineRunQuery = queryKind{
		what:         "pipeline runs",
		operands:     []string{"PipelineName", "Status", "RunStart", "RunEnd", "RunGroupId", "LatestOnly"},
		orderBys:     []string{"RunStart", "RunEnd", "PipelineName", "Status"},
		defaultOrder: RunQueryOrderBy{OrderBy: "RunStart", Order: "DESC"},
	}
	activityRunQuery = queryKind{
		what:         "activity runs",
		operands:     []string{"ActivityName", "ActivityType", "ActivityRunStart", "ActivityRunEnd", "Status"},
		orderBys:     []string{"ActivityName", "ActivityRunStart", "ActivityRunEnd", "Status"},
		defaultOrder: RunQueryOrderBy{OrderBy: "ActivityRunStart", Order: "ASC"},
	}
	triggerRunQuery = queryKind{
		what:         "trigger runs",
		operands:     []string{"TriggerName", "TriggerRunTimestamp", "Status"},
		orderBys:     []string{"TriggerName", "TriggerRunTimestamp", "Status"},
		defaultOrder: RunQueryOrderBy{OrderBy: "TriggerRunTimestamp", Order: "DESC"},
	}
	operators = []string{"Equals", "NotEquals", "In", "NotIn"}
)

// query is a parsed, checked RunFilterParameters.
type query struct {
	after, before time.Time
	token         string
	filters       []RunQueryFilter
	order         []RunQueryOrderBy
}

type badRequest struct{ message, target string }

func (e *badRequest) Error() string { return e.message }

// parseQuery reads and checks a run query body as the service does.
func parseQuery(body []byte, k queryKind) (*query, *badRequest) {
	var p RunFilterParameters
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return nil, &badRequest{"The request body is invalid: " + err.Error(), "filterParameters"}
	}
	q := &query{}
	var err error
	if p.LastUpdatedAfter == "" {
		return nil, &badRequest{"The request body is invalid: 'lastUpdatedAfter' is required.", "lastUpdatedAfter"}
	}
	if p.LastUpdatedBefore == "" {
		return nil, &badRequest{"The request body is invalid: 'lastUpdatedBefore' is required.", "lastUpdatedBefore"}
	}
	if q.after, err = time.Parse(time.RFC3339Nano, p.LastUpdatedAfter); err != nil {
		return nil, &badRequest{fmt.Sprintf("The request body is invalid: 'lastUpdatedAfter' value '%s' is not a valid date-time.", p.LastUpdatedAfter), "lastUpdatedAfter"}
	}
	if q.before, err = time.Parse(time.RFC3339Nano, p.LastUpdatedBefore); err != nil {
		return nil, &badRequest{fmt.Sprintf("The request body is invalid: 'lastUpdatedBefore' value '%s' is not a valid date-time.", p.LastUpdatedBefore), "lastUpdatedBefore"}
	}
	if !q.after.Before(q.before) {
		// The wording of fixtures/synapse/error.json.
		return nil, &badRequest{"The request body is invalid: 'lastUpdatedAfter' must be earlier than 'lastUpdatedBefore'.", "filterParameters"}
	}
	if p.ContinuationToken != nil {
		q.token = *p.ContinuationToken
	}
	for _, f := range p.Filters {
		if !slices.Contains(k.operands, f.Operand) {
			return nil, &badRequest{fmt.Sprintf("The operand '%s' is not supported for %s. Supported operands: %s.", f.Operand, k.what, strings.Join(k.operands, ", ")), "filters"}
		}
		if !slices.Contains(operators, f.Operator) {
			return nil, &badRequest{fmt.Sprintf("The operator '%s' is not supported. Supported operators: %s.", f.Operator, strings.Join(operators, ", ")), "filters"}
		}
		if len(f.Values) == 0 {
			return nil, &badRequest{fmt.Sprintf("The filter on '%s' has no values.", f.Operand), "filters"}
		}
	}
	q.filters = p.Filters
	for _, o := range p.OrderBy {
		if !slices.Contains(k.orderBys, o.OrderBy) {
			return nil, &badRequest{fmt.Sprintf("The orderBy field '%s' is not supported for %s. Supported fields: %s.", o.OrderBy, k.what, strings.Join(k.orderBys, ", ")), "orderBy"}
		}
		if o.Order != "ASC" && o.Order != "DESC" {
			return nil, &badRequest{fmt.Sprintf("The order '%s' is invalid: use ASC or DESC.", o.Order), "orderBy"}
		}
	}
	q.order = p.OrderBy
	if len(q.order) == 0 {
		q.order = []RunQueryOrderBy{k.defaultOrder}
	}
	return q, nil
}

func (q *query) inWindow(t time.Time) bool { return !t.Before(q.after) && !t.After(q.before) }

// match applies the filters; field returns a row's value for an operand.
func (q *query) match(field func(operand string) string) bool {
	for _, f := range q.filters {
		v := field(f.Operand)
		in := false
		for _, want := range f.Values {
			if sameValue(f.Operand, v, want) {
				in = true
				break
			}
		}
		switch f.Operator {
		case "Equals", "In":
			if !in {
				return false
			}
		case "NotEquals", "NotIn":
			if in {
				return false
			}
		}
	}
	return true
}

func sameValue(operand, have, want string) bool {
	if strings.HasSuffix(operand, "Start") || strings.HasSuffix(operand, "End") || strings.HasSuffix(operand, "Timestamp") {
		a, errA := time.Parse(time.RFC3339Nano, have)
		b, errB := time.Parse(time.RFC3339Nano, want)
		if errA == nil && errB == nil {
			return a.Equal(b)
		}
	}
	return strings.EqualFold(have, want)
}

// row is one result with its sort key.
type row struct {
	keys []string
	id   string
	v    any
}

// pageToken is the position after the last row served. Like the
// service's (a Cosmos DB resume token), it is a position, not an offset,
// so runs dropping out of the window between pages shift nothing.
type pageToken struct {
	Keys []string `json:"k"`
	ID   string   `json:"id"`
}

func encodeToken(last row, page, total int) string {
	b, _ := json.Marshal(pageToken{Keys: last.keys, ID: last.id})
	return fmt.Sprintf("+RID:~%s#RT:%d#TRC:%d#ISV:2#IEO:65567#QCF:8", base64.StdEncoding.EncodeToString(b), page, total)
}

func decodeToken(s string) (pageToken, int, int, bool) {
	var t pageToken
	rest, ok := strings.CutPrefix(s, "+RID:~")
	if !ok {
		return t, 0, 0, false
	}
	enc, tail, ok := strings.Cut(rest, "#RT:")
	if !ok {
		return t, 0, 0, false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || json.Unmarshal(b, &t) != nil || t.ID == "" {
		return t, 0, 0, false
	}
	var page, total int
	if _, err := fmt.Sscanf(tail, "%d#TRC:%d", &page, &total); err != nil {
		return t, 0, 0, false
	}
	return t, page, total, true
}

// paginate sorts rows by the query's order and cuts the page the token
// asks for.
func (s *Server) paginate(rows []row, q *query, pageSize int) (page []any, next string, bad *badRequest) {
	desc := make([]bool, len(q.order))
	for i, o := range q.order {
		desc[i] = o.Order == "DESC"
	}
	cmp := func(aKeys []string, aID string, bKeys []string, bID string) int {
		for i := range desc {
			if c := strings.Compare(aKeys[i], bKeys[i]); c != 0 {
				if desc[i] {
					return -c
				}
				return c
			}
		}
		return strings.Compare(aID, bID)
	}
	sort.Slice(rows, func(i, j int) bool { return cmp(rows[i].keys, rows[i].id, rows[j].keys, rows[j].id) < 0 })
	start, pageNo, served := 0, 1, 0
	if q.token != "" {
		t, n, total, ok := decodeToken(q.token)
		if !ok || len(t.Keys) != len(desc) {
			return nil, "", &badRequest{"The continuation token is invalid or does not match the query.", "continuationToken"}
		}
		start = sort.Search(len(rows), func(i int) bool { return cmp(rows[i].keys, rows[i].id, t.Keys, t.ID) > 0 })
		pageNo, served = n+1, total
		s.mu.Lock()
		if s.faults.overlapPages > 0 {
			s.faults.overlapPages--
			start = max(0, start-s.faults.overlapItems)
		}
		s.mu.Unlock()
	}
	end := min(start+pageSize, len(rows))
	page = make([]any, 0, end-start)
	for _, r := range rows[start:end] {
		page = append(page, r.v)
	}
	if end < len(rows) {
		next = encodeToken(rows[end-1], pageNo, served+len(page))
	}
	return page, next, nil
}

// writePage answers {value, continuationToken?}; malform applies the
// MalformNext fault.
func (s *Server) writePage(w http.ResponseWriter, page []any, next string, malform bool) {
	out := struct {
		Value             []any  `json:"value"`
		ContinuationToken string `json:"continuationToken,omitempty"`
	}{Value: page, ContinuationToken: next}
	b, _ := json.Marshal(out)
	if malform && s.takeMalform() {
		b = malformed(b)
	}
	writeBytes(w, http.StatusOK, b)
}

func (s *Server) takeMalform() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.malformN > 0 {
		s.faults.malformN--
		return true
	}
	return false
}

func (s *Server) handleQueryPipelineRuns(w http.ResponseWriter, body []byte, now time.Time) {
	q, bad := parseQuery(body, pipelineRunQuery)
	if bad != nil {
		if b, ok := s.fixtureFile("error.json"); ok && strings.Contains(bad.message, "must be earlier") {
			writeBytes(w, http.StatusBadRequest, b)
			return
		}
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	if b, ok := s.fixtureQueryPage(body, q); ok {
		if s.takeMalform() {
			b = malformed(b)
		}
		writeBytes(w, http.StatusOK, b)
		return
	}
	s.mu.Lock()
	var rows []row
	for _, r := range s.world.runs {
		lu, ok := r.lastUpdated(now)
		if !ok || !q.inWindow(lu) {
			continue
		}
		v := s.world.view(r, now)
		if !q.match(func(op string) string { return pipelineRunField(v, op) }) {
			continue
		}
		keys := make([]string, len(q.order))
		for i, o := range q.order {
			keys[i] = pipelineRunField(v, o.OrderBy)
		}
		rows = append(rows, row{keys: keys, id: v.RunID, v: v})
	}
	s.mu.Unlock()
	page, next, bad := s.paginate(rows, q, s.opts.PageSize)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	s.writePage(w, page, next, true)
}

func pipelineRunField(v PipelineRun, name string) string {
	switch name {
	case "PipelineName":
		return v.PipelineName
	case "Status":
		return v.Status
	case "RunStart":
		return v.RunStart
	case "RunEnd":
		if v.RunEnd == nil {
			return ""
		}
		return *v.RunEnd
	case "RunGroupId":
		return v.RunGroupID
	case "LatestOnly":
		if v.IsLatest {
			return "true"
		}
		// A superseded run matches neither "true" nor its negation's
		// intent; LatestOnly=true hides it.
		return "false"
	}
	return ""
}

func (s *Server) handleQueryActivityRuns(w http.ResponseWriter, pipelineName, runID string, body []byte, now time.Time) {
	q, bad := parseQuery(body, activityRunQuery)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	if b, ok := s.fixtureActivityRuns(pipelineName, runID, q); ok {
		writeBytes(w, http.StatusOK, b)
		return
	}
	s.mu.Lock()
	r, ok := s.world.byID[runID]
	visible := false
	if ok {
		_, visible = r.current(now)
	}
	if !visible || r.pipeline != pipelineName {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "PipelineRunNotFound", fmt.Sprintf("Pipeline run '%s' of pipeline '%s' does not exist in workspace '%s'.", runID, pipelineName, s.opts.Workspace), "")
		return
	}
	var rows []row
	for _, a := range r.activities {
		if !a.visible(now) || !q.inWindow(a.lastUpdated(now)) {
			continue
		}
		v := a.view(r, now)
		if !q.match(func(op string) string { return activityRunField(v, op) }) {
			continue
		}
		keys := make([]string, len(q.order))
		for i, o := range q.order {
			keys[i] = activityRunField(v, o.OrderBy)
		}
		rows = append(rows, row{keys: keys, id: v.ActivityRunID, v: v})
	}
	s.mu.Unlock()
	page, next, bad := s.paginate(rows, q, s.opts.PageSize)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	s.writePage(w, page, next, false)
}

func activityRunField(v ActivityRun, name string) string {
	switch name {
	case "ActivityName":
		return v.ActivityName
	case "ActivityType":
		return v.ActivityType
	case "ActivityRunStart":
		return v.ActivityRunStart
	case "ActivityRunEnd":
		if v.ActivityRunEnd == nil {
			return ""
		}
		return *v.ActivityRunEnd
	case "Status":
		return v.Status
	}
	return ""
}

func (s *Server) handleQueryTriggerRuns(w http.ResponseWriter, body []byte, now time.Time) {
	q, bad := parseQuery(body, triggerRunQuery)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	s.mu.Lock()
	var rows []row
	for _, r := range s.world.runs {
		if r.triggerRunID == "" || r.firedAt.After(now) || !q.inWindow(r.firedAt) {
			continue
		}
		v := TriggerRun{
			TriggerRunID: r.triggerRunID, TriggerName: r.invokedBy.Name, TriggerType: r.triggerType,
			TriggerRunTimestamp: FormatTime(r.firedAt), Status: StatusSucceeded, Message: "",
			Properties:         map[string]string{"TriggerTime": r.firedAt.UTC().Format("1/2/2006 3:04:05 PM"), "ScheduleTime": r.firedAt.UTC().Format("1/2/2006 3:04:05 PM")},
			TriggeredPipelines: map[string]string{r.pipeline: r.id},
		}
		field := func(op string) string {
			switch op {
			case "TriggerName":
				return v.TriggerName
			case "TriggerRunTimestamp":
				return v.TriggerRunTimestamp
			case "Status":
				return v.Status
			}
			return ""
		}
		if !q.match(field) {
			continue
		}
		keys := make([]string, len(q.order))
		for i, o := range q.order {
			keys[i] = field(o.OrderBy)
		}
		rows = append(rows, row{keys: keys, id: v.TriggerRunID, v: v})
	}
	s.mu.Unlock()
	page, next, bad := s.paginate(rows, q, s.opts.PageSize)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", bad.message, bad.target)
		return
	}
	s.writePage(w, page, next, false)
}
