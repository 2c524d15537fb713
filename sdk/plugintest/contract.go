package plugintest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/puod/puod/sdk"
)

// Scenario is one way the contract checker's simulated host answers the
// batches it receives. The probabilities are per batch; success is the
// rest.
type Scenario struct {
	Name string
	// Transient is the probability of a transient failure: the host
	// aborts the stream (its transaction failed) and polls again from the
	// last committed cursor.
	Transient float64
	// Crash is the probability of a crash: the host loses the stream and
	// the plugin its instance (removed and configured again, as after a
	// process restart), then polls again from the last committed cursor.
	Crash float64
}

// DefaultScenarios are the contract checker's scenarios when none are
// given, after OpenTelemetry's receivertest: always succeed, transient
// failures, crashes, and both.
var DefaultScenarios = []Scenario{
	{Name: "always_succeed"},
	{Name: "transient_errors", Transient: 0.4},
	{Name: "crashes", Crash: 0.4},
	{Name: "mixed", Transient: 0.3, Crash: 0.3},
}

// ContractParams configures CheckConsumeContract.
type ContractParams struct {
	// Seed makes the random answers reproducible; a failure message names
	// it. 0 means 1.
	Seed uint64
	// Scenarios to run, each as a subtest (default DefaultScenarios).
	Scenarios []Scenario
	// MaxPolls bounds the polls of one scenario (default: 20 plus 10 per
	// batch of the full sync).
	MaxPolls int
}

// Outcome is what one scenario of the contract checker saw.
type Outcome struct {
	Polls, Batches, Transients, Crashes int
	// Accepted is every run id committed.
	Accepted map[string]bool
}

var (
	errTransient = errors.New("conformance host: simulated transient failure, the batch is not committed")
	errCrash     = errors.New("conformance host: simulated crash, the batch is not committed")
)

// CheckConsumeContract drives the instance like the host's collector
// while the host side fails at random, after OpenTelemetry's receivertest
// contract checker: each batch is committed (its runs stored with its
// cursor), or refused with a transient failure or a crash, after which the
// host polls again from the last committed cursor. At the end the runs
// committed must be exactly the full sync's: none lost, none unknown. A
// run committed again unchanged after a batch that moved the cursor past
// it is reported too: the cursor did not really advance, and every poll
// would carry it again.
func CheckConsumeContract(t testing.TB, in *Instance, full *Sync, p ContractParams) {
	t.Helper()
	seed := p.Seed
	if seed == 0 {
		seed = 1
	}
	scenarios := p.Scenarios
	if len(scenarios) == 0 {
		scenarios = DefaultScenarios
	}
	for i, sc := range scenarios {
		s := seed + uint64(i)
		run(t, sc.Name, func(t testing.TB) {
			ConsumeScenario(t, in, full, sc, s, p.MaxPolls)
		})
	}
}

// ConsumeScenario runs one scenario of CheckConsumeContract.
func ConsumeScenario(t testing.TB, in *Instance, full *Sync, sc Scenario, seed uint64, maxPolls int) Outcome {
	t.Helper()
	if maxPolls <= 0 {
		maxPolls = 20 + 10*len(full.Batches)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type stored struct {
		key       string
		advanced  bool // a committed cursor has moved past it
		committed int  // batch number
	}
	want := full.IDs()
	out := Outcome{Accepted: map[string]bool{}}
	store := map[string]*stored{}
	var behind []string // committed since the cursor last moved
	committed := full.From
	var doubled []string
	var forcedTransient, forcedCrash bool
	where := fmt.Sprintf("scenario %s, seed %d", sc.Name, seed)

	for done := false; !done; {
		if out.Polls == maxPolls {
			t.Fatalf("%s: no poll reached the end in %d polls (cursor %q): the plugin does not make progress from a committed cursor", where, maxPolls, committed)
		}
		out.Polls++
		ctx, cancel := in.context()
		err := in.Client.ListRuns(ctx, in.ID(), committed, in.MaxBatch, func(b sdk.RunBatch) error {
			// The first answers inject each fault the scenario has, so even
			// a sync of few batches meets them; then chance decides.
			switch x := rng.Float64(); {
			case sc.Transient > 0 && !forcedTransient:
				forcedTransient = true
				return errTransient
			case sc.Crash > 0 && !forcedCrash:
				forcedCrash = true
				return errCrash
			case x < sc.Transient:
				return errTransient
			case x < sc.Transient+sc.Crash:
				return errCrash
			}
			for _, r := range b.Runs {
				key := runKey(r)
				if prev, ok := store[r.ExternalID]; ok && prev.advanced && prev.key == key {
					doubled = append(doubled, fmt.Sprintf("%s (committed in batch %d, again in batch %d)", r.ExternalID, prev.committed, out.Batches))
				}
				store[r.ExternalID] = &stored{key: key, committed: out.Batches}
				behind = append(behind, r.ExternalID)
				out.Accepted[r.ExternalID] = true
			}
			if b.NextCursor != committed {
				// The cursor moved past every run committed since it last
				// moved (an oversize batch split by the SDK keeps the old
				// cursor on all its parts but the last).
				for _, id := range behind {
					store[id].advanced = true
				}
				behind = behind[:0]
			}
			in.Transcript.recordRuns("ListRuns", b.Runs)
			committed = b.NextCursor
			out.Batches++
			return nil
		})
		cancel()
		switch {
		case err == nil:
			done = true
		case errors.Is(err, errTransient):
			out.Transients++
		case errors.Is(err, errCrash):
			out.Crashes++
			restart(t, in)
		default:
			in.Transcript.RecordError("ListRuns", err)
			checkTyped(t, "ListRuns", err)
			t.Fatalf("%s: the poll from committed cursor %q failed: %v", where, committed, err)
		}
	}

	if len(doubled) > 0 {
		t.Errorf("%s: %d runs were committed twice unchanged, after a batch whose cursor should have moved past them: %s", where, len(doubled), firstFew(doubled))
	}
	if lost := missing(want, out.Accepted); len(lost) > 0 {
		t.Errorf("%s: runs lost: %v were in the full sync but never committed (%d polls, %d transient failures, %d crashes): a batch's NextCursor must not pass runs that are not in it", where, firstFew(lost), out.Polls, out.Transients, out.Crashes)
	}
	if extra := missing(out.Accepted, want); len(extra) > 0 {
		t.Errorf("%s: runs %v were committed but not in the full sync", where, firstFew(extra))
	}
	t.Logf("%s: %d runs committed in %d batches over %d polls (%d transient failures, %d crashes)", where, len(out.Accepted), out.Batches, out.Polls, out.Transients, out.Crashes)
	return out
}

// restart simulates a plugin process restart: the instance is removed and
// configured again from scratch.
func restart(t testing.TB, in *Instance) {
	t.Helper()
	ctx, cancel := in.context()
	defer cancel()
	if err := in.Client.RemoveInstance(ctx, in.ID()); err != nil {
		t.Fatalf("simulated restart: RemoveInstance failed: %v", err)
	}
	if err := in.Client.Configure(ctx, in.Config); err != nil {
		in.Transcript.RecordError("Configure", err)
		t.Fatalf("simulated restart: Configure failed: %v", err)
	}
}

// run runs fn as a subtest named name: a real subtest when t is a
// *testing.T, and otherwise (a recorder in a test of a check) in its own
// goroutine with the name in front of its messages, so a Fatal ends only
// that step, as it would in a subtest.
func run(t testing.TB, name string, fn func(t testing.TB)) {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Run(name, func(t *testing.T) { fn(t) })
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(&namedTB{TB: t, name: name})
	}()
	<-done
}

// namedTB prefixes a step's name to its messages.
type namedTB struct {
	testing.TB
	name string
}

func (n *namedTB) Name() string { return n.TB.Name() + "/" + n.name }

func (n *namedTB) Errorf(format string, args ...any) {
	n.TB.Helper()
	n.TB.Errorf("%s: %s", n.name, fmt.Sprintf(format, args...))
}

func (n *namedTB) Fatalf(format string, args ...any) {
	n.TB.Helper()
	n.TB.Fatalf("%s: %s", n.name, fmt.Sprintf(format, args...))
}

func (n *namedTB) Error(args ...any) {
	n.TB.Helper()
	n.TB.Errorf("%s: %s", n.name, fmt.Sprint(args...))
}

func (n *namedTB) Fatal(args ...any) {
	n.TB.Helper()
	n.TB.Fatalf("%s: %s", n.name, fmt.Sprint(args...))
}

func (n *namedTB) Logf(format string, args ...any) {
	n.TB.Helper()
	n.TB.Logf("%s: %s", n.name, fmt.Sprintf(format, args...))
}

func (n *namedTB) Log(args ...any) {
	n.TB.Helper()
	n.TB.Logf("%s: %s", n.name, fmt.Sprint(args...))
}
