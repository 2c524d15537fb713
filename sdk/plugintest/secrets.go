package plugintest

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/puod/puod/sdk"
)

// Transcript records every text a plugin returned that a person may read
// (error messages, field errors, health messages, run and pipeline
// details), so CheckNoSecrets can scan them once at the end. A nil
// *Transcript records nothing. It is safe for concurrent use.
type Transcript struct {
	mu      sync.Mutex
	entries []Entry
}

// Entry is one recorded text.
type Entry struct {
	// Where says what returned it, e.g. "ListRuns error".
	Where string
	Text  string
}

// Record adds a text; empty texts are ignored.
func (tr *Transcript) Record(where, text string) {
	if tr == nil || text == "" {
		return
	}
	tr.mu.Lock()
	tr.entries = append(tr.entries, Entry{Where: where, Text: text})
	tr.mu.Unlock()
}

// RecordError adds an error's message (nil is ignored).
func (tr *Transcript) RecordError(call string, err error) {
	if err != nil {
		tr.Record(call+" error", err.Error())
	}
}

// Entries returns what was recorded so far.
func (tr *Transcript) Entries() []Entry {
	if tr == nil {
		return nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.entries)
}

func (tr *Transcript) recordFieldErrors(fes []sdk.FieldError) {
	for _, fe := range fes {
		tr.Record("field error at "+fe.Field, fe.Message)
	}
}

func (tr *Transcript) recordRuns(where string, runs []sdk.Run) {
	if tr == nil {
		return
	}
	for _, r := range runs {
		w := where + " run " + r.ExternalID
		tr.Record(w+" error_message", r.ErrorMessage)
		tr.Record(w+" url", r.URL)
		tr.Record(w+" pipeline_name", r.PipelineName)
		for k, v := range r.Attributes {
			tr.Record(w+" attribute "+k, v)
		}
		for _, task := range r.Tasks {
			tr.Record(w+" task "+task.ExternalID+" error_message", task.ErrorMessage)
		}
	}
}

// CheckNoSecrets fails for every recorded text that holds a secret value,
// as is or in a common encoding (URL query or path escaping, base64): the
// SDK redacts the literal values from errors, but not an encoded copy, nor
// run data. Values shorter than 4 characters are not scanned, as in the
// SDK's redaction. The failure message names the secret, never shows it.
func CheckNoSecrets(t testing.TB, secrets map[string]string, entries []Entry) {
	t.Helper()
	type form struct{ key, how, value string }
	var forms []form
	for _, k := range sortedKeys(secrets) {
		v := secrets[k]
		if len(v) < 4 {
			continue
		}
		seen := map[string]bool{}
		for _, f := range []form{
			{k, "as is", v},
			{k, "URL-query-escaped", url.QueryEscape(v)},
			{k, "URL-path-escaped", url.PathEscape(v)},
			{k, "base64", base64.StdEncoding.EncodeToString([]byte(v))},
			{k, "base64 (URL alphabet, unpadded)", base64.RawURLEncoding.EncodeToString([]byte(v))},
		} {
			if !seen[f.value] {
				seen[f.value] = true
				forms = append(forms, f)
			}
		}
	}
	reported := map[string]bool{}
	for _, e := range entries {
		for _, f := range forms {
			if strings.Contains(e.Text, f.value) && !reported[f.key+"\x00"+e.Where+"\x00"+e.Text] {
				reported[f.key+"\x00"+e.Where+"\x00"+e.Text] = true
				shown := strings.ReplaceAll(e.Text, f.value, "<secret "+f.key+">")
				t.Errorf("secret %q leaked (%s) in %s: %q: never put credentials in errors, messages or run data (the SDK redacts only literal values from errors)", f.key, f.how, e.Where, shown)
			}
		}
	}
}

// allSecrets merges secret maps, naming each value by its key (and its
// source when keys repeat with other values).
func allSecrets(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for i, m := range maps {
		for k, v := range m {
			if old, ok := out[k]; ok && old != v {
				k = fmt.Sprintf("%s (case %d)", k, i)
			}
			out[k] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
