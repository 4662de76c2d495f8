package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFinalDeltaMovesDataOnlyOnceBlueIsAtZeroAndDrained(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	o.Plan.DiscardGreenWrites = true
	var at []Weights
	o.FinalDelta = func(ctx context.Context, switchTraffic func(context.Context) error) error {
		w, _ := r.Weights(ctx)
		at = append(at, w) // green's claim users stop here, while traffic is still split
		if err := switchTraffic(ctx); err != nil {
			return err
		}
		w, _ = r.Weights(ctx)
		at = append(at, w) // blue's writers stop and the data moves here
		return nil
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if fmt.Sprint(at) != fmt.Sprint([]Weights{{50, 50}, {0, 100}}) {
		t.Errorf("hook saw %v, want blue 50%% / green 50%% before the switch and blue 0%% / green 100%% when the data moves", at)
	}
	st, _ := LoadState(ws)
	var kinds []string
	for _, e := range st.History {
		if e.Kind == EventStep || e.Kind == EventStepBegin || e.Kind == EventDrain {
			kinds = append(kinds, e.Kind)
		}
	}
	if strings.Join(kinds, ",") != "step-begin,step,step-begin,step,step-begin,step,drain" {
		t.Errorf("journal %v: want every step begun and done, and the drain after the last", kinds)
	}
}

func TestFailingBeforeLastStepRollsBackAndResumesBlue(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	o.Plan.DiscardGreenWrites = true
	o.FinalDelta = func(ctx context.Context, _ func(context.Context) error) error {
		// what FinalDeltaHook leaves when resuming blue itself failed: blue still scaled down
		if err := startFinalDelta(ws, []string{"payments"}); err != nil {
			return err
		}
		if err := recordFinalDelta(ws, "", func(f *FinalDeltaRecord) {
			f.ScaledBlue = []ScaledWorkload{{Cluster: "blue", Kind: "Deployment", Namespace: "payments", Name: "api", Replicas: 3}}
		}); err != nil {
			return err
		}
		return errors.New("final delta: velero backup phoenix-delta-x on blue ended PartiallyFailed: boom")
	}
	var resumed []string
	o.ResumeBlue = func(_ context.Context, ns []string) error { resumed = ns; return nil }
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeRolledBack || res.Weights != AllBlue {
		t.Fatalf("result %+v, want rolled back to blue 100%%", res)
	}
	if !strings.Contains(res.Reason, "PartiallyFailed: boom") || !strings.Contains(res.Reason, "before step 100%") {
		t.Errorf("reason %q lacks Velero's error and the step", res.Reason)
	}
	for _, w := range r.sets {
		if w.Green == 100 {
			t.Errorf("the last step was set (%v) although the final delta failed", r.sets)
		}
	}
	if strings.Join(resumed, ",") != "payments" {
		t.Errorf("ResumeBlue got namespaces %v, want [payments]", resumed)
	}
	st, _ := LoadState(ws)
	if st.blueStopped() || !strings.Contains(st.Reason, "given their replicas back") {
		t.Errorf("journal: blue stopped %v, reason %q", st.blueStopped(), st.Reason)
	}
}

func TestRollbackResumesBlueScaledByAFinalDelta(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: Weights{0, 100}}
	o := opts(ws, r)
	o.Plan.Steps = []int{100}
	o.FinalDelta = func(ctx context.Context, switchTraffic func(context.Context) error) error {
		if err := startFinalDelta(ws, []string{"payments"}); err != nil {
			return err
		}
		if err := switchTraffic(ctx); err != nil {
			return err
		}
		return recordFinalDelta(ws, "", func(f *FinalDeltaRecord) {
			f.ScaledBlue = []ScaledWorkload{{Cluster: "blue", Kind: "StatefulSet", Namespace: "payments", Name: "db", Replicas: 2}}
			f.Restored = true
		})
	}
	r.w = AllBlue
	if res, err := Run(context.Background(), o); err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	calls := 0
	ro := RollbackOptions{Workspace: ws, Router: r, ResumeBlue: func(context.Context, []string) error { calls++; return errors.New("apiserver down") }}
	if _, err := Rollback(context.Background(), ro); !errors.Is(err, ErrBlueNotReady) || !strings.Contains(err.Error(), "apiserver down") {
		t.Fatalf("Rollback with a failing resume = %v, want ErrBlueNotReady with its error", err)
	}
	// Blue serves nothing (scaled to zero): the traffic stays on green, where it serves.
	if r.w != (Weights{0, 100}) {
		t.Errorf("traffic %v: a rollback that cannot restore blue must keep traffic at green 100%%", r.w)
	}
	if st, _ := LoadState(ws); st.Phase != PhaseRollingBack {
		t.Errorf("journal phase %s, want %s until a rollback finishes", st.Phase, PhaseRollingBack)
	}
	// blue still scaled down: a second rollback is not "nothing to roll back"
	ro.ResumeBlue = func(context.Context, []string) error { calls++; return nil }
	if _, err := Rollback(context.Background(), ro); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	if calls != 2 {
		t.Errorf("ResumeBlue called %d times, want 2", calls)
	}
	if _, err := Rollback(context.Background(), ro); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("third rollback = %v, want nothing to roll back", err)
	}
}

func TestBeforeLastStepIsSkippedWhenTrafficAlreadyReachedTheLastStep(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: Weights{0, 100}}
	o := opts(ws, r, &scriptGate{})
	o.Plan.DiscardGreenWrites = true // accepted, and still nothing is discarded
	if _, err := updateState(ws, func(*State) (*State, error) { return &State{Phase: PhaseRunning, Plan: o.Plan}, nil }); err != nil {
		t.Fatal(err)
	}
	calls := 0
	o.FinalDelta = func(context.Context, func(context.Context) error) error { calls++; return nil }
	res, err := Run(context.Background(), o)
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("resumed Run = %+v, %v", res, err)
	}
	if calls != 0 {
		t.Errorf("hook ran %d time(s) on a resume with green already at 100%%: a delta now would replace green's newer data", calls)
	}
}
