package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// logTailLines is how many lines of output are kept per plugin.
const logTailLines = 200

// maxLineBytes caps one kept line; the rest is cut.
const maxLineBytes = 4 << 10

// logTail keeps the last lines of a plugin's output (all its processes)
// and of the manager's notes about it, for the UI.
type logTail struct {
	mu          sync.Mutex
	buf         []string
	next        int
	full        bool
	lastErrLine string
}

func newLogTail(n int) *logTail { return &logTail{buf: make([]string, n)} }

func (t *logTail) add(line string) {
	if len(line) > maxLineBytes {
		line = line[:maxLineBytes] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf[t.next] = line
	t.next = (t.next + 1) % len(t.buf)
	t.full = t.full || t.next == 0
}

// addStderr keeps one raw stderr line, formatted when it is an hclog JSON
// line (the SDK's default logger writes those).
func (t *logTail) addStderr(raw string) {
	line := formatStderrLine(raw)
	t.add(line)
	t.mu.Lock()
	t.lastErrLine = line
	t.mu.Unlock()
}

// addHost keeps a note from the manager (started, crashed, switched).
func (t *logTail) addHost(msg string) {
	t.add(formatTailLine(time.Now().UTC().Format(time.RFC3339Nano), "HOST", msg))
}

// lastStderr is the last line the plugin wrote to stderr, for errors.
func (t *logTail) lastStderr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErrLine
}

func (t *logTail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.buf))
	if t.full {
		out = append(out, t.buf[t.next:]...)
	}
	out = append(out, t.buf[:t.next]...)
	return out
}

func formatTailLine(ts, level, msg string) string {
	if ts == "" {
		ts = time.Now().UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s [%s] %s", ts, level, msg)
}

// formatStderrLine turns {"@level":"info","@message":"m","@module":"x",
// "@timestamp":"…","k":"v"} into "… [INFO] x: m k=v"; other lines are kept
// as they are.
func formatStderrLine(raw string) string {
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") {
		return raw
	}
	var entry map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(trimmed)))
	dec.UseNumber()
	if dec.Decode(&entry) != nil {
		return raw
	}
	msg, ok := entry["@message"].(string)
	if !ok {
		return raw
	}
	level, _ := entry["@level"].(string)
	ts, _ := entry["@timestamp"].(string)
	module, _ := entry["@module"].(string)
	var b strings.Builder
	if module != "" {
		b.WriteString(module)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	keys := make([]string, 0, len(entry))
	for k := range entry {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := entry[k]
		s, isString := v.(string)
		if !isString {
			j, _ := json.Marshal(v)
			s = string(j)
		} else if strings.ContainsAny(s, " \t\n\"=") {
			s = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, " %s=%s", k, s)
	}
	if level == "" {
		level = "info"
	}
	return formatTailLine(ts, strings.ToUpper(level), b.String())
}

// lineWriter splits what it is given into lines. go-plugin writes each
// stderr line in two writes (the text, then "\n").
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func newLineWriter(emit func(string)) *lineWriter { return &lineWriter{emit: emit} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		w.emit(line)
	}
	if len(w.buf) > maxLineBytes {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
