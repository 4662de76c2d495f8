package cutover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// memRouter is an in-memory Router for the engine's own logic; the real routers are
// tested against real haproxy, BIND and an apiserver in their packages.
type memRouter struct {
	mu   sync.Mutex
	w    Weights
	sets []Weights
	fail error
	// onSet, when set, is called after each change (outside the lock); readFail fails
	// Weights.
	onSet    func(Weights)
	readFail error
}

func (r *memRouter) SetWeights(_ context.Context, blue, green int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	w := Weights{blue, green}
	if err := w.Validate(); err != nil {
		return err
	}
	r.w = w
	r.sets = append(r.sets, w)
	if f := r.onSet; f != nil {
		r.mu.Unlock()
		f(w)
		r.mu.Lock()
	}
	return nil
}
func (r *memRouter) Weights(context.Context) (Weights, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readFail != nil {
		return Weights{}, r.readFail
	}
	return r.w, nil
}
func (r *memRouter) Describe() string             { return "memory" }
func (r *memRouter) RollbackBound() time.Duration { return 0 }

// scriptGate returns the outcomes it is given, then Passed.
type scriptGate struct {
	mu       sync.Mutex
	outcomes []Outcome
	calls    int
}

func (g *scriptGate) Name() string { return "script" }
func (g *scriptGate) Measure(context.Context) Measurement {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if len(g.outcomes) == 0 {
		return Measurement{Outcome: Passed}
	}
	o := g.outcomes[0]
	g.outcomes = g.outcomes[1:]
	return Measurement{Outcome: o, Message: "scripted " + string(o)}
}

func newWS(t *testing.T, migrated, verified bool) *state.Workspace {
	t.Helper()
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if migrated {
		if err := state.WriteJSONAtomic(ws.Path("migrations", "payments", "journal.json"), map[string]any{}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if verified {
		if err := state.WriteJSONAtomic(VerifyPath(ws), VerifyRecord{Passed: true, Time: time.Now()}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

// opts is a fast plan; without gates it says NoGates (the refusal of a cutover without
// gates has its own test).
func opts(ws *state.Workspace, r Router, gates ...Gate) Options {
	g := DefaultGates()
	g.GateInterval = Duration(time.Millisecond)
	return Options{
		Workspace: ws, Router: r, Gates: gates, NoGates: len(gates) == 0,
		RouterConfig: RouterConfig{Kind: RouterHAProxy, HAProxy: &HAProxyConfig{Socket: "/x", Backend: "b", BlueServer: "blue", GreenServer: "green"}},
		Plan:         Plan{Steps: []int{10, 50, 100}, Interval: Duration(3 * time.Millisecond), Gates: g},
	}
}

func TestWeightsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w  Weights
		ok bool
	}{{Weights{100, 0}, true}, {Weights{50, 50}, true}, {Weights{-1, 101}, false}, {Weights{50, 60}, false}, {Weights{0, 0}, false}} {
		err := tc.w.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrOutOfRange)) {
			t.Errorf("%v: got %v, want ok=%v", tc.w, err, tc.ok)
		}
	}
}

func TestPercentRoundsRawWeights(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ b, g, want int }{{256, 0, 0}, {90, 10, 10}, {2, 1, 33}, {0, 7, 100}} {
		w, err := Percent(tc.b, tc.g)
		if err != nil || w.Green != tc.want || w.Blue != 100-tc.want {
			t.Errorf("Percent(%d,%d) = %v, %v; want green %d", tc.b, tc.g, w, err, tc.want)
		}
	}
	if _, err := Percent(0, 0); err == nil {
		t.Error("Percent(0,0) must fail: nothing serves")
	}
}

func TestValidateStepsRejectsBadPlans(t *testing.T) {
	t.Parallel()
	for _, steps := range [][]int{nil, {0, 100}, {50, 10, 100}, {10, 50}, {10, 50, 101}, {10, 10, 100}} {
		if err := ValidateSteps(steps); err == nil {
			t.Errorf("steps %v accepted", steps)
		}
	}
	if err := ValidateSteps([]int{10, 50, 100}); err != nil {
		t.Error(err)
	}
}

func TestRunCompletesAndRecordsEveryStep(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	var seen []int
	o := opts(ws, r, &scriptGate{})
	o.Notify = func(n Notice) {
		if n.Kind == "step-set" {
			seen = append(seen, n.Weights.Green)
		}
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCompleted || res.Weights.Green != 100 {
		t.Fatalf("result %+v", res)
	}
	if fmt.Sprint(seen) != "[10 50 100]" {
		t.Errorf("steps seen %v", seen)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseCompleted || st.Router.HAProxy.Backend != "b" {
		t.Errorf("journal %+v", st)
	}
	steps := 0
	for _, e := range st.History {
		if e.Kind == EventStep {
			steps++
		}
	}
	if steps != 3 {
		t.Errorf("journal has %d step events, want 3", steps)
	}
}

func TestRunRefusesWithoutMigrationOrVerifyUnlessForced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		migrated, verified bool
		want               string
	}{
		{"no migration", false, true, "no migration recorded"},
		{"no verify", true, false, "verify has not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := newWS(t, tc.migrated, tc.verified)
			r := &memRouter{w: AllBlue}
			_, err := Run(context.Background(), opts(ws, r))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if len(r.sets) != 0 {
				t.Fatalf("weights changed: %v", r.sets)
			}
			o := opts(ws, r)
			o.Force = true
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			st, _ := LoadState(ws)
			if len(st.Forced) != 1 || !strings.Contains(st.Forced[0], tc.want) {
				t.Errorf("force not recorded: %v", st.Forced)
			}
		})
	}
}

func TestRunRefusesAFailedVerify(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, false)
	if err := state.WriteJSONAtomic(VerifyPath(ws), VerifyRecord{Passed: false, Time: time.Now()}, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), opts(ws, &memRouter{w: AllBlue}))
	if err == nil || !strings.Contains(err.Error(), "did not pass") {
		t.Fatalf("got %v", err)
	}
}

func TestFailedGateRollsBackToBlue(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	// Pre-step 10 passes, one measurement in step 10 passes, then a failure.
	g := &scriptGate{outcomes: []Outcome{Passed, Passed, Passed, Passed, Failed}}
	res, err := Run(context.Background(), opts(ws, r, g))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeRolledBack || res.Weights != AllBlue || !strings.Contains(res.Reason, "scripted Failed") {
		t.Fatalf("result %+v", res)
	}
	if got, _ := r.Weights(context.Background()); got != AllBlue {
		t.Fatalf("router at %v", got)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseRolledBack {
		t.Errorf("phase %s", st.Phase)
	}
}

func TestInconclusiveGatesPauseAndRerunResumes(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{outcomes: []Outcome{Passed, Inconclusive, Inconclusive, Inconclusive}})
	o.Plan.Interval = Duration(time.Second) // long enough for three measurements
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomePaused || res.Weights.Green != 10 {
		t.Fatalf("result %+v", res)
	}
	o = opts(ws, r, &scriptGate{})
	o.Plan.Steps = []int{10, 50, 100}
	var seen []int
	o.Notify = func(n Notice) {
		if n.Kind == "step-set" {
			seen = append(seen, n.Step)
		}
	}
	res, err = Run(context.Background(), o)
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if len(seen) != 3 || seen[0] != 10 {
		t.Errorf("resume from 10%% should redo 10, then 50 and 100; saw %v", seen)
	}
}

func TestRouterErrorLeavesJournalResumable(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue, fail: errors.New("No such backend.")}
	_, err := Run(context.Background(), opts(ws, r))
	if err == nil || !strings.Contains(err.Error(), "No such backend") {
		t.Fatalf("got %v", err)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseRunning || st.Weights != AllBlue {
		t.Errorf("journal %+v", st)
	}
}

func TestRollbackErrors(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	_, err := Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r})
	if !errors.Is(err, ErrNothingToRollBack) {
		t.Fatalf("no journal: got %v", err)
	}
	if _, err := Run(context.Background(), opts(ws, r)); err != nil {
		t.Fatal(err)
	}
	res, err := Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r})
	if err != nil || res.Weights != AllBlue {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	_, err = Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r})
	if !errors.Is(err, ErrNothingToRollBack) {
		t.Fatalf("second rollback: got %v", err)
	}
}

func TestRollbackFromAnotherShellStopsARunningCutover(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	o.Plan.Interval = Duration(50 * time.Millisecond)
	o.Notify = func(n Notice) {
		if n.Kind == "step-set" && n.Step == 50 {
			if _, err := Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r}); err != nil {
				t.Error(err)
			}
		}
	}
	_, err := Run(context.Background(), o)
	if !errors.Is(err, errRolledBackElsewhere) {
		t.Fatalf("got %v", err)
	}
	if got, _ := r.Weights(context.Background()); got != AllBlue {
		t.Fatalf("router at %v", got)
	}
}

func TestMigrationsMissingDirMeansNone(t *testing.T) {
	t.Parallel()
	ws := newWS(t, false, false)
	m, err := Migrations(ws)
	if err != nil || len(m) != 0 {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := os.Stat(ws.Path("migrations")); !os.IsNotExist(err) {
		t.Fatal("Migrations must not create the directory")
	}
}

func TestMigrationsCountsJournalDirectoriesNotThePointerFile(t *testing.T) {
	t.Parallel()
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(ws.Path("migrations", "m-1", "journal.json"), map[string]any{}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteFileAtomic(ws.Path("migrations", "latest"), []byte("m-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Migrations(ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "m-1" {
		t.Errorf("Migrations = %+v, want just m-1", got)
	}
}
