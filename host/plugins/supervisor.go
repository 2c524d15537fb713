package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// supervisor owns one plugin id: its processes, restarts and generations.
// One goroutine (run) makes every lifecycle decision; other goroutines
// only leave it requests (update, remove) and read its state.
type supervisor struct {
	m    *Manager
	id   string
	dir  string
	log  hclog.Logger
	tail *logTail

	wake chan struct{} // a request is waiting

	mu        sync.Mutex
	state     string
	bundle    *manifest.Bundle // bundle of the generation served (or being started)
	gen       int
	cur       *proc // serving process, nil when none takes calls
	servedGen int   // generation that served last
	restarts  int
	lastErr   string
	want      *manifest.Bundle // newer bundle to switch to
	removing  bool
	draining  sync.WaitGroup // old generations still draining
}

func newSupervisor(m *Manager, id, dir string) *supervisor {
	return &supervisor{
		m: m, id: id, dir: dir,
		log:   m.log.Named(id).With("plugin_id", id),
		tail:  newLogTail(logTailLines),
		wake:  make(chan struct{}, 1),
		state: StateStarting,
	}
}

// update asks the supervisor to move to a new bundle of the same plugin.
func (s *supervisor) update(b *manifest.Bundle) {
	s.mu.Lock()
	if s.state == StateRunning && s.bundle != nil && sameBundle(s.bundle, b) {
		// Touched, not changed: nothing to do.
		s.mu.Unlock()
		return
	}
	s.want = b
	s.mu.Unlock()
	s.signal()
}

// remove asks the supervisor to drain, stop and end.
func (s *supervisor) remove() {
	s.mu.Lock()
	s.removing = true
	s.mu.Unlock()
	s.signal()
}

func (s *supervisor) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *supervisor) noteRefusedUpdate(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = "the changed bundle was refused: " + reason
	if s.cur != nil {
		s.lastErr += fmt.Sprintf("; version %s keeps serving", s.cur.bundle.Manifest.Version)
	}
}

// requests returns (and clears) what others asked for.
func (s *supervisor) requests() (next *manifest.Bundle, remove bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, s.want = s.want, nil
	return next, s.removing
}

// run is the supervisor's life: start, serve, restart after crashes with
// backoff, switch generations, and finally stop.
func (s *supervisor) run(ctx context.Context, b *manifest.Bundle) {
	var (
		gen     = 1
		attempt int
		crashes []time.Time
		lastRun time.Duration
	)
	defer s.draining.Wait()
	for {
		if ctx.Err() != nil || s.isRemoving() {
			s.setState(StateStopped, "")
			return
		}
		s.setBundle(b, gen)
		s.setState(StateStarting, "")
		p, err := s.launch(ctx, b, gen)
		if err == nil {
			s.serve(p)
			p, err = s.monitor(ctx, p)
			if p == nil {
				return // stopped
			}
			lastRun = time.Since(p.started)
			// monitor returned a dead process; its generation may have
			// changed while serving.
			s.mu.Lock()
			b, gen = s.bundle, s.gen
			s.mu.Unlock()
		} else {
			lastRun = 0
		}
		if ctx.Err() != nil {
			s.setState(StateStopped, "")
			return
		}
		var ref *refusal
		if errors.As(err, &ref) {
			s.log.Error("plugin refused", "error", err)
			next := s.waitFailed(ctx, err.Error())
			if next == nil {
				return
			}
			b, gen, attempt, crashes = next, gen+1, 0, nil
			continue
		}
		// A crash. A process that served a good while before dying starts
		// over at the shortest delay.
		if lastRun >= s.m.cfg.BackoffMax {
			attempt = 0
		}
		now := time.Now()
		crashes = append(pruneBefore(crashes, now.Add(-s.m.cfg.CrashWindow)), now)
		s.log.Warn("plugin crashed", "error", err, "crashes_in_window", len(crashes))
		if len(crashes) >= s.m.cfg.CrashLimit {
			msg := fmt.Sprintf("crashed %d times within %s, circuit open: fix the plugin and replace its bundle (or restart the host) to try again; last error: %v",
				len(crashes), s.m.cfg.CrashWindow, err)
			next := s.waitFailed(ctx, msg)
			if next == nil {
				return
			}
			b, gen, attempt, crashes = next, gen+1, 0, nil
			continue
		}
		delay := s.m.backoff(attempt)
		attempt++
		s.setState(StateBackoff, err.Error())
		s.tail.addHost(fmt.Sprintf("crashed (%v); restarting in %s", err, delay.Round(time.Millisecond)))
		timer := time.NewTimer(delay)
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				s.setState(StateStopped, "")
				return
			case <-s.wake:
				next, rm := s.requests()
				if rm {
					timer.Stop()
					s.setState(StateStopped, "")
					return
				}
				if next != nil {
					timer.Stop()
					b, gen, attempt, crashes = next, gen+1, 0, nil
					break wait
				}
			case <-timer.C:
				break wait
			}
		}
		if s.isRemoving() {
			s.setState(StateStopped, "")
			return
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		s.m.metrics.restarts.WithLabelValues(s.id).Inc()
	}
}

// monitor serves p until it dies, the supervisor stops, or a new bundle
// comes. A new bundle starts alongside; it takes over once healthy and the
// old generation drains in the background. It returns the dead process
// and why it died, or nil after a stop.
func (s *supervisor) monitor(ctx context.Context, p *proc) (*proc, error) {
	for {
		select {
		case <-ctx.Done():
			s.shutdown(p)
			return nil, nil
		case <-p.dead:
			s.unserve(p)
			s.m.track(p, false)
			p.stop(0) // reap
			return p, p.deathErr
		case <-s.wake:
			next, rm := s.requests()
			if rm {
				s.shutdown(p)
				return nil, nil
			}
			if next == nil {
				continue
			}
			s.mu.Lock()
			gen := s.gen + 1
			s.mu.Unlock()
			s.log.Info("bundle changed: starting the new generation alongside", "generation", gen, "version", next.Manifest.Version)
			np, err := s.launch(ctx, next, gen)
			if err != nil {
				if ctx.Err() != nil {
					s.shutdown(p)
					return nil, nil
				}
				s.log.Error("new generation failed to start; the running one keeps serving", "generation", gen, "error", err)
				s.mu.Lock()
				s.lastErr = fmt.Sprintf("version %s (generation %d) failed to start, version %s keeps serving: %v", next.Manifest.Version, gen, p.bundle.Manifest.Version, err)
				s.mu.Unlock()
				continue
			}
			s.setBundle(next, gen)
			s.serve(np)
			s.tail.addHost(fmt.Sprintf("switched to generation %d; draining generation %d", gen, p.gen))
			old := p
			s.draining.Add(1)
			go func() {
				defer s.draining.Done()
				s.retire(old)
			}()
			p = np
		}
	}
}

// shutdown drains and stops the serving process for good.
func (s *supervisor) shutdown(p *proc) {
	s.unserve(p)
	s.setState(StateDraining, "")
	s.retire(p)
	s.setState(StateStopped, "")
}

// retire drains a process that no longer takes new calls, then stops it.
func (s *supervisor) retire(p *proc) {
	if !p.drain(s.m.cfg.DrainTimeout) {
		s.log.Warn("calls still in flight after the drain timeout; stopping anyway", "pid", p.pid, "generation", p.gen)
	}
	p.stop(2 * time.Second)
	s.m.track(p, false)
	s.tail.addHost(fmt.Sprintf("stopped generation %d, pid %d", p.gen, p.pid))
}

// waitFailed parks the supervisor in state failed until its bundle changes
// (returned) or it is stopped (nil).
func (s *supervisor) waitFailed(ctx context.Context, reason string) *manifest.Bundle {
	s.setState(StateFailed, reason)
	s.tail.addHost("failed: " + reason)
	for {
		select {
		case <-ctx.Done():
			s.setState(StateStopped, reason)
			return nil
		case <-s.wake:
			next, rm := s.requests()
			if rm {
				s.setState(StateStopped, reason)
				return nil
			}
			if next != nil {
				return next
			}
		}
	}
}

func (s *supervisor) isRemoving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removing
}

func (s *supervisor) setBundle(b *manifest.Bundle, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundle, s.gen = b, gen
}

// serve makes p take the calls. The last error stays after a restart (it
// says why the plugin restarted) and goes with a new generation.
func (s *supervisor) serve(p *proc) {
	s.mu.Lock()
	s.cur = p
	if p.gen != s.servedGen {
		s.lastErr = ""
	}
	s.servedGen = p.gen
	s.mu.Unlock()
	// Published even when the state stays running (a new generation).
	s.transition(StateRunning, "", true)
}

func (s *supervisor) unserve(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == p {
		s.cur = nil
	}
}

// setState records a state (and its error, unless empty) and tells the
// subscribers and the metrics.
func (s *supervisor) setState(state, errMsg string) { s.transition(state, errMsg, false) }

func (s *supervisor) transition(state, errMsg string, always bool) {
	s.mu.Lock()
	changed := s.state != state
	s.state = state
	if errMsg != "" {
		s.lastErr = errMsg
	}
	ev := Event{PluginID: s.id, State: state, Generation: s.gen, Error: s.lastErr, Time: time.Now()}
	if s.cur != nil {
		ev.PID = s.cur.pid
	}
	s.mu.Unlock()
	if !changed && errMsg == "" && !always {
		return
	}
	s.m.metrics.setState(s.id, state)
	s.m.events.publish(ev)
	s.log.Debug("plugin state", "state", state, "generation", ev.Generation, "pid", ev.PID)
}

func (s *supervisor) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		ID: s.id, State: s.state, Restarts: s.restarts, LastError: s.lastErr,
		Dir: s.dir, Generation: s.gen, LogTail: s.tail.lines(),
	}
	if s.bundle != nil {
		mf := s.bundle.Manifest
		st.Name, st.Version, st.Kinds, st.Cards, st.Exports = mf.Name, mf.Version, mf.Kinds, mf.Cards, mf.Exports
	}
	if s.cur != nil {
		st.PID, st.StartedAt = s.cur.pid, s.cur.started
	} else if st.State == StateRunning {
		// The process just went away and the supervisor has not decided
		// yet: never report a running plugin without a process.
		st.State = StateBackoff
	}
	return st
}

func (s *supervisor) description() *sdk.Description {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	return s.cur.desc
}

// servingErr says why the plugin takes no calls now (nil: it does).
func (s *supervisor) servingErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return nil
	}
	return s.notServingLocked()
}

func (s *supervisor) notServingLocked() error {
	msg := fmt.Sprintf("plugin %s is %s", s.id, s.state)
	if s.lastErr != "" {
		msg += " (" + s.lastErr + ")"
	}
	return fmt.Errorf("%s: %w", msg, ErrNotRunning)
}

// acquire returns the serving process with one more call in flight.
func (s *supervisor) acquire() (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil, s.notServingLocked()
	}
	s.cur.inflight.Add(1)
	return s.cur, nil
}

// configure configures one instance in process p.
func (s *supervisor) configure(ctx context.Context, p *proc, ic sdk.InstanceConfig) error {
	ctx, cancel := withCallDeadline(ctx, s.m.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	err := p.rpc.Configure(ctx, ic)
	s.m.metrics.observe(s.id, "Configure", start, err)
	if err != nil {
		return fmt.Errorf("configure instance %s of plugin %s: %w", ic.ID, s.id, err)
	}
	p.setConfigured(ic.ID, ic.Revision, true)
	return nil
}

// ensureConfigured configures an instance the manager knows in p when p
// does not hold its current revision yet.
func (s *supervisor) ensureConfigured(ctx context.Context, p *proc, instanceID string) error {
	ic, ok := s.m.instance(s.id, instanceID)
	if !ok {
		return nil // let the plugin answer; the host may call instances it manages itself
	}
	if rev, ok := p.configuredRevision(instanceID); ok && rev == ic.Revision {
		return nil
	}
	return s.configure(ctx, p, ic)
}

func (s *supervisor) removeInstance(instanceID string) {
	p, err := s.acquire()
	if err != nil {
		return // no process holds it
	}
	p.setConfigured(instanceID, 0, false)
	go func() {
		defer p.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.m.cfg.CallTimeout)
		defer cancel()
		if err := p.rpc.RemoveInstance(ctx, instanceID); err != nil {
			s.log.Warn("remove instance", "instance", instanceID, "error", err)
		}
	}()
}

// outputLine handles a line the plugin wrote to os.Stdout or os.Stderr
// after it started serving: kept in the tail and logged.
func (s *supervisor) outputLine(stream string) func(string) {
	return func(line string) {
		s.tail.add(formatTailLine("", "OUT", stream+": "+line))
		s.log.Info("plugin output", "stream", stream, "line", line)
	}
}

func pruneBefore(ts []time.Time, cutoff time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if t.After(cutoff) {
			out = append(out, t)
		}
	}
	return out
}

// sameBundle reports whether two loads of a folder have the same manifest
// and, since Load verified each executable against its sha256, the same
// executable content.
func sameBundle(a, b *manifest.Bundle) bool {
	if a.Executable != b.Executable {
		return false
	}
	ja, err1 := json.Marshal(a.Manifest)
	jb, err2 := json.Marshal(b.Manifest)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
