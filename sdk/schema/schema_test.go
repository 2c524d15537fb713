package schema_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/puod/puod/sdk/schema"
)

// derived is the part of a derived schema the tests look at.
type derived struct {
	Schema               string             `json:"$schema"`
	ID                   string             `json:"$id"`
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Properties           map[string]derived `json:"properties"`
	Description          string             `json:"description"`
	Enum                 []any              `json:"enum"`
	Minimum              *float64           `json:"minimum"`
	MinLength            *int               `json:"minLength"`
	Secret               bool               `json:"x-secret"`
	WriteOnly            bool               `json:"writeOnly"`
}

type dbConfig struct {
	Host     string `json:"host" jsonschema:"required,minLength=1"`
	Password string `json:"password,omitempty" secret:"true"`
}

type sharedAuth struct {
	APIKey string `json:"api_key,omitempty" secret:"true" jsonschema:"description=Key of the API"`
}

type derivedConfig struct {
	URL     string    `json:"url" jsonschema:"required,minLength=1,description=Workspace URL"`
	Mode    string    `json:"mode,omitempty" jsonschema:"enum=fast,enum=safe"`
	Port    int       `json:"port,omitempty" jsonschema:"minimum=1"`
	Token   string    `json:"token,omitempty" secret:"true"`
	DB      dbConfig  `json:"db"`
	Replica *dbConfig `json:"replica,omitempty"`
	Skipped string    `json:"-"`
	hidden  string    //nolint:unused // must not appear in the schema
	sharedAuth
}

func fromStruct(t *testing.T, v any) (json.RawMessage, derived) {
	t.Helper()
	raw, err := schema.FromStruct(v)
	if err != nil {
		t.Fatalf("FromStruct: %v", err)
	}
	var d derived
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("derived schema is not JSON: %v\n%s", err, raw)
	}
	return raw, d
}

func TestFromStruct_derivesConstraintsFromTags(t *testing.T) {
	raw, d := fromStruct(t, &derivedConfig{})
	if d.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", d.Schema)
	}
	if d.ID != "" || d.Ref != "" {
		t.Errorf("derived schema must be inline without $id/$ref, got $id=%q $ref=%q", d.ID, d.Ref)
	}
	if d.Type != "object" || d.AdditionalProperties == nil || *d.AdditionalProperties {
		t.Errorf("root must be a closed object, got type %q additionalProperties %v", d.Type, d.AdditionalProperties)
	}
	if !slices.Contains(d.Required, "url") || slices.Contains(d.Required, "mode") || slices.Contains(d.Required, "token") {
		t.Errorf("required = %v, want url (from the tag) and not the untagged fields", d.Required)
	}
	for _, name := range []string{"-", "Skipped", "hidden"} {
		if _, ok := d.Properties[name]; ok {
			t.Errorf("property %q must not be in the schema", name)
		}
	}
	url := d.Properties["url"]
	if url.Type != "string" || url.Description != "Workspace URL" || url.MinLength == nil || *url.MinLength != 1 {
		t.Errorf("url = %+v, want string with description and minLength 1", url)
	}
	if got := d.Properties["mode"].Enum; !reflect.DeepEqual(got, []any{"fast", "safe"}) {
		t.Errorf("mode enum = %v, want [fast safe]", got)
	}
	if m := d.Properties["port"].Minimum; d.Properties["port"].Type != "integer" || m == nil || *m != 1 {
		t.Errorf("port = %+v, want integer with minimum 1", d.Properties["port"])
	}
	db := d.Properties["db"]
	if db.Type != "object" || !slices.Contains(db.Required, "host") || db.Properties["host"].Type != "string" {
		t.Errorf("nested struct db = %+v, want an inline object with required host", db)
	}
	if _, err := schema.Compile(raw); err != nil {
		t.Errorf("derived schema does not compile: %v", err)
	}
}

func TestFromStruct_marksSecrets(t *testing.T) {
	_, d := fromStruct(t, &derivedConfig{})
	cases := []struct {
		name string
		prop derived
		want bool
	}{
		{"top-level token", d.Properties["token"], true},
		{"top-level url", d.Properties["url"], false},
		{"nested db.password", d.Properties["db"].Properties["password"], true},
		{"nested db.host", d.Properties["db"].Properties["host"], false},
		{"pointer replica.password", d.Properties["replica"].Properties["password"], true},
		{"embedded api_key", d.Properties["api_key"], true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.prop.Secret != c.want || c.prop.WriteOnly != c.want {
				t.Errorf("x-secret = %v, writeOnly = %v, want both %v", c.prop.Secret, c.prop.WriteOnly, c.want)
			}
		})
	}
	if got := d.Properties["api_key"].Description; got != "Key of the API" {
		t.Errorf("embedded field description = %q", got)
	}
}

func TestFromStruct_acceptsValueAndPointer(t *testing.T) {
	a, _ := fromStruct(t, derivedConfig{})
	b, _ := fromStruct(t, &derivedConfig{})
	if !schema.Equal(a, b) {
		t.Errorf("schema of a value and of a pointer differ:\n%s\n%s", a, b)
	}
}

func TestSecretFields_listsTopLevelSecrets(t *testing.T) {
	derivedRaw, _ := fromStruct(t, &derivedConfig{})
	cases := []struct {
		name string
		raw  string
		want []string
	}{
		{"derived", string(derivedRaw), []string{"api_key", "token"}},
		{"sorted", `{"properties": {"z": {"x-secret": true}, "a": {"x-secret": true}, "m": {}}}`, []string{"a", "z"}},
		{"false is not secret", `{"properties": {"a": {"x-secret": false}}}`, nil},
		{"nested secrets are not top-level", `{"properties": {"db": {"properties": {"pw": {"x-secret": true}}}}}`, nil},
		{"no properties", `{"type": "object"}`, nil},
		{"invalid JSON", `{`, nil},
		{"non-bool marker", `{"properties": {"a": {"x-secret": "yes"}}}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := schema.SecretFields([]byte(c.raw)); !slices.Equal(got, c.want) {
				t.Errorf("SecretFields = %v, want %v", got, c.want)
			}
		})
	}
}

const configSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "port"],
  "properties": {
    "name": {"type": "string", "minLength": 1},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "mode": {"enum": ["fast", "safe"]},
    "db": {
      "type": "object",
      "required": ["host"],
      "properties": {"host": {"type": "string"}, "pool": {"type": "integer", "minimum": 0}}
    },
    "tags": {"type": "array", "items": {"type": "string"}},
    "a/b": {"type": "string"}
  }
}`

func TestValidate_reportsProblemsAtPointers(t *testing.T) {
	s, err := schema.Compile([]byte(configSchema))
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ pointer, message string }
	cases := []struct {
		name string
		doc  string
		want []want // sorted by pointer; message is a fragment
	}{
		{"valid", `{"name": "x", "port": 80}`, nil},
		{"missing required", `{"port": 80}`, []want{{"/name", "is required"}}},
		{"two missing required", `{}`, []want{{"/name", "is required"}, {"/port", "is required"}}},
		{"wrong type", `{"name": "x", "port": "80"}`, []want{{"/port", "integer"}}},
		{"below minimum", `{"name": "x", "port": 0}`, []want{{"/port", "minimum"}}},
		{"empty string", `{"name": "", "port": 1}`, []want{{"/name", "minLength"}}},
		{"enum", `{"name": "x", "port": 1, "mode": "slow"}`, []want{{"/mode", "fast"}}},
		{"nested required", `{"name": "x", "port": 1, "db": {}}`, []want{{"/db/host", "is required"}}},
		{"nested minimum", `{"name": "x", "port": 1, "db": {"host": "h", "pool": -1}}`, []want{{"/db/pool", "minimum"}}},
		{"array item", `{"name": "x", "port": 1, "tags": ["a", 2]}`, []want{{"/tags/1", "string"}}},
		{"additional property", `{"name": "x", "port": 1, "extra": true}`, []want{{"", "extra"}}},
		{"property name with slash", `{"name": "x", "port": 1, "a/b": 3}`, []want{{"/a~1b", "string"}}},
		{
			"several at once, sorted",
			`{"port": 70000, "db": {"pool": "many"}, "mode": "slow"}`,
			[]want{{"/db/host", "is required"}, {"/db/pool", "integer"}, {"/mode", "fast"}, {"/name", "is required"}, {"/port", "maximum"}},
		},
		{"not JSON", `{"name":`, []want{{"", "not valid JSON"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.ValidateJSON([]byte(c.doc))
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems %v, want %d %v", len(got), got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if got[i].Pointer != w.pointer || !strings.Contains(got[i].Message, w.message) {
					t.Errorf("problem %d = %q: %q, want %q containing %q", i, got[i].Pointer, got[i].Message, w.pointer, w.message)
				}
			}
			if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Pointer < got[j].Pointer }) {
				t.Errorf("problems are not sorted by pointer: %v", got)
			}
		})
	}
}

func TestValidate_missingRequiredPropertyNameIsEscaped(t *testing.T) {
	s := schema.MustCompile([]byte(`{"type": "object", "required": ["a/b", "c~d"]}`))
	got := s.ValidateJSON([]byte(`{}`))
	want := []schema.Problem{{Pointer: "/a~1b", Message: "is required"}, {Pointer: "/c~0d", Message: "is required"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %v, want %v", got, want)
	}
}

func TestValidate_acceptsDecodedValues(t *testing.T) {
	s := schema.MustCompile([]byte(configSchema))
	if got := s.Validate(map[string]any{"name": "x", "port": json.Number("8")}); len(got) != 0 {
		t.Errorf("valid decoded value reported %v", got)
	}
	if got := s.Validate(map[string]any{"port": json.Number("8")}); len(got) != 1 || got[0].Pointer != "/name" {
		t.Errorf("problems = %v, want one at /name", got)
	}
}

func TestProblem_string(t *testing.T) {
	cases := []struct {
		p    schema.Problem
		want string
	}{
		{schema.Problem{Pointer: "/a", Message: "is required"}, "/a: is required"},
		{schema.Problem{Message: "not valid JSON"}, "not valid JSON"},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestCompile_refusesRemoteAndInvalidSchemas(t *testing.T) {
	cases := []struct {
		name, raw, want string
	}{
		{"remote https $ref", `{"$ref": "https://example.com/schema.json"}`, "not allowed"},
		{"file $ref", `{"$ref": "file:///etc/passwd"}`, "not allowed"},
		{"relative $ref", `{"$ref": "other.json"}`, "not allowed"},
		{"remote $ref in a property", `{"properties": {"a": {"$ref": "http://example.com/a.json#/defs/x"}}}`, "not allowed"},
		{"remote metaschema", `{"$schema": "https://example.com/meta"}`, ""},
		{"not JSON", `{"type":`, "not valid JSON"},
		{"bad keyword value", `{"type": 5}`, "invalid JSON Schema"},
		{"bad minimum", `{"minimum": "one"}`, "invalid JSON Schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := schema.Compile([]byte(c.raw))
			if err == nil {
				t.Fatalf("Compile accepted %s", c.raw)
			}
			if s != nil {
				t.Errorf("Compile returned a schema with the error %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestCompile_acceptsLocalRefs(t *testing.T) {
	raw := `{
	  "$defs": {
	    "port": {"type": "integer", "minimum": 1},
	    "server": {"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}, "port": {"$ref": "#/$defs/port"}}}
	  },
	  "type": "object",
	  "properties": {"p": {"$ref": "#/$defs/port"}, "s": {"$ref": "#/$defs/server"}}
	}`
	s, err := schema.Compile([]byte(raw))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if !schema.Equal(s.Raw(), []byte(raw)) {
		t.Errorf("Raw() = %s, want the compiled document", s.Raw())
	}
	cases := []struct {
		name string
		doc  string
		want []schema.Problem // message is a fragment
	}{
		{"valid", `{"p": 1, "s": {"host": "h", "port": 2}}`, nil},
		{"one problem behind a ref", `{"p": 0}`, []schema.Problem{{Pointer: "/p", Message: "minimum"}}},
		{"ref inside ref", `{"s": {"host": "h", "port": 0}}`, []schema.Problem{{Pointer: "/s/port", Message: "minimum"}}},
		{
			"several problems behind one ref",
			`{"s": {"port": "x"}}`,
			[]schema.Problem{{Pointer: "/s/host", Message: "is required"}, {Pointer: "/s/port", Message: "integer"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.ValidateJSON([]byte(c.doc))
			if len(got) != len(c.want) {
				t.Fatalf("problems = %v, want %v", got, c.want)
			}
			for i, w := range c.want {
				if got[i].Pointer != w.Pointer || !strings.Contains(got[i].Message, w.Message) {
					t.Errorf("problem %d = %v, want %q containing %q", i, got[i], w.Pointer, w.Message)
				}
			}
		})
	}
}

func TestValidate_oneOfReportsAlternatives(t *testing.T) {
	s := schema.MustCompile([]byte(`{"properties": {"e": {"oneOf": [{"type": "string"}, {"type": "object"}]}}}`))
	got := s.ValidateJSON([]byte(`{"e": 5}`))
	if len(got) == 0 {
		t.Fatal("no problem reported for a value matching no alternative")
	}
	for _, p := range got {
		if p.Pointer != "/e" {
			t.Errorf("problem %v is not at /e", p)
		}
		if strings.Contains(p.Message, "validation failed") {
			t.Errorf("problem %v is an empty summary", p)
		}
	}
}

func TestCompile_keepsOwnCopyOfDocument(t *testing.T) {
	raw := []byte(`{"type": "string"}`)
	s := schema.MustCompile(raw)
	copy(raw, `{"type": "number"}`)
	if string(s.Raw()) != `{"type": "string"}` {
		t.Errorf("Raw() changed with the caller's buffer: %s", s.Raw())
	}
}

func TestMustCompile_panicsOnInvalidSchema(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile did not panic on an invalid schema")
		}
	}()
	schema.MustCompile([]byte(`{"type": 5}`))
}

func TestEqual_ignoresKeyOrderAndSpace(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want bool
	}{
		{"key order", `{"a": 1, "b": {"c": [1, 2], "d": null}}`, `{"b":{"d":null,"c":[1,2]},"a":1}`, true},
		{"white space", "{\n  \"a\": true\n}", `{"a":true}`, true},
		{"number spelling", `{"a": 1.0}`, `{"a": 1}`, true},
		{"array order matters", `[1, 2]`, `[2, 1]`, false},
		{"different value", `{"a": 1}`, `{"a": 2}`, false},
		{"extra key", `{"a": 1}`, `{"a": 1, "b": 1}`, false},
		{"null vs missing", `{"a": null}`, `{}`, false},
		{"invalid JSON", `{"a":`, `{"a":`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := schema.Equal([]byte(c.a), []byte(c.b)); got != c.want {
				t.Errorf("Equal(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
			}
		})
	}
}
