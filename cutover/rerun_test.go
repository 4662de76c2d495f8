package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// countingWorkloads records the swap's calls; its changes are bookkeeping only.
type countingWorkloads struct {
	mu                      sync.Mutex
	plans, applies, reverts int
}

func (w *countingWorkloads) Plan(context.Context) ([]WorkloadChange, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.plans++
	f := false
	return []WorkloadChange{{Cluster: "blue", Kind: "CronJob", Namespace: "payments", Name: "report", Before: &f, After: true}}, nil
}
func (w *countingWorkloads) Apply(context.Context, []WorkloadChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applies++
	return nil
}
func (w *countingWorkloads) Revert(context.Context, []WorkloadChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reverts++
	return nil
}

func TestARerunOfACompletedCutoverChangesNothingAndSaysSo(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	wl := &countingWorkloads{}
	o := opts(ws, r, &scriptGate{})
	o.Workloads = wl
	deltas := 0
	o.FinalDelta = func(ctx context.Context, switchTraffic func(context.Context) error) error {
		deltas++
		return switchTraffic(ctx)
	}
	o.Plan.DiscardGreenWrites = true
	if res, err := Run(context.Background(), o); err != nil || res.Outcome != OutcomeCompleted || res.Unchanged {
		t.Fatalf("first run = %+v, %v", res, err)
	}
	sets, plans, applies := len(r.sets), wl.plans, wl.applies
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCompleted || !res.Unchanged || !strings.Contains(res.Reason, "nothing changed") || res.Weights != (Weights{0, 100}) {
		t.Errorf("rerun = %+v, want Completed, unchanged, saying so", res)
	}
	if len(r.sets) != sets || wl.plans != plans || wl.applies != applies || deltas != 1 {
		t.Errorf("rerun changed things: weights set %v (was %d), swap planned %d/%d applied %d/%d, final delta %d time(s)",
			r.sets, sets, wl.plans, plans, wl.applies, applies, deltas)
	}
	st, _ := LoadState(ws)
	if st.Phase != PhaseCompleted || st.History[len(st.History)-1].Kind != EventNoop {
		t.Errorf("journal phase %s, last event %s; want Completed and a noop event", st.Phase, st.History[len(st.History)-1].Kind)
	}

	// A router moved by hand since: still nothing changes, and the error says why.
	r.w = Weights{50, 50}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "now sends blue 50% / green 50%") {
		t.Errorf("rerun with a moved router = %v, want an error naming the weights", err)
	}
	if len(r.sets) != sets {
		t.Errorf("weights set %v", r.sets)
	}

	// After a rollback a rerun cuts over again (the e2e scenario does this).
	r.w = Weights{0, 100}
	if _, err := Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r, Workloads: wl}); err != nil {
		t.Fatal(err)
	}
	if res, err := Run(context.Background(), o); err != nil || res.Outcome != OutcomeCompleted || res.Unchanged || r.w != (Weights{0, 100}) {
		t.Errorf("cutover after a rollback = %+v, %v; router %v", res, err, r.w)
	}
}

func TestEveryStepIsJournaledBeforeAndAfterItsRouterChange(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	var seen []string
	r.onSet = func(w Weights) {
		st, _ := LoadState(ws)
		p := "none"
		if st.Pending != nil && st.Pending.Requested != nil {
			p = st.Pending.Kind + " " + st.Pending.Requested.String()
		}
		seen = append(seen, fmt.Sprintf("%d:%s", w.Green, p))
	}
	if _, err := Run(context.Background(), opts(ws, r, &scriptGate{})); err != nil {
		t.Fatal(err)
	}
	want := "10:weights blue 90% / green 10%,50:weights blue 50% / green 50%,100:weights blue 0% / green 100%"
	if got := strings.Join(seen, ","); got != want {
		t.Errorf("journal's pending change when the router was told: %s; want %s", got, want)
	}
	st, _ := LoadState(ws)
	if st.Pending != nil {
		t.Errorf("pending %+v left after the cutover completed", st.Pending)
	}
}

func TestAResumeAfterACrashMidStepReadsTheRouterAndFinishes(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	// A crash right after the router took step 50, before the journal recorded it.
	boom := errors.New("killed")
	r.onSet = func(w Weights) {
		if w.Green == 50 {
			r.readFail = boom
		}
	}
	if _, err := Run(context.Background(), o); !errors.Is(err, boom) {
		t.Fatalf("run = %v, want the simulated crash", err)
	}
	r.onSet, r.readFail = nil, nil
	st, _ := LoadState(ws)
	if st.Phase != PhaseRunning || st.Pending == nil || *st.Pending.Requested != (Weights{50, 50}) || st.Weights != (Weights{90, 10}) {
		t.Fatalf("journal after the crash: phase %s pending %+v weights %v", st.Phase, st.Pending, st.Weights)
	}
	res, err := Run(context.Background(), o)
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("resume = %+v, %v", res, err)
	}
	st, _ = LoadState(ws)
	var resume string
	for _, e := range st.History {
		if e.Kind == EventResume {
			resume = e.Detail
		}
	}
	if !strings.Contains(resume, "interrupted during weights (blue 50% / green 50% requested, router at blue 50% / green 50%)") {
		t.Errorf("resume event %q does not say what was interrupted", resume)
	}
}

func TestACutoverWithoutGatesRefusesUnlessNoGatesAndForceDoesNotOverrideIt(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r)
	o.NoGates, o.Force = false, true
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no gate would be measured") || !strings.Contains(err.Error(), "--no-gates") {
		t.Fatalf("run without gates = %v", err)
	}
	if len(r.sets) != 0 {
		t.Fatalf("weights changed: %v", r.sets)
	}
	o.NoGates = true
	if res, err := Run(context.Background(), o); err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("with NoGates: %+v, %v", res, err)
	}
}

func TestPreflightSortsFindingsIntoMandatoryAndSkippable(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	type setup struct {
		migrations []string // ids, the last is the latest
		meta       []string // namespaces of the latest migration
		verify     *VerifyRecord
	}
	migs := []string{"m-1", "m-2"}
	for _, tc := range []struct {
		name                string
		s                   setup
		o                   PreflightOptions
		mandatory, skipable []string
	}{
		{"a fresh passed verify of the latest migration", setup{migs, []string{"payments"}, &VerifyRecord{Passed: true, Time: now, Migration: "m-2", Namespaces: []string{"payments"}}},
			PreflightOptions{Gates: 1}, nil, nil},
		{"an old verify", setup{migs, nil, &VerifyRecord{Passed: true, Time: now.Add(-20 * time.Minute), Migration: "m-2"}},
			PreflightOptions{Gates: 1}, nil, []string{"older than --max-verify-age 15m0s"}},
		{"an old verify within a longer max age", setup{migs, nil, &VerifyRecord{Passed: true, Time: now.Add(-20 * time.Minute), Migration: "m-2"}},
			PreflightOptions{Gates: 1, MaxVerifyAge: time.Hour}, nil, nil},
		{"a verify of an earlier migration", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-1"}},
			PreflightOptions{Gates: 1}, nil, []string{"for migration m-1, not the latest one (m-2)"}},
		{"a verify of a migration this workspace does not hold", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-9"}},
			PreflightOptions{Gates: 1}, []string{"m-9, which this workspace does not hold"}, nil},
		{"a verify missing a namespace", setup{migs, []string{"payments", "ledger"}, &VerifyRecord{Passed: true, Time: now, Migration: "m-2", Namespaces: []string{"payments"}}},
			PreflightOptions{Gates: 1}, nil, []string{"does not cover namespace(s) ledger of migration m-2"}},
		{"no gates", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-2"}},
			PreflightOptions{}, []string{"no gate would be measured"}, nil},
		{"no gates accepted", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-2"}},
			PreflightOptions{NoGates: true}, nil, nil},
		{"a final delta after split steps", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-2"}},
			PreflightOptions{Gates: 1, Plan: Plan{Steps: []int{10, 100}, FinalDelta: true}}, []string{"pass --discard-green-writes"}, nil},
		{"a final delta after split steps, green's writes discarded knowingly", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-2"}},
			PreflightOptions{Gates: 1, Plan: Plan{Steps: []int{10, 100}, FinalDelta: true, DiscardGreenWrites: true}}, nil, nil},
		{"a final delta in one step", setup{migs, nil, &VerifyRecord{Passed: true, Time: now, Migration: "m-2"}},
			PreflightOptions{Gates: 1, Plan: Plan{Steps: []int{100}, FinalDelta: true}}, nil, nil},
		{"nothing recorded", setup{}, PreflightOptions{Gates: 1}, nil, []string{"no migration recorded", "verify has not run"}},
		{"a failed verify", setup{migs, nil, &VerifyRecord{Passed: false, Time: now, Migration: "m-2"}},
			PreflightOptions{Gates: 1}, nil, []string{"did not pass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws, err := state.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.s.migrations {
				meta := map[string]any{"id": id, "namespaces": tc.s.meta, "status": "done"}
				if err := state.WriteJSONAtomic(ws.Path("migrations", id, "migration.json"), meta, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := state.WriteFileAtomic(ws.Path("migrations", "latest"), []byte(id+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.s.verify != nil {
				if err := state.WriteJSONAtomic(VerifyPath(ws), tc.s.verify, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pf, _, err := Preflight(ws, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			check := func(kind string, got []error, want []string) {
				if len(got) != len(want) {
					t.Errorf("%s: %v, want %d matching %q", kind, got, len(want), want)
					return
				}
				for i := range want {
					if !strings.Contains(got[i].Error(), want[i]) {
						t.Errorf("%s[%d] = %q, want it to say %q", kind, i, got[i], want[i])
					}
				}
			}
			check("mandatory", pf.Mandatory, tc.mandatory)
			check("skippable", pf.Skippable, tc.skipable)
			// --force overrides exactly the skippable ones.
			if err := pf.Err(true); (err != nil) != (len(tc.mandatory) > 0) {
				t.Errorf("with --force: %v; mandatory %v", err, pf.Mandatory)
			}
			if err := pf.Err(false); (err != nil) != !pf.Empty() {
				t.Errorf("without --force: %v", err)
			}
		})
	}
}

// The race of issue 12: a rollback sets blue 100% while a step's weights are on their way
// to the router; the rollback reads the step's weights back and records RolledBack. The
// cutover must never leave the router at the step's weights.
func TestARollbackRacingAStepNeverLeavesTrafficAtTheStepsWeights(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	o.Plan.Interval = Duration(20 * time.Millisecond)
	stepSet50, runDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.onSet = func(w Weights) {
		if w == AllBlue {
			// the rollback's change is in the router; hold the rollback until the cutover
			// has tried its next step (or given up)
			select {
			case <-stepSet50:
			case <-runDone:
			}
		}
	}
	var rbErr error
	var wg sync.WaitGroup
	o.Notify = func(n Notice) {
		switch {
		case n.Kind == "step-set" && n.Step == 10:
			once.Do(func() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, rbErr = Rollback(context.Background(), RollbackOptions{Workspace: ws, Router: r})
				}()
			})
		case n.Kind == "step-set" && n.Step == 50:
			close(stepSet50)
		}
	}
	_, err := Run(context.Background(), o)
	close(runDone)
	wg.Wait()
	if rbErr != nil {
		t.Fatal(rbErr)
	}
	if !errors.Is(err, errRolledBackElsewhere) {
		t.Errorf("run = %v, want it stopped by the rollback", err)
	}
	got, _ := r.Weights(context.Background())
	st, _ := LoadState(ws)
	if got != AllBlue || st.Phase != PhaseRolledBack || st.Weights != AllBlue {
		t.Errorf("router at %v, journal %s at %v; want blue 100%% on both (router changes %v)", got, st.Phase, st.Weights, r.sets)
	}
}
