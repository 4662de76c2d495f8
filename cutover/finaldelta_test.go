package cutover

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBeforeLastStepRunsOnceJustBeforeTheLastStep(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	var at []Weights
	o.BeforeLastStep = func(ctx context.Context) error {
		w, _ := r.Weights(ctx)
		at = append(at, w)
		return nil
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if len(at) != 1 || at[0] != (Weights{50, 50}) {
		t.Errorf("hook ran at %v, want once at blue 50%% / green 50%% (the step before the last)", at)
	}
}

func TestFailingBeforeLastStepRollsBackAndResumesBlue(t *testing.T) {
	t.Parallel()
	ws := newWS(t, true, true)
	r := &memRouter{w: AllBlue}
	o := opts(ws, r, &scriptGate{})
	o.BeforeLastStep = func(ctx context.Context) error {
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
	o.BeforeLastStep = func(context.Context) error {
		if err := startFinalDelta(ws, []string{"payments"}); err != nil {
			return err
		}
		return recordFinalDelta(ws, "", func(f *FinalDeltaRecord) {
			f.ScaledBlue = []ScaledWorkload{{Cluster: "blue", Kind: "StatefulSet", Namespace: "payments", Name: "db", Replicas: 2}}
		})
	}
	r.w = AllBlue
	if res, err := Run(context.Background(), o); err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	calls := 0
	ro := RollbackOptions{Workspace: ws, Router: r, ResumeBlue: func(context.Context, []string) error { calls++; return errors.New("apiserver down") }}
	if _, err := Rollback(context.Background(), ro); err == nil || !strings.Contains(err.Error(), "apiserver down") {
		t.Fatalf("Rollback with a failing resume = %v, want its error", err)
	}
	if r.w != AllBlue {
		t.Errorf("traffic %v: a failed resume must not hold the rollback back", r.w)
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
	if _, err := updateState(ws, func(*State) (*State, error) { return &State{Phase: PhaseRunning, Plan: o.Plan}, nil }); err != nil {
		t.Fatal(err)
	}
	calls := 0
	o.BeforeLastStep = func(context.Context) error { calls++; return nil }
	res, err := Run(context.Background(), o)
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("resumed Run = %+v, %v", res, err)
	}
	if calls != 0 {
		t.Errorf("hook ran %d time(s) on a resume with green already at 100%%: a delta now would replace green's newer data", calls)
	}
}
