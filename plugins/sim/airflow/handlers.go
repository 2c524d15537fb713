package airflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) route(method string, route []string, rawQuery string, body []byte, now time.Time) response {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return s.badRequest("Bad Request", "malformed query string")
	}
	n := len(route)
	get, post := method == http.MethodGet, method == http.MethodPost
	switch {
	case n == 1 && route[0] == "dags" && get:
		return s.listDAGs(q, now)
	case n == 2 && route[0] == "dags" && get:
		return s.getDAG(route[1], now)
	case n == 3 && route[0] == "dags" && route[2] == "dagRuns" && get:
		return s.listRunsGET(route[1], q)
	case n == 4 && route[0] == "dags" && route[1] == "~" && route[2] == "dagRuns" && route[3] == "list" && post:
		return s.listRunsBatch(body)
	case n == 4 && route[0] == "dags" && route[2] == "dagRuns" && get:
		return s.getRun(route[1], route[3])
	case n == 5 && route[0] == "dags" && route[2] == "dagRuns" && route[4] == "taskInstances" && get:
		return s.listTasks(route[1], route[3], q)
	case n == 6 && route[0] == "dags" && route[1] == "~" && route[2] == "dagRuns" && route[3] == "~" && route[4] == "taskInstances" && route[5] == "list" && post:
		return s.listTasksBatch(body)
	}
	if n >= 1 && route[0] == "dags" && n <= 6 {
		if s.opts.API == V1 {
			return s.problemBody(http.StatusMethodNotAllowed, "Method Not Allowed", "The method is not allowed for the requested URL.", "")
		}
		return jsonResponse(http.StatusMethodNotAllowed, map[string]any{"detail": "Method Not Allowed"})
	}
	if s.opts.API == V1 {
		return s.problemBody(http.StatusNotFound, "Not Found", "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.", "")
	}
	return jsonResponse(http.StatusNotFound, map[string]any{"detail": "Not Found"})
}

// v1Before26 reports an Airflow 2 older than 2.6, which lacks updated_at.
func (s *Server) v1Before26() bool {
	if s.opts.API != V1 {
		return false
	}
	parts := strings.SplitN(s.opts.Version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(parts[1])
	return major == 2 && minor < 6
}

// page is limit and offset after Airflow's defaults and caps.
type page struct{ limit, offset int }

func (s *Server) defaultLimit() int {
	if s.opts.API == V1 {
		return 100
	}
	return 50
}

func (s *Server) parsePage(q url.Values, limitKey, offsetKey string, where string) (page, *response) {
	p := page{limit: s.defaultLimit()}
	for _, k := range []string{limitKey, offsetKey} {
		v := q.Get(k)
		if v == "" && where == "body" {
			continue
		}
		if !q.Has(k) {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			if s.opts.API == V1 {
				r := s.problemBody(http.StatusBadRequest, "Bad Request", fmt.Sprintf("'%s' is not of type 'integer'", v), "")
				return p, &r
			}
			r := unprocessable([]validation{{Type: "int_parsing", Loc: []any{where, k}, Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v}})
			return p, &r
		}
		if n < 0 {
			if s.opts.API == V1 {
				r := s.problem(http.StatusBadRequest, "Bad Request", "Page limit must be a positive integer", "BadRequest")
				if k == offsetKey {
					r = s.problemBody(http.StatusBadRequest, "Bad Request", fmt.Sprintf("%d is less than the minimum of 0", n), "")
				}
				return p, &r
			}
			r := unprocessable([]validation{{Type: "greater_than_equal", Loc: []any{where, k}, Msg: "Input should be greater than or equal to 0", Input: v, Ctx: map[string]any{"ge": 0}}})
			return p, &r
		}
		if k == limitKey {
			p.limit = n
		} else {
			p.offset = n
		}
	}
	if p.limit == 0 {
		p.limit = s.defaultLimit()
	}
	if p.limit > s.opts.MaxPageLimit {
		p.limit = s.opts.MaxPageLimit // silently capped, as Airflow does
	}
	if p.offset > 0 && s.faults.overlap > 0 {
		p.offset = max(0, p.offset-s.faults.overlap)
	}
	return p, nil
}

func window[T any](items []T, p page) []T {
	if p.offset >= len(items) {
		return []T{}
	}
	end := min(len(items), p.offset+p.limit)
	return items[p.offset:end]
}

// parseTime reads a date-time as Airflow does: Airflow 2 turns a space
// back into "+" (a "+" sent unencoded in a query), both accept RFC 3339,
// naive times (UTC) and plain dates.
func (s *Server) parseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if s.opts.API == V1 && !strings.HasSuffix(v, "Z") {
		v = strings.ReplaceAll(v, " ", "+")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unable to parse %q as a date-time", v)
}

func (s *Server) badTime(where, key, v string, err error) response {
	if s.opts.API == V1 {
		return s.problem(http.StatusBadRequest, "Incorrect datetime argument", err.Error(), "BadRequest")
	}
	return unprocessable([]validation{{Type: "datetime_from_date_parsing", Loc: []any{where, key}, Msg: "Input should be a valid datetime or date, invalid character in year", Input: v}})
}

// runFilter selects DAG runs.
type runFilter struct {
	dagIDs       map[string]bool
	states       []string
	runTypes     []string
	times        []timeCond
	durations    []numCond
	dagPattern   *regexp.Regexp
	runPattern   *regexp.Regexp
	orderBy      []string
	confContains string
}

type timeCond struct {
	field, op string
	t         time.Time
}

type numCond struct {
	op string
	v  float64
}

func (f *runFilter) match(r *dagRun) bool {
	if f.dagIDs != nil && !f.dagIDs[r.dagID] {
		return false
	}
	if len(f.states) > 0 && !contains(f.states, r.state) {
		return false
	}
	if len(f.runTypes) > 0 && !contains(f.runTypes, r.runType) {
		return false
	}
	for _, c := range f.times {
		v := runTimeField(r, c.field)
		if v == nil || !compare(v.Sub(c.t), c.op) {
			return false
		}
	}
	for _, c := range f.durations {
		d := duration(r.start, r.end)
		if d == nil || !compareF(*d-c.v, c.op) {
			return false
		}
	}
	if f.dagPattern != nil && !f.dagPattern.MatchString(r.dagID) {
		return false
	}
	if f.runPattern != nil && !f.runPattern.MatchString(r.runID) {
		return false
	}
	if f.confContains != "" {
		b, _ := json.Marshal(r.conf)
		if !bytes.Contains(b, []byte(f.confContains)) {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func compare(d time.Duration, op string) bool {
	switch op {
	case "gte":
		return d >= 0
	case "gt":
		return d > 0
	case "lte":
		return d <= 0
	case "lt":
		return d < 0
	}
	return false
}

func compareF(d float64, op string) bool {
	switch op {
	case "gte":
		return d >= 0
	case "gt":
		return d > 0
	case "lte":
		return d <= 0
	case "lt":
		return d < 0
	}
	return false
}

func runTimeField(r *dagRun, field string) *time.Time {
	switch field {
	case "execution_date", "logical_date":
		return r.logicalDate
	case "start_date":
		return r.start
	case "end_date":
		return r.end
	case "updated_at":
		return &r.updatedAt
	case "run_after":
		return &r.runAfter
	case "queued_at":
		return r.queuedAt
	}
	return nil
}

// likePattern turns Airflow's pattern search (SQL ILIKE '%pattern%') into
// a regular expression.
func likePattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)")
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return regexp.MustCompile(b.String())
}

var (
	v1RunSorts = []string{"id", "state", "dag_id", "execution_date", "dag_run_id", "start_date", "end_date", "updated_at", "external_trigger", "conf"}
	v2RunSorts = []string{"id", "state", "dag_id", "run_id", "dag_run_id", "logical_date", "run_after", "start_date", "end_date", "updated_at", "conf", "duration", "run_type", "queued_at"}
)

func (s *Server) checkOrder(orderBy []string) *response {
	allowed := v1RunSorts
	if s.opts.API == V2 {
		allowed = v2RunSorts
	}
	for _, o := range orderBy {
		if !contains(allowed, strings.TrimPrefix(o, "-")) {
			msg := fmt.Sprintf("Ordering with '%s' is disallowed or the attribute does not exist on the model", strings.TrimPrefix(o, "-"))
			r := s.badRequest("Bad Request", msg)
			if s.opts.API == V1 {
				r = s.problem(http.StatusBadRequest, "Bad Request", msg, "BadRequest")
			}
			return &r
		}
	}
	return nil
}

// sortRuns orders runs as SQL would: NULLs last ascending and first
// descending, ties broken by the primary key.
func sortRuns(runs []*dagRun, orderBy []string) {
	if len(orderBy) == 0 {
		orderBy = []string{"id"}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		for _, o := range orderBy {
			desc := strings.HasPrefix(o, "-")
			c := compareRuns(runs[i], runs[j], strings.TrimPrefix(o, "-"))
			if c != 0 {
				if desc {
					return c > 0
				}
				return c < 0
			}
		}
		return runs[i].id < runs[j].id
	})
}

func compareRuns(a, b *dagRun, field string) int {
	switch field {
	case "id":
		return cmpInt(a.id, b.id)
	case "state":
		return strings.Compare(a.state, b.state)
	case "dag_id":
		return strings.Compare(a.dagID, b.dagID)
	case "run_id", "dag_run_id":
		return strings.Compare(a.runID, b.runID)
	case "run_type":
		return strings.Compare(a.runType, b.runType)
	case "external_trigger":
		return cmpInt(b2i(a.externalTrigger), b2i(b.externalTrigger))
	case "conf":
		x, _ := json.Marshal(a.conf)
		y, _ := json.Marshal(b.conf)
		return bytes.Compare(x, y)
	case "duration":
		da, db := duration(a.start, a.end), duration(b.start, b.end)
		switch {
		case da == nil && db == nil:
			return 0
		case da == nil:
			return 1
		case db == nil:
			return -1
		case *da < *db:
			return -1
		case *da > *db:
			return 1
		}
		return 0
	}
	ta, tb := runTimeField(a, field), runTimeField(b, field)
	switch {
	case ta == nil && tb == nil:
		return 0
	case ta == nil:
		return 1
	case tb == nil:
		return -1
	}
	return ta.Compare(*tb)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// listRunsGET is GET /api/vN/dags/{dag_id}/dagRuns ("~": every DAG).
func (s *Server) listRunsGET(dagID string, q url.Values) response {
	f := runFilter{}
	var v1Allowed map[string]bool
	if s.opts.API == V1 {
		v1Allowed = map[string]bool{"limit": true, "offset": true, "order_by": true, "state": true}
		fields := []string{"execution_date", "start_date", "end_date"}
		if !s.v1Before26() {
			fields = append(fields, "updated_at")
		}
		for _, fld := range fields {
			v1Allowed[fld+"_gte"], v1Allowed[fld+"_lte"] = true, true
		}
		if r := s.strictQuery(q, v1Allowed); r != nil {
			return *r
		}
	}
	if dagID != "~" {
		if s.opts.API == V2 && s.dagByID(dagID) == nil {
			return jsonResponse(http.StatusNotFound, map[string]any{"detail": fmt.Sprintf("The DAG with dag_id: `%s` was not found", dagID)})
		}
		f.dagIDs = map[string]bool{dagID: true}
	}
	p, bad := s.parsePage(q, "limit", "offset", "query")
	if bad != nil {
		return *bad
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := q.Get(k)
		switch {
		case k == "state":
			f.states = q[k]
		case k == "order_by":
			f.orderBy = q[k]
			if s.opts.API == V1 {
				f.orderBy = q[k][:1]
			}
		case k == "run_type" && s.opts.API == V2:
			f.runTypes = q[k]
		case k == "dag_id_pattern" && s.opts.API == V2:
			f.dagPattern = likePattern(v)
		case k == "run_id_pattern" && s.opts.API == V2:
			f.runPattern = likePattern(v)
		default:
			field, op, ok := splitRange(k)
			if !ok {
				continue // FastAPI ignores unknown query parameters
			}
			if field == "duration" && s.opts.API == V2 {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return unprocessable([]validation{{Type: "float_parsing", Loc: []any{"query", k}, Msg: "Input should be a valid number, unable to parse string as a number", Input: v}})
				}
				f.durations = append(f.durations, numCond{op, x})
				continue
			}
			if !s.timeFieldAllowed(field, op, false) {
				continue
			}
			t, err := s.parseTime(v)
			if err != nil {
				return s.badTime("query", k, v, err)
			}
			f.times = append(f.times, timeCond{field, op, t})
		}
	}
	if r := s.checkOrder(f.orderBy); r != nil {
		return *r
	}
	return s.runsPage(&f, p)
}

func splitRange(k string) (field, op string, ok bool) {
	for _, op := range []string{"_gte", "_gt", "_lte", "_lt"} {
		if strings.HasSuffix(k, op) {
			return strings.TrimSuffix(k, op), op[1:], true
		}
	}
	return "", "", false
}

// timeFieldAllowed says which date filters each API has (batch bodies
// have no updated_at in either).
func (s *Server) timeFieldAllowed(field, op string, batch bool) bool {
	if s.opts.API == V1 {
		if op != "gte" && op != "lte" {
			return false
		}
		switch field {
		case "execution_date", "start_date", "end_date":
			return true
		case "updated_at":
			return !batch
		}
		return false
	}
	switch field {
	case "logical_date", "run_after", "start_date", "end_date":
		return true
	case "updated_at":
		return !batch
	}
	return false
}

// strictQuery rejects query parameters the Airflow 2 OpenAPI spec does
// not list, as connexion's strict validation does.
func (s *Server) strictQuery(q url.Values, allowed map[string]bool) *response {
	var extra []string
	for k := range q {
		if !allowed[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	r := s.problemBody(http.StatusBadRequest, "Bad Request", "Extra query parameter(s) "+strings.Join(extra, ", ")+" not in spec", "")
	return &r
}

func (s *Server) runsPage(f *runFilter, p page) response {
	var matched []*dagRun
	for _, r := range s.runs {
		if f.match(r) {
			matched = append(matched, r)
		}
	}
	sortRuns(matched, f.orderBy)
	items := []any{}
	for _, r := range window(matched, p) {
		items = append(items, s.renderRun(r))
	}
	return jsonResponse(http.StatusOK, map[string]any{"dag_runs": items, "total_entries": len(matched)})
}

// listRunsBatch is POST /api/vN/dags/~/dagRuns/list.
func (s *Server) listRunsBatch(body []byte) response {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil || in == nil {
		if s.opts.API == V1 {
			return s.problem(http.StatusBadRequest, "Bad Request", "Request body must be a JSON object", "BadRequest")
		}
		return unprocessable([]validation{{Type: "json_invalid", Loc: []any{"body", 0}, Msg: "JSON decode error", Input: map[string]any{}, Ctx: map[string]any{"error": "Expecting value"}}})
	}
	allowed := map[string]bool{"order_by": true, "page_offset": true, "page_limit": true, "dag_ids": true, "states": true}
	if s.opts.API == V1 {
		for _, fld := range []string{"execution_date", "start_date", "end_date"} {
			allowed[fld+"_gte"], allowed[fld+"_lte"] = true, true
		}
	} else {
		for _, fld := range []string{"logical_date", "run_after", "start_date", "end_date", "duration"} {
			for _, op := range []string{"_gte", "_gt", "_lte", "_lt"} {
				allowed[fld+op] = true
			}
		}
		allowed["conf_contains"] = true
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if s.opts.API == V2 {
		var extra []validation
		for _, k := range keys {
			if !allowed[k] {
				var input any
				_ = json.Unmarshal(in[k], &input)
				extra = append(extra, validation{Type: "extra_forbidden", Loc: []any{"body", k}, Msg: "Extra inputs are not permitted", Input: input})
			}
		}
		if len(extra) > 0 {
			return unprocessable(extra)
		}
	}
	f := runFilter{}
	q := url.Values{}
	for _, k := range keys {
		if !allowed[k] {
			continue // Airflow 2 ignores unknown body keys
		}
		raw := in[k]
		if string(raw) == "null" {
			continue
		}
		switch k {
		case "page_limit", "page_offset":
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return s.bodyTypeError(k, raw, "Not a valid integer.", "int_type", "Input should be a valid integer")
			}
			q.Set(k, n.String())
		case "order_by", "conf_contains":
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return s.bodyTypeError(k, raw, "Not a valid string.", "string_type", "Input should be a valid string")
			}
			if k == "order_by" {
				f.orderBy = []string{v}
			} else {
				f.confContains = v
			}
		case "dag_ids", "states":
			var v []string
			if err := json.Unmarshal(raw, &v); err != nil {
				return s.bodyTypeError(k, raw, "Not a valid list.", "list_type", "Input should be a valid list")
			}
			if k == "dag_ids" {
				f.dagIDs = map[string]bool{}
				for _, id := range v {
					f.dagIDs[id] = true
				}
			} else {
				f.states = v
			}
		default:
			field, op, _ := splitRange(k)
			if field == "duration" {
				var x float64
				if err := json.Unmarshal(raw, &x); err != nil {
					return s.bodyTypeError(k, raw, "Not a valid number.", "float_type", "Input should be a valid number")
				}
				f.durations = append(f.durations, numCond{op, x})
				continue
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return s.bodyTypeError(k, raw, "Not a valid datetime.", "datetime_type", "Input should be a valid datetime")
			}
			t, err := s.parseTime(v)
			if err != nil {
				if s.opts.API == V1 {
					return s.problem(http.StatusBadRequest, "Bad Request", fmt.Sprintf("{'%s': ['Not a valid datetime.']}", k), "BadRequest")
				}
				return s.badTime("body", k, v, err)
			}
			f.times = append(f.times, timeCond{field, op, t})
		}
	}
	p, bad := s.parsePage(q, "page_limit", "page_offset", "body")
	if bad != nil {
		return *bad
	}
	if p.limit == s.defaultLimit() && !q.Has("page_limit") {
		p.limit = min(100, s.opts.MaxPageLimit) // the batch body defaults to 100 in both APIs
	}
	if r := s.checkOrder(f.orderBy); r != nil {
		return *r
	}
	return s.runsPage(&f, p)
}

func (s *Server) bodyTypeError(key string, raw json.RawMessage, v1Msg, v2Type, v2Msg string) response {
	if s.opts.API == V1 {
		return s.problem(http.StatusBadRequest, "Bad Request", fmt.Sprintf("{'%s': ['%s']}", key, v1Msg), "BadRequest")
	}
	var input any
	_ = json.Unmarshal(raw, &input)
	return unprocessable([]validation{{Type: v2Type, Loc: []any{"body", key}, Msg: v2Msg, Input: input}})
}

func (s *Server) getRun(dagID, runID string) response {
	r := s.findRun(dagID, runID)
	if r == nil {
		return s.notFound("DAGRun not found",
			fmt.Sprintf("DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", dagID, runID),
			fmt.Sprintf("The DagRun with dag_id: `%s` and run_id: `%s` was not found", dagID, runID))
	}
	return jsonResponse(http.StatusOK, s.renderRun(r))
}

type taskRow struct {
	run  *dagRun
	task *taskInstance
}

// listTasks is GET /api/vN/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances.
func (s *Server) listTasks(dagID, runID string, q url.Values) response {
	if s.opts.API == V1 {
		allowed := map[string]bool{"limit": true, "offset": true, "state": true, "pool": true, "queue": true,
			"execution_date_gte": true, "execution_date_lte": true, "start_date_gte": true, "start_date_lte": true,
			"end_date_gte": true, "end_date_lte": true, "duration_gte": true, "duration_lte": true, "updated_at_gte": true, "updated_at_lte": true}
		if r := s.strictQuery(q, allowed); r != nil {
			return *r
		}
	} else if dagID != "~" && runID != "~" && s.findRun(dagID, runID) == nil {
		return jsonResponse(http.StatusNotFound, map[string]any{"detail": fmt.Sprintf("The DagRun with dag_id: `%s` and run_id: `%s` was not found", dagID, runID)})
	}
	p, bad := s.parsePage(q, "limit", "offset", "query")
	if bad != nil {
		return *bad
	}
	var dagIDs, runIDs map[string]bool
	if dagID != "~" {
		dagIDs = map[string]bool{dagID: true}
	}
	if runID != "~" {
		runIDs = map[string]bool{runID: true}
	}
	return s.tasksPage(dagIDs, runIDs, nil, q["state"], p)
}

func (s *Server) tasksPage(dagIDs, runIDs, taskIDs map[string]bool, states []string, p page) response {
	var rows []taskRow
	for _, r := range s.runs {
		if (dagIDs != nil && !dagIDs[r.dagID]) || (runIDs != nil && !runIDs[r.runID]) {
			continue
		}
		for _, t := range r.sortedTasks() {
			if taskIDs != nil && !taskIDs[t.taskID] {
				continue
			}
			st := "none"
			if t.state != nil {
				st = *t.state
			}
			if len(states) > 0 && !contains(states, st) {
				continue
			}
			rows = append(rows, taskRow{r, t})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.run.dagID != b.run.dagID {
			return a.run.dagID < b.run.dagID
		}
		if a.run.runID != b.run.runID {
			return a.run.runID < b.run.runID
		}
		if a.task.taskID != b.task.taskID {
			return a.task.taskID < b.task.taskID
		}
		return a.task.mapIndex < b.task.mapIndex
	})
	items := []any{}
	for _, row := range window(rows, p) {
		items = append(items, s.renderTask(row.run, row.task))
	}
	return jsonResponse(http.StatusOK, map[string]any{"task_instances": items, "total_entries": len(rows)})
}

// listTasksBatch is POST /api/vN/dags/~/dagRuns/~/taskInstances/list.
func (s *Server) listTasksBatch(body []byte) response {
	var in struct {
		DagIDs     []string `json:"dag_ids"`
		DagRunIDs  []string `json:"dag_run_ids"`
		TaskIDs    []string `json:"task_ids"`
		State      []string `json:"state"`
		PageLimit  *int     `json:"page_limit"`
		PageOffset *int     `json:"page_offset"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if s.opts.API == V2 {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&in); err != nil {
		return s.badRequest("Bad Request", err.Error())
	}
	q := url.Values{}
	if in.PageLimit != nil {
		q.Set("page_limit", strconv.Itoa(*in.PageLimit))
	}
	if in.PageOffset != nil {
		q.Set("page_offset", strconv.Itoa(*in.PageOffset))
	}
	p, bad := s.parsePage(q, "page_limit", "page_offset", "body")
	if bad != nil {
		return *bad
	}
	set := func(l []string) map[string]bool {
		if l == nil {
			return nil
		}
		m := map[string]bool{}
		for _, v := range l {
			m[v] = true
		}
		return m
	}
	return s.tasksPage(set(in.DagIDs), set(in.DagRunIDs), set(in.TaskIDs), in.State, p)
}

// listDAGs is GET /api/vN/dags.
func (s *Server) listDAGs(q url.Values, now time.Time) response {
	if s.opts.API == V1 {
		allowed := map[string]bool{"limit": true, "offset": true, "order_by": true, "tags": true, "only_active": true, "paused": true, "dag_id_pattern": true, "fields": true}
		if r := s.strictQuery(q, allowed); r != nil {
			return *r
		}
	}
	p, bad := s.parsePage(q, "limit", "offset", "query")
	if bad != nil {
		return *bad
	}
	activeOnly := true
	key := "exclude_stale"
	if s.opts.API == V1 {
		key = "only_active"
	}
	if v := q.Get(key); v != "" {
		activeOnly = v == "true" || v == "True" || v == "1"
	}
	var pat *regexp.Regexp
	if v := q.Get("dag_id_pattern"); v != "" {
		pat = likePattern(v)
	}
	var out []*dag
	for _, d := range s.dags {
		if activeOnly && d.Stale {
			continue
		}
		if v := q.Get("paused"); v != "" && (v == "true") != d.Paused {
			continue
		}
		if pat != nil && !pat.MatchString(d.ID) {
			continue
		}
		if tags := q["tags"]; len(tags) > 0 {
			hit := false
			for _, t := range d.Tags {
				hit = hit || contains(tags, t)
			}
			if !hit {
				continue
			}
		}
		out = append(out, d)
	}
	desc := strings.HasPrefix(q.Get("order_by"), "-")
	sort.SliceStable(out, func(i, j int) bool {
		if desc {
			return out[i].ID > out[j].ID
		}
		return out[i].ID < out[j].ID
	})
	items := []any{}
	for _, d := range window(out, p) {
		items = append(items, s.renderDAG(d, now))
	}
	return jsonResponse(http.StatusOK, map[string]any{"dags": items, "total_entries": len(out)})
}

func (s *Server) getDAG(id string, now time.Time) response {
	d := s.dagByID(id)
	if d == nil {
		return s.notFound("DAG not found", fmt.Sprintf("DAG with dag_id: '%s' not found", id), fmt.Sprintf("Dag with id %s was not found", id))
	}
	return jsonResponse(http.StatusOK, s.renderDAG(d, now))
}
