package app_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/auditapi"
	"github.com/puod/puod/host/auth"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// opSpec is what the adversarial suite must know about one operation of
// the API beyond what the OpenAPI document says. Every documented
// operation needs an entry in operations: TestAPI_adversarial fails for one
// without, so a new route cannot ship untested.
type opSpec struct {
	// role is the least role the operation needs in the current profile;
	// empty for public operations, except those with ownAuth, where it is
	// the least role their credential needs (empty when it has none).
	role identity.Role
	// ownAuth says why a public operation (in api.PublicAPIRoutes, with
	// `security: []`) checks credentials of its own in the handler, and
	// credential returns a valid one of a profile. Without credentials, or
	// with bad ones, the suite expects 401 in the error shape; when the path
	// names the object the credential belongs to, an unknown id answers
	// 401 as well (a 404 would let ids be probed). Every other check is
	// sent with the valid credential of profile A.
	ownAuth    string
	credential func(f *fixture, profile string) string
	// anyMember says why a write operation is open to every member,
	// viewers included. Write operations of viewers need a reason.
	anyMember string
	// resource names what the path parameter refers to: "source", "token",
	// "user", "dashboard", "alert_rule", "alert", "silence" or
	// "notification" (objects the suite creates in profile A), or "" for a type
	// the suite cannot create yet (then only unknown ids are tried).
	resource string
	// body returns a valid request body; nil for operations without one.
	body func(t testing.TB, f *fixture) map[string]any
	// optionalBody: the operation accepts an empty body too.
	optionalBody bool
	// openSchema says why the body follows a schema defined elsewhere
	// whose unknown fields must be ignored. It exempts the body from the
	// unknown-field check only: malformed JSON, trailing data, the wrong
	// JSON type of the body or of a known field, the content type and the
	// size are checked as for every body.
	openSchema string
	// listKey and filters describe query parameters that select rows by
	// exact value: in a 200 answer, every row of listKey must have one of
	// the named fields equal to the value sent (so "%" is not a wildcard).
	listKey string
	filters map[string][]string
	// stream: the operation answers 200 with a text/event-stream that
	// never ends. Where the suite expects it to get past authentication, it
	// checks the status and content type, reads the first block of the
	// stream and closes it (see fixture.send).
	stream bool
}

// operations holds the per-operation knowledge, keyed like
// api.OpenAPIOperations ("METHOD /path" with gin-style parameters).
var operations = map[string]opSpec{
	// Probes and the API reference are public by design.
	"GET /healthz":             {},
	"GET /readyz":              {},
	"GET /metrics":             {},
	"GET /api/v1/openapi.json": {},

	"POST /api/v1/auth/login": {body: func(_ testing.TB, f *fixture) map[string]any {
		// A dedicated account: the injections exhaust its login limit.
		return map[string]any{"username": f.probeUser, "password": probePassword}
	}},
	"POST /api/v1/auth/refresh": {body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"refresh_token": f.refreshExample}
	}},
	"POST /api/v1/auth/logout": {role: identity.RoleViewer, optionalBody: true,
		anyMember: "every member may end their own sessions",
		body: func(_ testing.TB, f *fixture) map[string]any {
			return map[string]any{"refresh_token": "not-a-refresh-token-of-anyone"}
		}},
	"GET /api/v1/auth/me": {role: identity.RoleViewer},

	"GET /api/v1/tokens": {role: identity.RoleAdmin},
	"POST /api/v1/tokens": {role: identity.RoleAdmin, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"name": f.unique("automation"), "role": "viewer",
			"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}
	}},
	"DELETE /api/v1/tokens/:id": {role: identity.RoleAdmin, resource: "token"},

	"GET /api/v1/users": {role: identity.RoleAdmin},
	"POST /api/v1/users": {role: identity.RoleAdmin, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"username": f.unique("newbie"), "password": "a long enough password",
			"display_name": "New Bie", "role": "viewer"}
	}},
	"PATCH /api/v1/users/:id": {role: identity.RoleAdmin, resource: "user", body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"role": "editor", "disabled": false}
	}},
	"DELETE /api/v1/users/:id": {role: identity.RoleAdmin, resource: "user"},

	"GET /api/v1/profiles": {role: identity.RoleViewer},
	// Checked in the handler: admin of at least one profile.
	"POST /api/v1/profiles": {role: identity.RoleAdmin, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"name": f.unique("team")}
	}},

	"GET /api/v1/sources": {role: identity.RoleViewer, listKey: "sources"},
	"POST /api/v1/sources": {role: identity.RoleAdmin, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"plugin_id": helloPluginID, "name": f.unique("source"), "poll_interval_seconds": 0, "enabled": true,
			"config": map[string]any{"greeting": "hello", "runs": 1, "token": "a secret token"}}
	}},
	"GET /api/v1/sources/:id": {role: identity.RoleViewer, resource: "source"},
	"PUT /api/v1/sources/:id": {role: identity.RoleAdmin, resource: "source", body: func(t testing.TB, f *fixture) map[string]any {
		return map[string]any{"name": f.unique("renamed"), "revision": f.revision(t, f.own["source"]), "enabled": true,
			"config": map[string]any{"greeting": "changed", "token": "********"}}
	}},
	"DELETE /api/v1/sources/:id":    {role: identity.RoleAdmin, resource: "source"},
	"POST /api/v1/sources/:id/test": {role: identity.RoleAdmin, resource: "source"},

	"GET /api/v1/audit": {role: identity.RoleAdmin, listKey: "entries", filters: map[string][]string{
		"action": {"action"}, "user": {"user_id", "username"}, "outcome": {"outcome"},
	}},

	"GET /api/v1/plugins":    {role: identity.RoleViewer},
	"GET /api/v1/card-types": {role: identity.RoleViewer},
	"POST /api/v1/cards/query": {role: identity.RoleViewer,
		anyMember: "a card query only reads what every member may read; it is a POST because its options are a JSON object",
		body: func(_ testing.TB, _ *fixture) map[string]any {
			return map[string]any{"type": "puod.recent_failures", "options": map[string]any{"limit": 5},
				"time_range": map[string]any{"from": "now-7d", "to": "now"}}
		}},

	"GET /api/v1/dashboards": {role: identity.RoleViewer},
	"POST /api/v1/dashboards": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return dashboardBody(f.unique("board"))
	}},
	"GET /api/v1/dashboards/:id": {role: identity.RoleViewer, resource: "dashboard"},
	"PUT /api/v1/dashboards/:id": {role: identity.RoleEditor, resource: "dashboard", body: func(t testing.TB, f *fixture) map[string]any {
		b := dashboardBody(f.unique("renamed-board"))
		b["version"] = f.dashboardVersion(t, f.own["dashboard"])
		return b
	}},
	"DELETE /api/v1/dashboards/:id": {role: identity.RoleEditor, resource: "dashboard"},
	"POST /api/v1/dashboards/:id/copy": {role: identity.RoleEditor, resource: "dashboard", optionalBody: true,
		body: func(_ testing.TB, f *fixture) map[string]any { return map[string]any{"title": f.unique("Board copy")} }},
	"GET /api/v1/dashboards/:id/export": {role: identity.RoleViewer, resource: "dashboard"},
	"POST /api/v1/dashboards/import": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return dashboardBody(f.unique("imported"))
	}},

	"GET /api/v1/alert-rules": {role: identity.RoleViewer},
	"POST /api/v1/alert-rules": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return alertRuleBody(f.unique("rule"))
	}},
	// Reads only, but it replays history through an engine: editors'.
	"POST /api/v1/alert-rules/preview": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"rule": alertRuleBody(f.unique("preview")), "days": 7}
	}},
	"GET /api/v1/alert-rules/:id": {role: identity.RoleViewer, resource: "alert_rule"},
	"PUT /api/v1/alert-rules/:id": {role: identity.RoleEditor, resource: "alert_rule", body: func(t testing.TB, f *fixture) map[string]any {
		b := alertRuleBody(f.unique("renamed-rule"))
		b["revision"] = f.ruleRevision(t, f.own["alert_rule"])
		return b
	}},
	"DELETE /api/v1/alert-rules/:id": {role: identity.RoleEditor, resource: "alert_rule"},
	"GET /api/v1/alerts": {role: identity.RoleViewer, listKey: "alerts", filters: map[string][]string{
		"state": {"state"}, "rule_id": {"rule_id"},
	}},
	// The fixture stores firing alerts of A the way the engine does.
	"POST /api/v1/alerts/:id/ack": {role: identity.RoleEditor, resource: "alert"},
	"GET /api/v1/silences":        {role: identity.RoleViewer},
	"POST /api/v1/silences": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return silenceBody(f.unique("pipeline"))
	}},
	"DELETE /api/v1/silences/:id": {role: identity.RoleEditor, resource: "silence"},
	"GET /api/v1/notifications": {role: identity.RoleViewer, listKey: "notifications", filters: map[string][]string{
		"rule_id": {"rule_id"}, "fingerprint": {"fingerprint"}, "sink": {"sink_source_id"},
	}},
	// The fixture has a dead letter of A, written the way the engine and
	// the delivery worker write them.
	"GET /api/v1/notifications/:id":        {role: identity.RoleViewer, resource: "notification"},
	"POST /api/v1/notifications/:id/retry": {role: identity.RoleEditor, resource: "notification"},

	// Server-Sent Events of the caller's profile; Last-Event-ID is a
	// parameter the SQL metacharacters are sent in.
	"GET /api/v1/events": {role: identity.RoleViewer, stream: true},

	"GET /api/v1/runs": {role: identity.RoleViewer, listKey: "runs", filters: map[string][]string{
		"source": {"source_id"}, "pipeline": {"pipeline_id"},
	}},
	// The fixture has a run of A sent as an OpenLineage event.
	"GET /api/v1/runs/:id":  {role: identity.RoleViewer, resource: "run"},
	"GET /api/v1/pipelines": {role: identity.RoleViewer, listKey: "pipelines"},
	"POST /api/v1/sources/:id/sync": {role: identity.RoleEditor, resource: "source", optionalBody: true,
		body: func(_ testing.TB, _ *fixture) map[string]any { return map[string]any{} }},
	"POST /api/v1/sources/:id/webhook-secret": {role: identity.RoleAdmin, resource: "source"},
	"POST /api/v1/metrics": {role: identity.RoleEditor, body: func(_ testing.TB, f *fixture) map[string]any {
		return map[string]any{"points": []any{map[string]any{"series": f.unique("sales"), "time": "2026-11-17T00:00:00Z", "value": 1}}}
	}},
	// The payload is the vendor's: the host checks that it is one JSON
	// object and hands it to the source's plugin, which reads its fields
	// (the hello plugin of the fixture takes no webhooks). So the example
	// has no field the host would read.
	"POST /api/v1/webhooks/:source_id": {resource: "source", optionalBody: true,
		ownAuth:    "vendors authenticate with the source's webhook secret, not a PUOD token",
		credential: func(f *fixture, profile string) string { return f.webhookSecret[profile] },
		openSchema: "the vendor defines the payload; the source's plugin reads it",
		body:       func(_ testing.TB, _ *fixture) map[string]any { return map[string]any{} }},
	"POST /api/v1/lineage": {role: identity.RoleEditor,
		ownAuth:    "OpenLineage emitters send a PUOD API token as their api key; the handler authenticates it",
		credential: func(f *fixture, profile string) string { return f.apiEditor[profile] },
		openSchema: "OpenLineage events carry producer-defined fields and facets",
		body: func(_ testing.TB, f *fixture) map[string]any {
			return map[string]any{"eventType": "START", "eventTime": "2026-11-17T06:40:00Z",
				"run":      map[string]any{"runId": "0190d7a4-7c1e-7e2a-9a3b-5d1f0b6c2e01"},
				"job":      map[string]any{"namespace": "airflow", "name": f.unique("job")},
				"producer": "https://example.com/producer", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"}
		}},
}

// sqlPayloads are strings that break queries built by concatenation, and
// LIKE wildcards that would widen a filter; the API must treat each as
// data.
var sqlPayloads = []string{
	`' OR 1=1 --`,
	`"; DROP TABLE users; --`,
	`'); DROP TABLE sources; --`,
	`%`,
	`_`,
	`\`,
	`Ünïcødé 名前 🚀 ‮rtl‬`,
}

// operation is a documented operation with what the document says of it.
type operation struct {
	key, method, path string
	public            bool
	// params are its query and header parameters.
	params   []param
	security []any
	hasSec   bool
	spec     opSpec
	known    bool
}

type param struct{ name, in string }

func (o operation) isWrite() bool { return o.method != http.MethodGet }

func (o operation) hasPathParam() bool { return strings.Contains(o.path, "/:") }

// documentedOperations reads the operations and their parameters from the
// OpenAPI document the server serves.
func documentedOperations(t testing.TB) []operation {
	t.Helper()
	keys, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]docParam `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(ps []docParam) []param {
		var out []param
		for _, p := range ps {
			if p.Ref != "" {
				p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
			if p.In == "query" || p.In == "header" {
				out = append(out, param{name: p.Name, in: p.In})
			}
		}
		return out
	}
	public := map[string]bool{}
	for _, r := range api.PublicAPIRoutes {
		public[r] = true
	}
	var ops []operation
	for _, key := range keys {
		method, path, _ := strings.Cut(key, " ")
		o := operation{key: key, method: method, path: path,
			public: public[key] || !strings.HasPrefix(path, "/api/v1/")}
		o.spec, o.known = operations[key]
		item := doc.Paths[openAPIPath(path)]
		var common []docParam // path-level parameters
		if p, ok := item["parameters"]; ok {
			if err := json.Unmarshal(p, &common); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		}
		var op struct {
			Parameters []docParam `json:"parameters"`
			Security   *[]any     `json:"security"`
		}
		if err := json.Unmarshal(item[strings.ToLower(method)], &op); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		o.params = resolve(append(common, op.Parameters...))
		if op.Security != nil {
			o.hasSec, o.security = true, *op.Security
		}
		ops = append(ops, o)
	}
	return ops
}

type docParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

// openAPIPath turns /sources/:id into /sources/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// fillPath puts id (escaped) into every path parameter of path.
func fillPath(path, id string) string {
	parts := strings.Split(path, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = url.PathEscape(id)
		}
	}
	return strings.Join(parts, "/")
}

// TestAPI_adversarial drives every documented operation with what an
// attacker or a careless client sends, on SQLite and on PostgreSQL, against
// a whole host (app.New) over real HTTP.
func TestAPI_adversarial(t *testing.T) {
	t.Parallel()
	ops := documentedOperations(t)
	documented := map[string]bool{}
	for _, o := range ops {
		documented[o.key] = true
		if !o.known {
			t.Errorf("operation %s has no entry in operations (host/app/adversarial_test.go): add one saying its role, "+
				"what its path parameter refers to and an example body, so the adversarial suite covers it", o.key)
		}
		if o.known && ((!o.public && o.spec.role == "") || (o.public && o.spec.ownAuth == "" && o.spec.role != "")) {
			t.Errorf("%s: public=%v but its entry has role %q: public operations have no role (unless they check credentials of their own), the others need one",
				o.key, o.public, o.spec.role)
		}
		if o.known && o.spec.ownAuth != "" && !o.public {
			t.Errorf("%s: ownAuth is for public operations; this one is behind the bearer-token middleware", o.key)
		}
		if o.known && (o.spec.ownAuth == "") != (o.spec.credential == nil) {
			t.Errorf("%s: an operation with ownAuth needs a credential, and only it", o.key)
		}
		if o.known && o.spec.openSchema != "" && o.spec.body == nil {
			t.Errorf("%s: openSchema without a body", o.key)
		}
		if o.public != (o.hasSec && len(o.security) == 0) {
			t.Errorf("%s: public=%v, but the OpenAPI document says security %v (set: %v): public operations say `security: []`, the others inherit bearer",
				o.key, o.public, o.security, o.hasSec)
		}
		if o.known && o.isWrite() && (!o.public || o.spec.ownAuth != "") && o.spec.role == identity.RoleViewer && o.spec.anyMember == "" {
			t.Errorf("%s is a write operation open to viewers: say why in its anyMember, or require a higher role", o.key)
		}
	}
	for key := range operations {
		if !documented[key] {
			t.Errorf("operations has an entry for %s, which the OpenAPI document does not list: remove it or document the route", key)
		}
	}
	// Only operations the suite knows are driven below; the missing ones
	// failed above.
	ops = slices.DeleteFunc(ops, func(o operation) bool { return !o.known })

	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, dialect)
			t.Run("openapi matches router", func(t *testing.T) { testRoutesDocumented(t, e) })
			f := newFixture(t, e)
			t.Run("no token", func(t *testing.T) { testNoToken(t, f, ops) })
			t.Run("bad tokens", func(t *testing.T) { testBadTokens(t, f, ops) })
			t.Run("roles", func(t *testing.T) { testRoles(t, f, ops) })
			t.Run("other profile", func(t *testing.T) { testOtherProfile(t, f, ops) })
			t.Run("bodies", func(t *testing.T) { testBodies(t, f, ops) })
			t.Run("sql metacharacters", func(t *testing.T) { testSQLMetacharacters(t, f, ops) })
		})
	}
}

// testRoutesDocumented: the router and the OpenAPI document list exactly
// the same operations.
func testRoutesDocumented(t *testing.T, e *testEnv) {
	documented, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	routes := e.app.API().Routes()
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered but not in the OpenAPI document (host/api/openapi/*.yaml)", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("operation %s is documented but no route serves it", op)
		}
	}
	if len(routes) != len(documented) {
		t.Errorf("%d routes, %d documented operations", len(routes), len(documented))
	}
	// What no route serves answers in the error shape too. (A GET of any
	// other path outside /api/ belongs to the web UI's client routes.)
	for _, r := range []req{
		{method: "GET", path: "/api/v1/no-such-thing"},
		{method: "POST", path: "/no-such-page", body: `{}`},
	} {
		expect(t, r.path, e.do(t, r), http.StatusNotFound)
	}
	expect(t, "PATCH /api/v1/sources", e.do(t, req{method: "PATCH", path: "/api/v1/sources", body: `{}`}), http.StatusMethodNotAllowed)
	t.Logf("%d routes, all documented", len(routes))
}

// --- the objects the suite attacks ---------------------------------------

const probePassword = "probe password 123"

// fixture is what the suite creates before attacking: profile A (the
// bootstrap profile "default") with a source holding a secret, API tokens
// and members of every role; profile B with its own admin.
type fixture struct {
	e   *testEnv
	seq atomic.Int64

	admin, adminID string // admin of A (and B), a genuine login
	refreshExample string // stands for a refresh token; never sent intact
	profileA       string
	profileB       string
	viewer, editor string // access tokens of members of A
	bob            string // access token of the admin of B only
	bobID          string
	probeUser      string // account the login injections run against

	apiAdmin, apiViewer, apiRevoked string // API tokens of A
	// apiEditor maps a profile (A, B) to an editor API token of it, and
	// webhookSecret to the webhook secret of one of its sources (in A,
	// own["source"]).
	apiEditor, webhookSecret map[string]string

	// own maps a resource type to an object of A the admin of A may
	// change; foreign to one that must stay invisible from B.
	own, foreign map[string]string
	// alpha is the foreign source as first read.
	alphaRevision int64
	// secretsOfA are strings of A that must never appear in an answer to B.
	secretsOfA []string
}

func (f *fixture) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.seq.Add(1))
}

// dashboardBody is a valid dashboard (and dashboards-as-code document)
// with the given slug.
func dashboardBody(slug string) map[string]any {
	return map[string]any{"slug": slug, "title": "Board " + slug, "description": "A board of the suite",
		"time_range": map[string]any{"from": "now-24h", "to": "now"}, "refresh_seconds": 0,
		"cards": []any{
			map[string]any{"id": "c1", "type": "puod.success_rate", "title": "", "options": map[string]any{}, "time_range": nil, "x": 0, "y": 0, "w": 3, "h": 2},
			map[string]any{"id": "c2", "type": "puod.recent_failures", "options": map[string]any{"limit": 5},
				"time_range": map[string]any{"from": "now-7d", "to": "now"}, "x": 3, "y": 0, "w": 9, "h": 4},
		}}
}

// dashboardVersion reads the current version of a dashboard of A.
func (f *fixture) dashboardVersion(t testing.TB, id string) int64 {
	t.Helper()
	var d struct {
		Version int64 `json:"version"`
	}
	must(t, f.e.do(t, req{method: "GET", path: "/api/v1/dashboards/" + id, token: f.admin}), http.StatusOK).json(t, &d)
	return d.Version
}

// alertRuleBody is a valid alert rule with the given name.
func alertRuleBody(name string) map[string]any {
	return map[string]any{"name": name, "severity": "warning", "labels": map[string]any{"team": "suite"},
		"selector":    map[string]any{"pipeline": "ETL_*"},
		"condition":   map[string]any{"duration_above": map[string]any{"threshold": "5m"}},
		"for":         "1m",
		"annotations": map[string]any{"summary": "{{.Pipeline.Name}} took {{.Value}}"},
		"sinks":       []any{"slack-suite"}}
}

// silenceBody is a valid silence muting one pipeline for an hour.
func silenceBody(pipeline string) map[string]any {
	return map[string]any{"matchers": []any{map[string]any{"name": "pipeline", "op": "=", "value": pipeline}},
		"ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "comment": "suite maintenance"}
}

// ruleRevision reads the current revision of an alert rule of A.
func (f *fixture) ruleRevision(t testing.TB, id string) int64 {
	t.Helper()
	var r struct {
		Revision int64 `json:"revision"`
	}
	must(t, f.e.do(t, req{method: "GET", path: "/api/v1/alert-rules/" + id, token: f.admin}), http.StatusOK).json(t, &r)
	return r.Revision
}

// revision reads the current revision of a source of A.
func (f *fixture) revision(t testing.TB, id string) int64 {
	t.Helper()
	r := f.e.do(t, req{method: "GET", path: "/api/v1/sources/" + id, token: f.admin})
	var s struct {
		Revision int64 `json:"revision"`
	}
	r.json(t, &s)
	return s.Revision
}

func newFixture(t *testing.T, e *testEnv) *fixture {
	t.Helper()
	f := &fixture{e: e, own: map[string]string{}, foreign: map[string]string{},
		apiEditor: map[string]string{}, webhookSecret: map[string]string{}}
	f.admin, _ = e.login(t, "admin", adminPassword)
	var me struct {
		User    struct{ ID string } `json:"user"`
		Profile struct{ ID string } `json:"profile"`
	}
	must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: f.admin}), http.StatusOK).json(t, &me)
	f.adminID, f.profileA = me.User.ID, me.Profile.ID
	// The refresh bodies the suite sends are all broken or injected, so a
	// placeholder stands for the token.
	f.refreshExample = "not-a-real-refresh-token"

	createUser := func(name, role string) string {
		var u struct{ ID string }
		must(t, e.do(t, req{method: "POST", path: "/api/v1/users", token: f.admin,
			body: map[string]any{"username": name, "password": "a long enough password", "display_name": name + " display", "role": role}}),
			http.StatusCreated).json(t, &u)
		return u.ID
	}
	aliceID := createUser("alice-of-alpha", "viewer")
	eddieID := createUser("eddie-of-alpha", "editor")
	f.own["user"] = createUser("victim-of-alpha", "viewer")
	f.foreign["user"] = aliceID
	f.probeUser = "probe-of-alpha"
	createUser(f.probeUser, "viewer")

	var prof struct{ ID string }
	must(t, e.do(t, req{method: "POST", path: "/api/v1/profiles", token: f.admin, body: map[string]any{"name": "bravo"}}),
		http.StatusCreated).json(t, &prof)
	f.profileB = prof.ID
	bob, _, err := auth.AddUser(t.Context(), e.app.Store(), auth.NewUserSpec{Username: "bob-of-bravo", Password: "bob's long password",
		Profile: f.profileB, Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	f.bobID = bob.ID
	// Members other than the admin get access tokens signed like the
	// host's own (checked to work below), which keeps the suite within the
	// login rate limit of its single client address.
	f.viewer = e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, claimsFor(aliceID))
	f.editor = e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, claimsFor(eddieID))
	f.bob = e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, claimsFor(bob.ID))
	for _, tok := range []string{f.viewer, f.editor, f.bob} {
		must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: tok}), http.StatusOK)
	}

	createSource := func(token, name, greeting, secret string) (string, int64) {
		var s struct {
			ID       string `json:"id"`
			Revision int64  `json:"revision"`
			Config   map[string]any
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/sources", token: token, body: map[string]any{
			"plugin_id": helloPluginID, "name": name, "poll_interval_seconds": 0,
			"config": map[string]any{"greeting": greeting, "runs": 3, "token": secret}}}), http.StatusCreated).json(t, &s)
		if s.Config["token"] != "********" {
			t.Fatalf("created source shows its secret as %v", s.Config["token"])
		}
		return s.ID, s.Revision
	}
	f.foreign["source"], f.alphaRevision = createSource(f.admin, "alpha-source", "alpha-greeting", "alpha-secret-value")
	f.own["source"], _ = createSource(f.admin, "target-source", "target-greeting", "target-secret-value")
	bravoSource, _ := createSource(f.bob, "bravo-source", "bravo-greeting", "bravo-secret-value")

	createToken := func(token, name, role string) (id, secret string) {
		var tok struct{ ID, Token string }
		must(t, e.do(t, req{method: "POST", path: "/api/v1/tokens", token: token, body: map[string]any{"name": name, "role": role}}),
			http.StatusCreated).json(t, &tok)
		return tok.ID, tok.Token
	}
	f.foreign["token"], f.apiAdmin = createToken(f.admin, "alpha-token", "admin")
	f.own["token"], f.apiViewer = createToken(f.admin, "viewer-token", "viewer")
	var revokedID string
	revokedID, f.apiRevoked = createToken(f.admin, "revoked-token", "admin")
	must(t, e.do(t, req{method: "DELETE", path: "/api/v1/tokens/" + revokedID, token: f.admin}), http.StatusNoContent)
	must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: f.apiAdmin}), http.StatusOK)
	_, f.apiEditor[f.profileA] = createToken(f.admin, "editor-token", "editor")
	_, f.apiEditor[f.profileB] = createToken(f.bob, "bravo-editor-token", "editor")

	// Webhook secrets, created by each profile's admin; target-source's is
	// what the suite's webhooks carry, and alpha-source has none.
	webhookSecret := func(token, sourceID string) string {
		var ws struct {
			Secret string `json:"secret"`
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/sources/" + sourceID + "/webhook-secret", token: token}),
			http.StatusCreated).json(t, &ws)
		if ws.Secret == "" {
			t.Fatalf("no webhook secret for source %s", sourceID)
		}
		return ws.Secret
	}
	f.webhookSecret[f.profileA] = webhookSecret(f.admin, f.own["source"])
	f.webhookSecret[f.profileB] = webhookSecret(f.bob, bravoSource)

	// A run of A, sent as an OpenLineage event the way emitters send it;
	// the API creates runs no other way.
	must(t, e.do(t, req{method: "POST", path: "/api/v1/lineage", token: f.apiEditor[f.profileA], body: map[string]any{
		"eventType": "START", "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "producer": "https://example.com/producer",
		"run": map[string]any{"runId": alphaRunID}, "job": map[string]any{"namespace": "alpha", "name": "alpha-lineage-job"}}}), http.StatusOK)
	f.own["run"] = f.alphaRun(t)
	f.foreign["run"] = f.own["run"]

	// Dashboards of A: one the suite attacks from B, one it changes.
	createDashboard := func(slug string) string {
		var d struct {
			ID string `json:"id"`
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/dashboards", token: f.editor, body: dashboardBody(slug)}), http.StatusCreated).json(t, &d)
		return d.ID
	}
	f.foreign["dashboard"] = createDashboard("alpha-dashboard")
	f.own["dashboard"] = createDashboard("target-dashboard")

	// Alert rules of A, each with a firing alert stored the way the
	// engine stores them (the API creates alerts no other way), and
	// silences of A.
	createRule := func(name string) (ruleID, alertID string) {
		var r struct {
			ID string `json:"id"`
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/alert-rules", token: f.editor, body: alertRuleBody(name)}), http.StatusCreated).json(t, &r)
		ctxA := identity.With(t.Context(), identity.Principal{UserID: f.adminID, ProfileID: f.profileA, Role: identity.RoleAdmin})
		if err := e.app.Store().AlertStates().Save(ctxA, []store.AlertState{{RuleID: r.ID, Fingerprint: "fp-" + name, State: "firing",
			Labels: map[string]string{"pipeline": "ETL_" + name}, Since: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		return r.ID, r.ID + ":fp-" + name
	}
	f.foreign["alert_rule"], f.foreign["alert"] = createRule("alpha-alert-rule")
	f.own["alert_rule"], f.own["alert"] = createRule("target-alert-rule")
	createSilence := func(pipeline string) string {
		var s struct {
			ID string `json:"id"`
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/silences", token: f.editor, body: silenceBody(pipeline)}), http.StatusCreated).json(t, &s)
		return s.ID
	}
	f.foreign["silence"] = createSilence("alpha-silenced-pipeline")
	f.own["silence"] = createSilence("target-silenced-pipeline")

	// A dead letter of A (the API creates notifications no other way). It
	// is due in an hour, so the host's delivery worker leaves it alone
	// until it is dead.
	ctxA := identity.With(t.Context(), identity.Principal{UserID: f.adminID, ProfileID: f.profileA, Role: identity.RoleAdmin})
	outbox := e.app.Store().System().Outbox()
	if _, err := outbox.Enqueue(ctxA, []store.NewNotification{{ProfileID: f.profileA, NotificationID: "alpha-notification",
		RuleID: f.foreign["alert_rule"], Fingerprint: "fp-alpha-alert-rule", SinkSourceID: f.own["source"], GroupKey: "alpha-notification",
		Payload: []byte(`{"id":"alpha-notification","status":"firing","title":"alpha-notification-title"}`), CreatedAt: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	dead, _, err := e.app.Store().Notifications().List(ctxA, store.NotificationFilter{RuleID: f.foreign["alert_rule"]}, store.Page{})
	if err != nil || len(dead) != 1 {
		t.Fatalf("the notification of A: %v, %v", dead, err)
	}
	if err := outbox.MarkDead(ctxA, dead[0].ID, "alpha-refusal-reason"); err != nil {
		t.Fatal(err)
	}
	f.own["notification"], f.foreign["notification"] = dead[0].ID, dead[0].ID

	f.secretsOfA = []string{f.profileA, "alpha-dashboard", "alpha-source", "alpha-greeting", "alpha-secret-value", "alpha-token",
		"alice-of-alpha", f.apiAdmin, f.apiViewer, f.apiEditor[f.profileA], f.webhookSecret[f.profileA],
		alphaRunID, "alpha-lineage-job", "alpha-alert-rule", "alpha-silenced-pipeline", "alpha-notification", "alpha-refusal-reason"}
	return f
}

// alphaRunID is the external id of the run of A the fixture sends.
const alphaRunID = "alpha-run-0001"

// alphaRun returns the id of the fixture's run of A, checking that it is
// as sent.
func (f *fixture) alphaRun(t testing.TB) string {
	t.Helper()
	var list struct {
		Runs []struct {
			ID           string `json:"id"`
			ExternalID   string `json:"external_id"`
			PipelineName string `json:"pipeline_name"`
			State        string `json:"state"`
		} `json:"runs"`
	}
	must(t, f.e.do(t, req{method: "GET", path: "/api/v1/runs?" + url.Values{"q": {alphaRunID}}.Encode(), token: f.admin}), http.StatusOK).json(t, &list)
	for _, r := range list.Runs {
		if r.ExternalID == alphaRunID {
			if r.PipelineName != "alpha-lineage-job" || r.State != "running" {
				t.Errorf("run of A changed: %+v", r)
			}
			return r.ID
		}
	}
	t.Fatalf("the run of A is not listed: %+v", list.Runs)
	return ""
}

// send is e.do for a request of o. A streaming operation's answer is read
// up to the end of its first block and the connection closed, since the
// stream itself never ends; a 200 must then be an event stream starting
// with its retry interval.
func (f *fixture) send(t testing.TB, o operation, r req) resp {
	t.Helper()
	if !o.spec.stream {
		return f.e.do(t, r)
	}
	e := *f.e
	e.client = &http.Client{Transport: firstBlock{f.e.client.Transport}}
	res := e.do(t, r)
	if res.status == http.StatusOK && (res.header.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(string(res.body), "retry: ")) {
		t.Errorf("%s %s: a 200 that is not an event stream starting with retry: %s %s", r.method, r.path, res.header.Get("Content-Type"), res)
	}
	return res
}

// firstBlock ends the body of an event stream after its first block (a
// blank line); closing the body then closes the connection, which ends the
// stream on the server.
type firstBlock struct{ rt http.RoundTripper }

func (fb firstBlock) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := fb.rt.RoundTrip(r)
	if err == nil && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body = &blockReader{rc: res.Body}
	}
	return res, err
}

type blockReader struct {
	rc   io.ReadCloser
	seen []byte
	done bool
}

func (b *blockReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	// One byte at a time: nothing after the block is consumed.
	n, err := b.rc.Read(p[:min(len(p), 1)])
	b.seen = append(b.seen, p[:n]...)
	if len(b.seen) > 2 {
		b.seen = b.seen[len(b.seen)-2:]
	}
	if bytes.Equal(b.seen, []byte("\n\n")) {
		b.done = true
	}
	return n, err
}

func (b *blockReader) Close() error { return b.rc.Close() }

func must(t testing.TB, r resp, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want %d", r, status)
	}
	return r
}

// checkIntact asserts that profile A's objects are as the fixture made
// them: nothing an attack sent changed them.
func (f *fixture) checkIntact(t *testing.T) {
	t.Helper()
	e := f.e
	var src struct {
		Name     string         `json:"name"`
		Revision int64          `json:"revision"`
		Config   map[string]any `json:"config"`
	}
	r := e.do(t, req{method: "GET", path: "/api/v1/sources/" + f.foreign["source"], token: f.admin})
	if !expect(t, "source of A", r, http.StatusOK) {
		return
	}
	r.json(t, &src)
	if src.Name != "alpha-source" || src.Revision != f.alphaRevision || src.Config["greeting"] != "alpha-greeting" || src.Config["token"] != "********" {
		t.Errorf("source of A changed: %s", r)
	}
	var toks struct {
		Tokens []struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
		} `json:"tokens"`
	}
	e.do(t, req{method: "GET", path: "/api/v1/tokens?limit=500", token: f.admin}).json(t, &toks)
	active := map[string]bool{}
	for _, tok := range toks.Tokens {
		active[tok.ID] = tok.Active
	}
	if !active[f.foreign["token"]] {
		t.Errorf("API token of A is no longer active: %+v", toks)
	}
	var users struct {
		Users []struct {
			ID       string        `json:"id"`
			Role     identity.Role `json:"role"`
			Disabled bool          `json:"disabled"`
		} `json:"users"`
	}
	e.do(t, req{method: "GET", path: "/api/v1/users?limit=500", token: f.admin}).json(t, &users)
	found := false
	for _, u := range users.Users {
		if u.ID == f.foreign["user"] {
			found = true
			if u.Role != identity.RoleViewer || u.Disabled {
				t.Errorf("member of A changed: %+v", u)
			}
		}
	}
	if !found {
		t.Errorf("member %s of A is gone", f.foreign["user"])
	}
	var dash struct {
		Slug    string `json:"slug"`
		Version int64  `json:"version"`
	}
	e.do(t, req{method: "GET", path: "/api/v1/dashboards/" + f.foreign["dashboard"], token: f.admin}).json(t, &dash)
	if dash.Slug != "alpha-dashboard" || dash.Version != 1 {
		t.Errorf("dashboard of A changed: %+v", dash)
	}
	if id := f.alphaRun(t); id != f.foreign["run"] {
		t.Errorf("run of A has id %s, want %s", id, f.foreign["run"])
	}
	var ntf struct {
		State     string `json:"state"`
		LastError string `json:"last_error"`
	}
	e.do(t, req{method: "GET", path: "/api/v1/notifications/" + f.foreign["notification"], token: f.admin}).json(t, &ntf)
	if ntf.State != "dead" || ntf.LastError != "alpha-refusal-reason" {
		t.Errorf("dead letter of A changed: %+v", ntf)
	}
}

// --- authentication ----------------------------------------------------

// exampleRequest is a request of o by token that would succeed (or at
// least reach the handler) if token were good: own objects, a valid body.
func (f *fixture) exampleRequest(t testing.TB, o operation, token string) req {
	r := req{method: o.method, path: fillPath(o.path, f.own[o.spec.resource]), token: token}
	if o.hasPathParam() && o.spec.resource == "" {
		r.path = fillPath(o.path, "unknown-id")
	}
	if o.spec.body != nil {
		r.body = o.spec.body(t, f)
	}
	return r
}

// callerToken is the credential the suite sends for o when the request
// should get past authentication: the admin of A, or o's own credential of
// profile A.
func (f *fixture) callerToken(o operation) string {
	if o.spec.ownAuth != "" {
		return o.spec.credential(f, f.profileA)
	}
	return f.admin
}

// expectUnauthenticated asserts a 401 of code unauthenticated that says
// which scheme to use.
func expectUnauthenticated(t testing.TB, what string, res resp) {
	t.Helper()
	if !expect(t, what, res, http.StatusUnauthorized) {
		return
	}
	if e := checkErrorShape(t, what, res); e.Code != api.CodeUnauthenticated {
		t.Errorf("%s: code %q, want %q", what, e.Code, api.CodeUnauthenticated)
	}
	if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("%s: WWW-Authenticate %q", what, res.header.Get("WWW-Authenticate"))
	}
}

func testNoToken(t *testing.T, f *fixture, ops []operation) {
	n, open := 0, 0
	for _, o := range ops {
		if o.public && o.spec.ownAuth == "" {
			r := req{method: o.method, path: o.path}
			if o.isWrite() {
				r.body = `{}` // incomplete: a public route answers 400, not 401
			}
			res := f.e.do(t, r)
			if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
				t.Errorf("public %s without a token: %s", o.key, res)
			}
			open++
			continue
		}
		// Operations checking their own credentials refuse a request
		// without them like the others.
		expectUnauthenticated(t, o.key+" without a token", f.e.do(t, f.exampleRequest(t, o, "")))
		n++
	}
	t.Logf("%d operations refuse a request without a token; %d public ones do not ask for one", n, open)
	f.checkIntact(t)
}

// badTokens are credentials that must all be refused, each differing from
// a genuine access token of the admin in one respect.
func (f *fixture) badTokens(t *testing.T) map[string]string {
	e := f.e
	with := func(edit func(c jwt.MapClaims)) jwt.MapClaims {
		c := claimsFor(f.adminID)
		edit(c)
		return c
	}
	wrongKey := make([]byte, 32)
	_, _ = rand.Read(wrongKey)
	past := time.Now().Add(-2 * time.Hour)
	future := time.Now().Add(2 * time.Hour)
	return map[string]string{
		"alg none":  e.mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, e.keyID, claimsFor(f.adminID)),
		"wrong key": e.mint(t, jwt.SigningMethodHS256, wrongKey, e.keyID, claimsFor(f.adminID)),
		"expired": e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = past.Unix(), past.Unix(), past.Add(time.Hour).Unix()
		})),
		"wrong issuer":   e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"wrong audience": e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} })),
		// The admin's genuine token (from the login), edited.
		"tampered payload": tamper(t, f.admin, func(c map[string]any) { c["sub"] = f.bobID }),
		"tampered expiry":  tamper(t, f.admin, func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }),
		"no expiry":        e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"not yet valid":    e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) { c["iat"], c["nbf"] = future.Unix(), future.Unix() })),
		"unknown key id":   e.mint(t, jwt.SigningMethodHS256, nil, "k-unknown", claimsFor(f.adminID)),
		"HS512 same key":   e.mint(t, jwt.SigningMethodHS512, nil, e.keyID, claimsFor(f.adminID)),
		"no subject":       e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, with(func(c jwt.MapClaims) { delete(c, "sub") })),
		"unknown user":     e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, claimsFor("no-such-user")),
		"garbage":          "not.a.jwt",
		"unknown api key":  auth.APITokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"revoked api key":  f.apiRevoked,
		"api key prefix 0": strings.TrimPrefix(f.apiAdmin, auth.APITokenPrefix),
	}
}

// withHeader returns r with one more header.
func withHeader(r req, name, value string) req {
	h := make(map[string]string, len(r.header)+1)
	for k, v := range r.header {
		h[k] = v
	}
	h[name] = value
	r.header = h
	return r
}

// tamper edits the payload of a signed JWT and keeps its signature.
func tamper(t testing.TB, token string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(out)
	return strings.Join(parts, ".")
}

func testBadTokens(t *testing.T, f *fixture, ops []operation) {
	e := f.e
	// The control: a token forged with the host's key and the same claims
	// is accepted, so each refusal below is due to the one difference.
	must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: e.mint(t, jwt.SigningMethodHS256, nil, e.keyID, claimsFor(f.adminID))}), http.StatusOK)
	bad := f.badTokens(t)
	names := make([]string, 0, len(bad))
	for name := range bad {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		for _, o := range ops {
			if o.public && o.spec.ownAuth == "" {
				continue
			}
			r := f.exampleRequest(t, o, bad[name])
			res := e.do(t, r)
			if expect(t, fmt.Sprintf("%s with a token (%s)", o.key, name), res, http.StatusUnauthorized) {
				if eb := checkErrorShape(t, o.key, res); eb.Code != api.CodeUnauthenticated {
					t.Errorf("%s (%s): code %q", o.key, name, eb.Code)
				}
			}
			n++
		}
	}
	// The scheme matters too.
	for _, h := range []string{"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  ", f.admin, "bearer-" + f.admin} {
		res := e.do(t, req{method: "GET", path: "/api/v1/auth/me", header: map[string]string{"Authorization": h}})
		expect(t, fmt.Sprintf("Authorization %.20q", h), res, http.StatusUnauthorized)
		n++
	}
	// Operations with credentials of their own: the genuine credential is
	// accepted (the control), and refused when one character differs, or
	// when sent without the Bearer scheme.
	for _, o := range ops {
		if o.spec.ownAuth == "" {
			continue
		}
		good := o.spec.credential(f, f.profileA)
		res := e.do(t, f.exampleRequest(t, o, good))
		if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
			t.Errorf("%s with its genuine credential: %s", o.key, res)
		}
		last := byte('A')
		if good[len(good)-1] == last {
			last = 'B'
		}
		for name, r := range map[string]req{
			"one character changed": f.exampleRequest(t, o, good[:len(good)-1]+string(last)),
			"one character more":    f.exampleRequest(t, o, good+"A"),
			"no scheme":             withHeader(f.exampleRequest(t, o, ""), "Authorization", good),
		} {
			expectUnauthenticated(t, fmt.Sprintf("%s with its credential (%s)", o.key, name), e.do(t, r))
			n++
		}
	}
	t.Logf("%d requests with %d kinds of bad credentials refused", n, len(bad)+5+3)
	f.checkIntact(t)
}

// --- roles -------------------------------------------------------------

func testRoles(t *testing.T, f *fixture, ops []operation) {
	e := f.e
	callers := []struct {
		name  string
		token string
		role  identity.Role
	}{
		{"viewer", f.viewer, identity.RoleViewer},
		{"editor", f.editor, identity.RoleEditor},
		{"viewer API token", f.apiViewer, identity.RoleViewer},
	}
	n := 0
	for _, o := range ops {
		if o.spec.role == "" {
			continue // public, or its own credential has no role
		}
		for _, c := range callers {
			if c.role.Allows(o.spec.role) {
				continue
			}
			res := e.do(t, f.exampleRequest(t, o, c.token))
			if expect(t, fmt.Sprintf("%s by a %s", o.key, c.name), res, http.StatusForbidden) {
				if eb := checkErrorShape(t, o.key, res); eb.Code != api.CodeForbidden {
					t.Errorf("%s by a %s: code %q, want %q", o.key, c.name, eb.Code, api.CodeForbidden)
				}
			}
			n++
		}
	}
	// A member asking for a profile they are not in.
	for _, tok := range []string{f.viewer, f.apiViewer, f.bob} {
		res := e.do(t, req{method: "GET", path: "/api/v1/sources", token: tok, profile: "default-but-not-mine"})
		expect(t, "profile of someone else", res, http.StatusForbidden)
	}
	res := e.do(t, req{method: "GET", path: "/api/v1/sources", token: f.bob, profile: f.profileA})
	expect(t, "bob asking for profile A", res, http.StatusForbidden)
	noLeak(t, "bob asking for profile A", res, f.secretsOfA[1:])
	t.Logf("%d requests by roles below the operation's refused", n)
	f.checkIntact(t)
}

// --- other profiles ------------------------------------------------------

func noLeak(t testing.TB, what string, r resp, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(string(r.body), s) {
			t.Errorf("%s: the answer shows %q of profile A: %s", what, s, r)
		}
	}
}

func testOtherProfile(t *testing.T, f *fixture, ops []operation) {
	e := f.e
	// The admin of A is admin of B too: acting in B they see B only.
	callers := []struct {
		name, token, profile string
	}{
		{"admin of B", f.bob, ""},
		{"admin of A acting in B", f.admin, f.profileB},
	}
	n := 0
	for _, o := range ops {
		if !o.hasPathParam() {
			if o.method == http.MethodGet && !o.public {
				// Lists read from B show nothing of A.
				res := f.send(t, o, req{method: o.method, path: o.path, token: f.bob})
				expect(t, o.key+" by the admin of B", res, http.StatusOK)
				noLeak(t, o.key+" by the admin of B", res, f.secretsOfA)
				n++
			}
			continue
		}
		for _, id := range []string{"00000000-0000-7000-8000-000000000000", "no-such-id"} {
			r := f.exampleRequest(t, o, f.callerToken(o))
			r.path = fillPath(o.path, id)
			what := fmt.Sprintf("%s with unknown id %s", o.key, id)
			if o.spec.ownAuth != "" {
				// The credential is the object's: an unknown object is a
				// wrong credential, so ids cannot be probed.
				expectUnauthenticated(t, what, e.do(t, r))
			} else {
				expect(t, what, e.do(t, r), http.StatusNotFound)
			}
			n++
		}
		if o.spec.resource == "" {
			t.Logf("%s: the suite cannot create what its id refers to; only unknown ids tried", o.key)
			continue
		}
		id, ok := f.foreign[o.spec.resource]
		if !ok {
			t.Fatalf("%s: no object of A for resource %q", o.key, o.spec.resource)
		}
		if o.spec.ownAuth != "" {
			// The credential of an object of B, and that of another object
			// of A, open nothing of A's object.
			if f.own[o.spec.resource] == id {
				t.Fatalf("%s: the suite's credential belongs to the object attacked", o.key)
			}
			for name, tok := range map[string]string{
				"credential of profile B":           o.spec.credential(f, f.profileB),
				"credential of another object of A": o.spec.credential(f, f.profileA),
			} {
				r := f.exampleRequest(t, o, tok)
				r.path = fillPath(o.path, id)
				res := e.do(t, r)
				expectUnauthenticated(t, fmt.Sprintf("%s of A's %s with the %s", o.key, o.spec.resource, name), res)
				noLeak(t, o.key+" with the "+name, res, f.secretsOfA)
				n++
			}
			continue
		}
		for _, c := range callers {
			r := f.exampleRequest(t, o, c.token)
			r.path, r.profile = fillPath(o.path, id), c.profile
			res := e.do(t, r)
			expect(t, fmt.Sprintf("%s of A's %s by the %s", o.key, o.spec.resource, c.name), res, http.StatusNotFound)
			noLeak(t, o.key+" by the "+c.name, res, f.secretsOfA)
			n++
		}
	}
	t.Logf("%d requests from profile B or for unknown ids answered 404 (401 where the credential is the object's) with nothing of A", n)
	f.checkIntact(t)
}

// --- request bodies ----------------------------------------------------

const oversize = 2 << 20 // 2 MiB, twice the default limit

func testBodies(t *testing.T, f *fixture, ops []operation) {
	e := f.e
	big := `{"name":"` + strings.Repeat("a", oversize) + `"}`
	n := 0
	for _, o := range ops {
		base := f.exampleRequest(t, o, f.callerToken(o))
		// Every route refuses a body over the limit, declared or not.
		r := base
		r.body = big
		if res := e.do(t, r); expect(t, o.key+" with a 2 MiB body", res, http.StatusRequestEntityTooLarge) {
			if eb := checkErrorShape(t, o.key, res); eb.Code != api.CodeTooLarge {
				t.Errorf("%s with a 2 MiB body: code %q", o.key, eb.Code)
			}
		}
		n++
		if o.spec.body == nil {
			continue
		}
		r.chunked = true
		expect(t, o.key+" with a 2 MiB chunked body", e.do(t, r), http.StatusRequestEntityTooLarge)
		n++

		valid := base.body.(map[string]any)
		type bodyCase struct {
			name   string
			body   any
			status int
			want   string // in the message
			alt    string // or this, when set
		}
		cases := []bodyCase{
			{"malformed", `{"name": "x",`, 400, "malformed JSON", ""},
			{"not JSON", `name=x`, 400, "malformed JSON", ""},
			{"trailing data", mustJSON(t, valid) + ` {}`, 400, "after the JSON value", ""},
			{"an array", `[]`, 400, "object", ""},
			{"a string", `"text"`, 400, "object", ""},
		}
		if o.spec.openSchema == "" {
			cases = append(cases, bodyCase{"unknown field", withField(valid, "zz_unknown_field", true), 400, "zz_unknown_field", ""})
		} else {
			// Ignored by design; what is sent is still checked as a whole.
			r := base
			r.body = withField(valid, "zz_unknown_field", map[string]any{"nested": []any{1, "two"}})
			if res := e.do(t, r); res.status == http.StatusBadRequest {
				t.Errorf("%s refuses an unknown field although its schema is open (%s): %s", o.key, o.spec.openSchema, res)
			}
			n++
		}
		if !o.spec.optionalBody {
			cases = append(cases, bodyCase{name: "empty", body: ``, status: 400, want: "empty"})
		}
		// A number for every string of the body, nested ones too: the
		// message names the field, dotted or as a JSON pointer.
		for _, leaf := range stringLeaves(valid, nil) {
			dotted := strings.Join(leaf, ".")
			cases = append(cases, bodyCase{name: "number for " + dotted, body: withLeaf(valid, leaf, 12345), status: 400,
				want: dotted, alt: "/" + strings.Join(leaf, "/")})
		}
		for _, c := range cases {
			r := base
			r.body = c.body
			if s, ok := c.body.(string); ok && s == "" {
				r.body = nil
			}
			res := e.do(t, r)
			if expect(t, fmt.Sprintf("%s with a %s body", o.key, c.name), res, c.status) {
				if eb := checkErrorShape(t, o.key, res); !strings.Contains(eb.Message, c.want) && (c.alt == "" || !strings.Contains(eb.Message, c.alt)) {
					t.Errorf("%s with a %s body: message %q does not name the problem (%q)", o.key, c.name, eb.Message, c.want)
				}
			}
			n++
		}
		r = base
		r.header = map[string]string{"Content-Type": "text/plain"}
		if res := e.do(t, r); expect(t, o.key+" with a text/plain body", res, http.StatusUnsupportedMediaType) {
			if eb := checkErrorShape(t, o.key, res); !strings.Contains(eb.Message, "application/json") {
				t.Errorf("%s with a text/plain body: message %q does not name the expected type", o.key, eb.Message)
			}
		}
		n++
	}
	t.Logf("%d requests with oversized or malformed bodies refused with the reason", n)
	f.checkIntact(t)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withField returns a copy of body with field set to v.
func withField(body map[string]any, field string, v any) map[string]any {
	out := make(map[string]any, len(body)+1)
	for k, x := range body {
		out[k] = x
	}
	out[field] = v
	return out
}

func topLevelStrings(body map[string]any) []string {
	var out []string
	for k, v := range body {
		if _, ok := v.(string); ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// stringLeaves returns the paths of every string value in body.
func stringLeaves(v any, prefix []string) [][]string {
	var out [][]string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, stringLeaves(x[k], append(slices.Clone(prefix), k))...)
		}
	case string:
		out = append(out, prefix)
	}
	return out
}

// withLeaf returns a deep copy of body with the value at path set to v.
func withLeaf(body map[string]any, path []string, v any) map[string]any {
	out := make(map[string]any, len(body))
	for k, x := range body {
		out[k] = x
	}
	if len(path) == 1 {
		out[path[0]] = v
		return out
	}
	inner, _ := out[path[0]].(map[string]any)
	out[path[0]] = withLeaf(inner, path[1:], v)
	return out
}

// --- SQL metacharacters ------------------------------------------------

func testSQLMetacharacters(t *testing.T, f *fixture, ops []operation) {
	e := f.e
	before := e.tableCounts(t)
	n := 0
	for _, o := range ops {
		// Path parameters: never found, never an error of the server.
		if o.hasPathParam() {
			for _, p := range sqlPayloads {
				r := f.exampleRequest(t, o, f.callerToken(o))
				r.path = fillPath(o.path, p)
				res := e.do(t, r)
				switch {
				case o.spec.ownAuth != "":
					// Unknown, so the credential cannot be its.
					expectUnauthenticated(t, fmt.Sprintf("%s with id %q", o.key, p), res)
				case res.status != http.StatusNotFound && res.status != http.StatusBadRequest:
					t.Errorf("%s with id %q: got %s, want 404", o.key, p, res)
				}
				n++
			}
		}
		// Every string of the body.
		// (First: the login body's injections must fit in the login rate
		// limit of the suite's one client address; the later header
		// injections of login may be limited, which is fine.)
		var leaves [][]string
		if o.spec.body != nil {
			leaves = stringLeaves(o.spec.body(t, f), nil)
		}
		for _, leaf := range leaves {
			for _, p := range sqlPayloads {
				r := f.exampleRequest(t, o, f.callerToken(o))
				r.body = withLeaf(r.body.(map[string]any), leaf, p)
				e.do(t, r)
				n++
			}
		}
		// Query and header parameters.
		for _, prm := range o.params {
			for _, p := range sqlPayloads {
				r := f.exampleRequest(t, o, f.callerToken(o))
				if prm.in == "header" {
					r.header = map[string]string{prm.name: p}
				} else {
					r.path += "?" + url.Values{prm.name: {p}}.Encode()
				}
				res := f.send(t, o, r)
				n++
				fields, isFilter := o.spec.filters[prm.name]
				if !isFilter || res.status != http.StatusOK {
					continue
				}
				var page map[string]json.RawMessage
				res.json(t, &page)
				var rows []map[string]any
				if err := json.Unmarshal(page[o.spec.listKey], &rows); err != nil {
					t.Fatalf("%s: list %q: %v", o.key, o.spec.listKey, err)
				}
				for _, row := range rows {
					match := false
					for _, fl := range fields {
						match = match || row[fl] == p
					}
					if !match {
						t.Errorf("%s?%s=%q returned a row that does not have that value (a wildcard?): %v", o.key, prm.name, p, row)
						break
					}
				}
			}
		}
	}
	after := e.tableCounts(t)
	for table, rows := range before {
		got, ok := after[table]
		switch {
		case !ok:
			t.Errorf("table %s is gone", table)
		case got < rows:
			t.Errorf("table %s lost rows: %d before, %d after", table, rows, got)
		}
	}
	if len(after) != len(before) {
		t.Errorf("tables before: %v; after: %v", before, after)
	}
	// The data still reads, and the audit chain (which hashes every
	// payload recorded) is intact.
	must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: f.admin}), http.StatusOK)
	if _, err := auditapi.Verify(t.Context(), e.app.Store()); err != nil {
		t.Errorf("audit chain after the injections: %v", err)
	}
	t.Logf("%d requests with SQL metacharacters in path, query, header and body handled as data; %d tables intact", n, len(after))
	f.checkIntact(t)
}
