package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/sdk/schema"
)

// Mask is what responses show instead of a stored secret, and what a client
// may send back to keep it.
const Mask = "********"

// ValidationError lists what is wrong with a source request, field by field
// (JSON pointers into the request body, e.g. /config/workspace_url).
type ValidationError struct {
	Fields []api.FieldProblem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid source: " + strings.Join(parts, "; ")
}

// configSchema is the part of a plugin's config schema the split needs.
type configSchema struct {
	raw     json.RawMessage
	secrets []string
	// known lists the top-level properties when the schema closes the
	// object (additionalProperties: false); nil when any key is allowed.
	known map[string]bool
}

func parseConfigSchema(raw json.RawMessage) configSchema {
	cs := configSchema{raw: raw}
	if len(bytes.TrimSpace(raw)) == 0 {
		return cs
	}
	cs.secrets = schema.SecretFields(raw)
	var doc struct {
		Properties           map[string]json.RawMessage `json:"properties"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
	}
	if json.Unmarshal(raw, &doc) == nil && doc.AdditionalProperties != nil && !*doc.AdditionalProperties {
		cs.known = map[string]bool{}
		for name := range doc.Properties {
			cs.known[name] = true
		}
	}
	return cs
}

func (cs configSchema) isSecret(name string) bool {
	for _, s := range cs.secrets {
		if s == name {
			return true
		}
	}
	return false
}

// splitConfig separates a request's config object into the settings stored
// in config_json and the secret values to seal. For each secret field:
// absent or the Mask keeps the stored value, null or "" removes it, and a
// string sets it. Secret values must be strings (the plugin protocol carries
// them as strings).
func splitConfig(raw json.RawMessage, cs configSchema, stored map[string]string) (json.RawMessage, map[string]string, []api.FieldProblem) {
	obj := map[string]json.RawMessage{}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if trimmed[0] != '{' || json.Unmarshal(trimmed, &obj) != nil {
			return nil, nil, []api.FieldProblem{{Field: "/config", Message: "must be a JSON object"}}
		}
		if obj == nil {
			obj = map[string]json.RawMessage{}
		}
	}
	var probs []api.FieldProblem
	if cs.known != nil {
		var unknown []string
		for name := range obj {
			if !cs.known[name] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		for _, name := range unknown {
			probs = append(probs, api.FieldProblem{Field: "/config/" + escapePointer(name),
				Message: fmt.Sprintf("unknown field %q: the plugin has no such setting (known: %s)", name, strings.Join(sortedKeys(cs.known), ", "))})
		}
	}
	secrets := map[string]string{}
	for _, name := range cs.secrets {
		ptr := "/config/" + escapePointer(name)
		v, present := obj[name]
		delete(obj, name)
		old, has := stored[name]
		if !present {
			if has {
				secrets[name] = old
			}
			continue
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			probs = append(probs, api.FieldProblem{Field: ptr, Message: "must be a string (secret settings are strings)"})
			continue
		}
		switch {
		case s == Mask && has:
			secrets[name] = old
		case s == Mask:
			probs = append(probs, api.FieldProblem{Field: ptr, Message: Mask + " stands for a stored secret, but none is stored: send the secret itself"})
		case s != "":
			secrets[name] = s
		}
	}
	cfg, err := json.Marshal(obj)
	if err != nil {
		// Every value came out of json.Unmarshal; this cannot fail.
		panic(fmt.Sprintf("marshal source config: %v", err))
	}
	return cfg, secrets, probs
}

// mergeConfig puts secret values back into a config object, for schema
// validation.
func mergeConfig(cfg json.RawMessage, secrets map[string]string) (json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if err := json.Unmarshal(cfg, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		obj = map[string]json.RawMessage{}
	}
	for k, v := range secrets {
		b, _ := json.Marshal(v)
		obj[k] = b
	}
	return json.Marshal(obj)
}

// maskConfig returns a stored config with "********" for every secret set.
func maskConfig(cfg json.RawMessage, secrets map[string]string) json.RawMessage {
	if len(secrets) == 0 {
		if len(bytes.TrimSpace(cfg)) == 0 {
			return json.RawMessage(`{}`)
		}
		return cfg
	}
	obj := map[string]json.RawMessage{}
	if err := json.Unmarshal(cfg, &obj); err != nil || obj == nil {
		obj = map[string]json.RawMessage{}
	}
	for name := range secrets {
		obj[name] = json.RawMessage(`"` + Mask + `"`)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("marshal masked config: %v", err))
	}
	return out
}

// redactor replaces secret values in texts that may reach a response, a log
// line or the audit log. The plugin SDK already scrubs what plugins return;
// this also covers the host's own schema messages (which quote values, e.g.
// for a pattern mismatch). Values under 4 bytes are left alone, as in the
// SDK: replacing them would mangle ordinary words.
func redactor(secrets map[string]string) func(string) string {
	var vals []string
	for _, v := range secrets {
		if len(v) >= 4 {
			vals = append(vals, v)
		}
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	return func(s string) string {
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
		return s
	}
}

func escapePointer(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// schemaProblems validates the merged config against the plugin's schema
// and returns the problems as request fields, secret values removed from the
// messages. A schema that does not compile is the plugin's fault.
func schemaProblems(cs configSchema, cfg json.RawMessage, secrets map[string]string, reportedUnknown bool) ([]api.FieldProblem, error) {
	if len(bytes.TrimSpace(cs.raw)) == 0 {
		return nil, nil
	}
	compiled, err := schema.Compile(cs.raw)
	if err != nil {
		return nil, fmt.Errorf("the plugin's config schema is invalid: %w", err)
	}
	merged, err := mergeConfig(cfg, secrets)
	if err != nil {
		return nil, fmt.Errorf("merge config: %w", err)
	}
	redact := redactor(secrets)
	var out []api.FieldProblem
	for _, p := range compiled.ValidateJSON(merged) {
		if reportedUnknown && p.Pointer == "" && strings.HasPrefix(p.Message, "additional properties") {
			continue // already reported per field by splitConfig
		}
		msg := redact(p.Message)
		if name := strings.TrimPrefix(p.Pointer, "/"); cs.isSecret(name) && secrets[name] != "" && strings.Contains(msg, secrets[name]) {
			msg = "is not valid (the value is secret and not shown)"
		}
		out = append(out, api.FieldProblem{Field: "/config" + p.Pointer, Message: msg})
	}
	return out, nil
}
