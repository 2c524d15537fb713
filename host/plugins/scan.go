package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/fsnotify/fsnotify"

	"github.com/puod/puod/sdk/manifest"
)

// dirEntry is what the manager knows about one bundle folder.
type dirEntry struct {
	// fp identifies the folder's manifest and executable contents as last
	// seen; the bundle is only looked at again when it changes.
	fp string
	// sup is the supervisor started from this folder, if any.
	sup *supervisor
	// refused is the status shown for a bundle that was not started.
	refused *Status
	// retry re-evaluates the folder at the next scan even when unchanged:
	// it waits for another bundle with the same id to go away.
	retry bool
}

// scan reads the plugin directory once and reconciles the supervisors with
// it. It never calls a plugin: launching happens in the supervisors.
func (m *Manager) scan() {
	m.scanMu.Lock()
	defer m.scanMu.Unlock()
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return
	}
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// A transient error must not stop every plugin: keep the last view.
		m.log.Warn("cannot read the plugin directory; keeping the plugins as they are", "dir", m.cfg.Dir, "error", err)
		return
	}
	seen := map[string]bool{}
	var names []string
	for _, e := range entries {
		// Hidden folders are staging areas (copy there, then rename).
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(m.cfg.Dir, e.Name())
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		names = append(names, dir)
	}
	sort.Strings(names)
	for _, dir := range names {
		seen[dir] = true
		fp := fingerprint(dir)
		m.mu.Lock()
		ent := m.dirs[dir]
		if ent == nil {
			ent = &dirEntry{}
			m.dirs[dir] = ent
		}
		unchanged := ent.fp == fp && !ent.retry
		m.mu.Unlock()
		if !unchanged {
			m.consider(dir, fp, ent)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for dir, ent := range m.dirs {
		if seen[dir] {
			continue
		}
		delete(m.dirs, dir)
		if ent.sup != nil {
			m.log.Info("plugin bundle removed: draining and stopping the plugin", "plugin", ent.sup.id, "dir", dir)
			ent.sup.remove()
		}
	}
}

// consider loads a new or changed bundle folder and starts, replaces or
// refuses it. Called with scanMu held.
func (m *Manager) consider(dir, fp string, ent *dirEntry) {
	// The checksum is verified when the executable starts (SecureConfig),
	// not here as well: hashing large executables twice slows every start.
	b, err := manifest.LoadDeclared(dir)
	if err != nil {
		err = bundleProblems(err)
	} else {
		err = m.compatible(b)
	}
	id := filepath.Base(dir)
	if b != nil && b.Manifest != nil && b.Manifest.ID != "" {
		id = b.Manifest.ID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ent.fp, ent.retry = fp, false
	if err != nil {
		reason := err.Error()
		if ent.sup != nil {
			// The running generation keeps serving: a half-copied or bad
			// update must not take a working plugin down.
			m.log.Warn("changed plugin bundle refused; the running version keeps serving", "plugin", ent.sup.id, "dir", dir, "reason", reason)
			ent.sup.noteRefusedUpdate(reason)
			return
		}
		m.log.Warn("plugin bundle refused", "plugin", id, "dir", dir, "reason", reason)
		ent.refused = refusedStatus(dir, id, b, reason)
		m.events.publish(Event{PluginID: id, State: StateFailed, Error: reason, Time: time.Now()})
		return
	}
	if ent.sup != nil {
		if ent.sup.id == b.Manifest.ID {
			ent.sup.update(b)
			return
		}
		m.log.Info("plugin bundle changed its id: stopping the old plugin", "old", ent.sup.id, "new", b.Manifest.ID, "dir", dir)
		ent.sup.remove()
		ent.sup = nil
	}
	if other := m.sups[id]; other != nil {
		ent.retry = true
		if other.dir != dir {
			ent.refused = refusedStatus(dir, id, b, fmt.Sprintf("plugin id %s is already served from %s: remove one of the two bundles", id, other.dir))
			m.log.Warn("plugin bundle refused", "plugin", id, "dir", dir, "reason", ent.refused.LastError)
		} else {
			// Removed and put back: starts once the old process stopped.
			ent.refused = refusedStatus(dir, id, b, "waiting for the previous process of this plugin to stop")
			ent.refused.State = StateStarting
		}
		return
	}
	if m.closed {
		return
	}
	ent.refused = nil
	s := newSupervisor(m, id, dir)
	ent.sup = s
	m.sups[id] = s
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.run(m.ctx, b)
		m.forget(s)
	}()
}

// forget drops a stopped supervisor and rescans, so a bundle waiting for
// its id to be free can start.
func (m *Manager) forget(s *supervisor) {
	m.mu.Lock()
	if m.sups[s.id] == s {
		delete(m.sups, s.id)
	}
	for _, ent := range m.dirs {
		if ent.sup == s {
			ent.sup = nil
			ent.fp = "" // look at the folder again
		}
	}
	m.mu.Unlock()
	m.metrics.forget(s.id)
	m.rescanSoon()
}

func (m *Manager) rescanSoon() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// bundleProblems words manifest problems for a reader who sees the bundle
// folder next to them: "plugin.json /host: …".
func bundleProblems(err error) error {
	var probs manifest.Problems
	if !errors.As(err, &probs) {
		return err
	}
	parts := make([]string, len(probs))
	for i, p := range probs {
		switch {
		case p.Field == "":
			parts[i] = "plugin.json: " + p.Message
		case strings.HasPrefix(p.Field, "/"):
			parts[i] = "plugin.json " + p.Field + ": " + p.Message
		default:
			parts[i] = p.Message
		}
	}
	return errors.New(strings.Join(parts, "; "))
}

func refusedStatus(dir, id string, b *manifest.Bundle, reason string) *Status {
	st := &Status{ID: id, State: StateFailed, LastError: reason, Dir: dir}
	if b != nil && b.Manifest != nil {
		st.Name, st.Version, st.Kinds = b.Manifest.Name, b.Manifest.Version, b.Manifest.Kinds
	}
	return st
}

// compatible checks what the manifest says against this host: a protocol
// major both speak and a host range that includes this host.
func (m *Manager) compatible(b *manifest.Bundle) error {
	mf := b.Manifest
	if !intersects(mf.Protocol, m.protocols) {
		host := formatMajors(m.protocols)
		remedy := "upgrade the host or rebuild the plugin against an SDK speaking " + host
		if len(mf.Protocol) > 0 && maxInt(mf.Protocol) < m.protocols[0] {
			remedy = "upgrade the plugin to a version built against an SDK speaking " + host
		}
		return fmt.Errorf("plugin speaks protocol %s, host speaks %s: %s", formatMajors(mf.Protocol), host, remedy)
	}
	if m.hostVersion != nil && mf.Host != "" {
		c, err := semver.NewConstraint(mf.Host)
		if err != nil {
			return fmt.Errorf("host range %q is invalid: %w", mf.Host, err)
		}
		// A pre-release host (0.3.0-rc.1) is matched as its release, or no
		// range without a pre-release part would ever include it.
		core, _ := semver.NewVersion(fmt.Sprintf("%d.%d.%d", m.hostVersion.Major(), m.hostVersion.Minor(), m.hostVersion.Patch()))
		if !c.Check(core) {
			return fmt.Errorf("plugin %s %s needs a host matching %q, this host is %s: install a version of the plugin made for host %s, or upgrade the host",
				mf.ID, mf.Version, mf.Host, m.hostVersion, m.hostVersion)
		}
	}
	return nil
}

func intersects(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func maxInt(xs []int) int {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

// formatMajors writes [1] as "1", [2 3] as "2-3" and [1 3] as "1, 3".
func formatMajors(vs []int) string {
	if len(vs) == 0 {
		return "none"
	}
	s := append([]int(nil), vs...)
	sort.Ints(s)
	contiguous := true
	for i := 1; i < len(s); i++ {
		contiguous = contiguous && s[i] == s[i-1]+1
	}
	if len(s) > 1 && contiguous {
		return fmt.Sprintf("%d-%d", s[0], s[len(s)-1])
	}
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}

// fingerprint identifies a bundle folder's content cheaply: the bytes of
// plugin.json plus size, modification time and inode of each executable
// it names. Other files (data, flags, logs) do not count.
func fingerprint(dir string) string {
	h := sha256.New()
	data, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		fmt.Fprintf(h, "no manifest: %v", err)
		return hex.EncodeToString(h.Sum(nil))
	}
	h.Write(data)
	var loose struct {
		Executable manifest.Executable `json:"executable"`
	}
	if json.Unmarshal(data, &loose) == nil {
		for _, rel := range loose.Executable.Paths() {
			st, err := os.Stat(filepath.Join(dir, rel))
			if err != nil {
				fmt.Fprintf(h, "\x00%s missing", rel)
				continue
			}
			fmt.Fprintf(h, "\x00%s %d %d %d", rel, st.Size(), st.ModTime().UnixNano(), inode(st))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// watch rescans on file-system events (debounced) and periodically.
func (m *Manager) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.log.Warn("cannot watch the plugin directory; relying on the periodic rescan", "dir", m.cfg.Dir, "error", err, "interval", m.cfg.RescanInterval)
	}
	var events chan fsnotify.Event
	var errs chan error
	watched := map[string]bool{}
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
		m.syncWatches(w, watched)
		// Catch what changed between Start's scan and the watch.
		m.scan()
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	ticker := time.NewTicker(m.cfg.RescanInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			m.log.Trace("plugin directory event", "event", ev.String())
			debounce.Reset(m.cfg.Debounce)
			continue
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			m.log.Warn("plugin directory watch error; the periodic rescan covers it", "error", err)
			continue
		case <-m.kick:
		case <-debounce.C:
		case <-ticker.C:
		}
		m.scan()
		if w != nil {
			m.syncWatches(w, watched)
		}
	}
}

// syncWatches watches the plugin directory and each bundle folder in it
// (fsnotify is not recursive), adding and dropping folders as they come
// and go.
func (m *Manager) syncWatches(w *fsnotify.Watcher, watched map[string]bool) {
	want := map[string]bool{}
	if _, err := os.Stat(m.cfg.Dir); err == nil {
		want[m.cfg.Dir] = true
		entries, _ := os.ReadDir(m.cfg.Dir)
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				want[filepath.Join(m.cfg.Dir, e.Name())] = true
			}
		}
	}
	for dir := range watched {
		if !want[dir] {
			_ = w.Remove(dir) // fails when the folder is already gone
			delete(watched, dir)
		}
	}
	for dir := range want {
		if watched[dir] {
			continue
		}
		if err := w.Add(dir); err != nil {
			m.log.Debug("cannot watch folder", "dir", dir, "error", err)
			continue
		}
		watched[dir] = true
	}
}
