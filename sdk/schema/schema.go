// Package schema compiles and applies JSON Schemas (draft 2020-12) for
// plugin manifests, source configurations and card options, and derives a
// schema from a Go struct. It reports problems per field, with the field's
// JSON pointer, so forms and API errors can point at what to fix.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	invopop "github.com/invopop/jsonschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Problem is one validation failure.
type Problem struct {
	// Pointer is the JSON pointer of the offending value ("" for the root).
	Pointer string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Pointer == "" {
		return p.Message
	}
	return p.Pointer + ": " + p.Message
}

// Schema is a compiled JSON Schema.
type Schema struct {
	raw      json.RawMessage
	compiled *jsonschema.Schema
}

// Compile compiles a JSON Schema document. A schema without "$schema" is
// read as draft 2020-12. Remote references are refused: a schema must be
// self-contained.
func Compile(raw []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	const loc = "mem://schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("load schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	return &Schema{raw: append(json.RawMessage(nil), raw...), compiled: s}, nil
}

// MustCompile is Compile for schemas embedded in the program.
func MustCompile(raw []byte) *Schema {
	s, err := Compile(raw)
	if err != nil {
		panic(err)
	}
	return s
}

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("remote schema %q not allowed: inline the definition", url)
}

// Raw returns the schema document.
func (s *Schema) Raw() json.RawMessage { return s.raw }

// ValidateJSON validates a JSON document. Invalid JSON is one problem at
// the root.
func (s *Schema) ValidateJSON(doc []byte) []Problem {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return []Problem{{Message: "not valid JSON: " + err.Error()}}
	}
	return s.Validate(v)
}

// Validate validates a decoded JSON value (as produced by
// jsonschema.UnmarshalJSON or encoding/json into any with UseNumber).
func (s *Schema) Validate(v any) []Problem {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Message: err.Error()}}
	}
	var out []Problem
	collect(ve.DetailedOutput(), &out)
	if len(out) == 0 {
		out = append(out, Problem{Message: ve.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return dedupe(out)
}

func collect(u *jsonschema.OutputUnit, out *[]Problem) {
	if u.Error != nil && len(u.Errors) == 0 {
		// A missing property is reported at the property itself, so a form
		// can show the message next to the empty field.
		switch k := u.Error.Kind.(type) {
		case *kind.Required:
			for _, name := range k.Missing {
				*out = append(*out, Problem{Pointer: u.InstanceLocation + "/" + pointerToken.Replace(name), Message: "is required"})
			}
			return
		case *kind.Schema, *kind.Group, *kind.Reference:
			// Summaries ("validation failed") of the problems listed
			// beside them carry no information of their own.
		default:
			*out = append(*out, Problem{Pointer: u.InstanceLocation, Message: u.Error.String()})
		}
	}
	for i := range u.Errors {
		collect(&u.Errors[i], out)
	}
}

// pointerToken escapes a property name as a JSON pointer token (RFC 6901).
var pointerToken = strings.NewReplacer("~", "~0", "/", "~1")

func dedupe(ps []Problem) []Problem {
	seen := map[Problem]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// FromStruct derives the JSON Schema of a configuration struct. Fields are
// named by their json tag; `jsonschema:"..."` tags add constraints
// (required, minLength, enum=..., description=..., default=...); a field
// tagged `secret:"true"` is marked "x-secret": true so the host encrypts it
// at rest and never shows it.
func FromStruct(v any) (json.RawMessage, error) {
	r := &invopop.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		AllowAdditionalProperties:  false,
		RequiredFromJSONSchemaTags: true,
	}
	s := r.Reflect(v)
	s.ID = ""
	s.Version = "https://json-schema.org/draft/2020-12/schema"
	markSecrets(reflect.TypeOf(v), s)
	return json.Marshal(s)
}

func markSecrets(t reflect.Type, s *invopop.Schema) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || s.Properties == nil {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous && name == "" {
			// An embedded struct's fields are inlined into s.
			markSecrets(f.Type, s)
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop, ok := s.Properties.Get(name)
		if !ok {
			continue
		}
		if f.Tag.Get("secret") == "true" {
			if prop.Extras == nil {
				prop.Extras = map[string]any{}
			}
			prop.Extras["x-secret"] = true
			prop.WriteOnly = true
		}
		markSecrets(f.Type, prop)
	}
}

// SecretFields lists the top-level properties of a schema marked x-secret.
func SecretFields(raw []byte) []string {
	var doc struct {
		Properties map[string]struct {
			Secret bool `json:"x-secret"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	var out []string
	for name, p := range doc.Properties {
		if p.Secret {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Equal reports whether two JSON documents are semantically equal (key
// order and white space ignored).
func Equal(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
