package sdk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// instance is one configured source inside the plugin process.
type instance struct {
	id       string
	revision int64
	value    any
	secrets  []string
}

// instances holds the live instances by id. Configure builds the new
// instance fully before swapping it in, so a failed rebuild leaves the
// previous one serving.
type instances struct {
	mu    sync.RWMutex
	byID  map[string]*instance
	log   hclog.Logger
	build func(ctx context.Context, id string, revision int64, configJSON []byte, secrets map[string]string) (any, error)
}

func (is *instances) get(id string) (*instance, error) {
	is.mu.RLock()
	inst := is.byID[id]
	is.mu.RUnlock()
	if inst == nil {
		return nil, &Error{Kind: KindUnconfigured, Message: fmt.Sprintf("instance %q is not configured in this plugin process: the host must call Configure first", id)}
	}
	return inst, nil
}

func (is *instances) configure(ctx context.Context, id string, revision int64, configJSON []byte, secrets map[string]string) error {
	if id == "" {
		return ConfigError("", "instance_id is empty")
	}
	is.mu.RLock()
	old := is.byID[id]
	is.mu.RUnlock()
	if old != nil && old.revision == revision {
		return nil
	}
	v, err := is.build(ctx, id, revision, configJSON, secrets)
	if err != nil {
		return err
	}
	inst := &instance{id: id, revision: revision, value: v, secrets: secretValues(secrets)}
	is.mu.Lock()
	old = is.byID[id]
	is.byID[id] = inst
	is.mu.Unlock()
	if old != nil {
		dispose(old, is.log)
	}
	is.log.Debug("instance configured", "instance", id, "revision", revision)
	return nil
}

func (is *instances) remove(id string) {
	is.mu.Lock()
	old := is.byID[id]
	delete(is.byID, id)
	is.mu.Unlock()
	if old != nil {
		dispose(old, is.log)
	}
}

func (is *instances) disposeAll() {
	is.mu.Lock()
	all := is.byID
	is.byID = map[string]*instance{}
	is.mu.Unlock()
	for _, inst := range all {
		dispose(inst, is.log)
	}
}

func dispose(inst *instance, log hclog.Logger) {
	d, ok := inst.value.(Disposer)
	if !ok {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("dispose panicked", "instance", inst.id, "panic", fmt.Sprint(r))
		}
	}()
	d.Dispose()
}

// redactor replaces every secret value any instance holds. Secrets shorter
// than 4 characters are not redacted: replacing them would mangle ordinary
// words while protecting nothing worth protecting.
func (is *instances) redactor(extra map[string]string) func(string) string {
	is.mu.RLock()
	var vals []string
	for _, inst := range is.byID {
		vals = append(vals, inst.secrets...)
	}
	is.mu.RUnlock()
	vals = append(vals, secretValues(extra)...)
	return redactWith(vals)
}

func secretValues(secrets map[string]string) []string {
	var out []string
	for _, v := range secrets {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

func redactWith(vals []string) func(string) string {
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	return func(s string) string {
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
		return s
	}
}
