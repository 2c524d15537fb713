package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// proc is one plugin process (one generation, one start of it).
type proc struct {
	gen     int
	bundle  *manifest.Bundle
	client  *plugin.Client
	cmd     *exec.Cmd
	rpc     *sdk.Client
	desc    *sdk.Description
	pid     int
	started time.Time

	// inflight counts calls made through handles, so a generation that is
	// replaced or removed can finish them before it stops.
	inflight sync.WaitGroup

	// dead is closed when the process exited or stopped answering health
	// checks; deathErr says which.
	dead     chan struct{}
	deathErr error
	// quit stops the watch goroutine when the process is stopped on purpose.
	quit     chan struct{}
	quitOnce sync.Once

	mu         sync.Mutex
	configured map[string]int64 // instance id → revision configured in this process
}

// refusal is a start failure that retrying the same bundle cannot fix.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refused(format string, args ...any) error { return &refusal{msg: fmt.Sprintf(format, args...)} }

// launch starts a process of bundle b and brings it to serving: handshake,
// Describe checked against the manifest, instances configured, one health
// check answered. Every step is bounded by StartTimeout; on any failure the
// process is killed.
func (s *supervisor) launch(ctx context.Context, b *manifest.Bundle, gen int) (*proc, error) {
	m := s.m
	cfg := m.cfg
	rel, _ := b.Manifest.Executable.For(manifest.Platform())
	sum, err := hex.DecodeString(b.Manifest.SHA256[rel])
	if err != nil || len(sum) != sha256.Size {
		return nil, refused("sha256 of %s in plugin.json is not a hex SHA-256: run 'puod plugins checksum %s'", rel, b.Dir)
	}
	cmd := exec.Command(b.Executable)
	cmd.Dir = b.Dir
	cmd.SysProcAttr = sysProcAttr()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.ClientPluginSets(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// Checked again at every start: the file may have changed since
		// the bundle was verified.
		SecureConfig: &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		Cmd:          cmd,
		// The manager kills its plugins itself (Close, Pdeathsig).
		Managed:      false,
		StartTimeout: cfg.StartTimeout,
		Logger:       s.log,
		// Raw stderr (hclog JSON lines, panics) goes to the tail; go-plugin
		// also logs each line into Logger, tagged with the plugin id.
		Stderr: newLineWriter(s.tail.addStderr),
		// What the plugin writes to os.Stdout/os.Stderr after Serve comes
		// through go-plugin's stdio stream.
		SyncStdout: newLineWriter(s.outputLine("stdout")),
		SyncStderr: newLineWriter(s.outputLine("stderr")),
	})
	started := time.Now()
	if _, err := client.Start(); err != nil {
		client.Kill() // reaps and waits for the last stderr lines
		return nil, s.startError(b, err)
	}
	p := &proc{
		gen: gen, bundle: b, client: client, cmd: cmd, pid: cmd.Process.Pid, started: started,
		dead: make(chan struct{}), quit: make(chan struct{}), configured: map[string]int64{},
	}
	m.track(p, true)
	s.tail.addHost(fmt.Sprintf("started %s %s (generation %d), pid %d", b.Manifest.ID, b.Manifest.Version, gen, p.pid))

	// Connecting, Describe or Configure can hang on a broken plugin, and
	// go-plugin's connect does not take a context: a timer kills the
	// process, which unblocks all of them.
	watchdog := time.AfterFunc(cfg.StartTimeout, func() { _ = cmd.Process.Kill() })
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	fail := func(err error) (*proc, error) {
		watchdog.Stop()
		p.stop(0)
		m.track(p, false)
		return nil, err
	}
	rpcClient, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("connect to plugin: %w", err))
	}
	raw, err := rpcClient.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense plugin: %w", err))
	}
	rpc, ok := raw.(*sdk.Client)
	if !ok {
		return fail(refused("plugin dispensed %T, not the PUOD client: rebuild it with the PUOD SDK", raw))
	}
	p.rpc = rpc
	dctx, dcancel := withCallDeadline(ctx, cfg.CallTimeout)
	var host sdk.HostServices
	if m.hostServices != nil {
		host = m.hostServices(s.id)
	}
	desc, err := rpc.Describe(dctx, sdk.DescribeOptions{HostVersion: cfg.HostVersion, Host: host})
	dcancel()
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if err := checkDescription(b, desc, client.NegotiatedVersion()); err != nil {
		return fail(err)
	}
	p.desc = desc
	for _, ic := range m.instancesOf(s.id) {
		if err := s.configure(ctx, p, ic); err != nil {
			// One bad source must not keep the plugin from serving the
			// others; the call that needs it reports the error.
			s.log.Warn("configure instance", "instance", ic.ID, "error", err)
		}
	}
	hctx, hcancel := context.WithTimeout(ctx, cfg.HealthTimeout)
	_, err = rpc.CheckHealth(hctx, "")
	hcancel()
	if err != nil {
		return fail(fmt.Errorf("first health check: %w", err))
	}
	if !watchdog.Stop() {
		return fail(fmt.Errorf("plugin did not get ready within %s", cfg.StartTimeout))
	}
	go s.watchProc(p)
	return p, nil
}

// startError explains why client.Start failed, with the plugin's last
// output (a crash at start usually says why on stderr).
func (s *supervisor) startError(b *manifest.Bundle, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return refused("checksum mismatch for %s: the file differs from the sha256 in plugin.json; if you rebuilt the plugin run 'puod plugins checksum %s', otherwise the file was altered: do not run it", filepath.Base(b.Executable), b.Dir)
	case strings.Contains(msg, "Incompatible API version"):
		return refused("%s: the plugin's protocol does not match its plugin.json \"protocol\" %v; rebuild the plugin against an SDK speaking %s and fix plugin.json",
			strings.ReplaceAll(msg, "\n", " "), b.Manifest.Protocol, formatMajors(s.m.protocols))
	}
	if last := s.tail.lastStderr(); last != "" {
		msg += " (last output: " + last + ")"
	}
	return fmt.Errorf("start %s: %s", b.Executable, msg)
}

// watchProc notices the death of a process: it exited, or missed
// HealthMisses health checks in a row (then it is killed here).
func (s *supervisor) watchProc(p *proc) {
	cfg := s.m.cfg
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	health := time.NewTicker(cfg.HealthInterval)
	defer health.Stop()
	misses := 0
	for {
		select {
		case <-p.quit:
			return
		case <-poll.C:
			if p.client.Exited() {
				p.die(errors.New("plugin process exited unexpectedly"))
				return
			}
		case <-health.C:
			ctx, cancel := context.WithTimeout(context.Background(), cfg.HealthTimeout)
			start := time.Now()
			_, err := p.rpc.CheckHealth(ctx, "")
			cancel()
			s.m.metrics.observe(s.id, "HealthProbe", start, err)
			if err == nil {
				misses = 0
				continue
			}
			if p.client.Exited() {
				continue // reported by the poll
			}
			misses++
			s.log.Warn("health check failed", "pid", p.pid, "misses", misses, "error", err)
			if misses >= cfg.HealthMisses {
				p.hardKill()
				p.die(fmt.Errorf("plugin missed %d health checks in a row (last: %v); killed", misses, err))
				return
			}
		}
	}
}

func (p *proc) die(err error) {
	p.deathErr = err
	close(p.dead)
}

// stop ends the process: go-plugin asks it to exit, and it is killed when
// it has not within grace (0: at once). Bounded even when the plugin hangs,
// since go-plugin's graceful shutdown waits for the plugin without a
// deadline.
func (p *proc) stop(grace time.Duration) {
	p.quitOnce.Do(func() { close(p.quit) })
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
		}
	}
	p.hardKill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// The pipes are still held open (by a grandchild, say): the
		// process is dead, stop waiting for go-plugin's readers.
	}
}

func (p *proc) hardKill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

// drain waits for the calls in flight, at most timeout.
func (p *proc) drain(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		p.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (p *proc) configuredRevision(id string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rev, ok := p.configured[id]
	return rev, ok
}

func (p *proc) setConfigured(id string, rev int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.configured[id] = rev
	} else {
		delete(p.configured, id)
	}
}

// withCallDeadline bounds ctx by d unless it already ends sooner.
func withCallDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
