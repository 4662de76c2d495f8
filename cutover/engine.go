package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Options of a cutover run.
type Options struct {
	Workspace *state.Workspace
	Router    Router
	// RouterConfig is stored in the journal for the next run (and for rollback).
	RouterConfig RouterConfig
	Plan         Plan
	// Gates are measured before each step and every Plan.Gates.GateInterval during it.
	Gates []Gate
	// Workloads swaps CronJobs and Jobs at the last step; nil skips the swap.
	Workloads Workloads
	// Force starts despite the preflight findings (no migration, verify not passed) and
	// records them.
	Force bool
	Log   *slog.Logger
	// BeforeLastStep, when set, runs after the last step's gates passed and before its
	// weights are set (FinalDeltaHook); an error rolls traffic back to blue.
	BeforeLastStep func(ctx context.Context) error
	// ResumeBlue gives blue's writers back their replicas on an automatic rollback when a
	// final delta scaled them to zero (see RollbackOptions.ResumeBlue).
	ResumeBlue func(ctx context.Context, namespaces []string) error
	// Notify, when set, is called synchronously at every step boundary (tests use it to
	// hold a step until they have seen enough traffic).
	Notify func(Notice)
}

// Notice tells Notify where a cutover stands.
type Notice struct {
	// Kind is "step-set" after a step's weights were applied, "step-done" after its
	// interval passed its gates, "rolled-back" after an automatic rollback.
	Kind    string
	Step    int
	Weights Weights
}

// Outcomes of a cutover run.
const (
	OutcomeCompleted  = "Completed"
	OutcomeRolledBack = "RolledBack"
	OutcomePaused     = "Paused"
)

// Result of Run and Rollback.
type Result struct {
	Outcome string  `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	Weights Weights `json:"weights"`
	State   *State  `json:"state"`
}

// ErrNothingToRollBack is wrapped by Rollback's error when no traffic went to green.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// Run starts a cutover, or resumes the one in the journal, and drives it to green 100%,
// an automatic rollback (a gate failed) or a pause (gates inconclusive). A failing
// router returns an error with the journal left in PhaseRunning, to be resumed.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := ValidateSteps(o.Plan.Steps); err != nil {
		return nil, err
	}
	if err := o.RouterConfig.Validate(); err != nil {
		return nil, err
	}
	unlock, err := lockFile(o.Workspace.Path("cutover", "run.lock"), false)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("a cutover is already running from another shell: wait for it, or stop it with `phoenix rollback`")
	}
	if err != nil {
		return nil, err
	}
	defer unlock()

	findings, err := Preflight(o.Workspace)
	if err != nil {
		return nil, err
	}
	if len(findings) > 0 && !o.Force {
		return nil, fmt.Errorf("not starting the cutover:\n  - %s\n(--force starts anyway and records why)", strings.Join(findings, "\n  - "))
	}
	current, err := o.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading weights from %s: %w", o.Router.Describe(), err)
	}
	resume := false
	_, err = updateState(o.Workspace, func(s *State) (*State, error) {
		now := time.Now().UTC()
		if s != nil && (s.Phase == PhaseRunning || s.Phase == PhasePaused) {
			resume = true
			s.record(Event{Time: now, Kind: EventResume, Effective: &current, Detail: "from " + s.Phase})
		} else {
			var hist []Event
			if s != nil {
				hist = s.History
			}
			s = &State{Started: now, History: hist}
			s.record(Event{Time: now, Kind: EventStart, Effective: &current, Detail: fmt.Sprintf("steps %v every %s via %s", o.Plan.Steps, time.Duration(o.Plan.Interval), o.Router.Describe())})
		}
		s.Phase, s.Reason, s.Router, s.Plan, s.Weights = PhaseRunning, "", o.RouterConfig, o.Plan, current
		if o.Force && len(findings) > 0 {
			s.Forced = append(s.Forced, findings...)
			s.record(Event{Time: now, Kind: EventForce, Detail: strings.Join(findings, "; ")})
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("cutover", "resume", resume, "weights", current.String(), "router", o.Router.Describe())

	for _, step := range o.Plan.Steps {
		if resume && step < current.Green {
			continue
		}
		res, err := runStep(ctx, o, step)
		if err != nil || res != nil {
			return res, err
		}
	}
	return finish(ctx, o)
}

// runStep applies one step and watches its interval. It returns a result when the
// cutover ends here (rollback, pause).
func runStep(ctx context.Context, o Options, step int) (*Result, error) {
	a := newAnalysis(o.Plan.Gates)
	// Before the step: a failure at the current weights is reason enough to go back.
	for _, g := range o.Gates {
		m := g.Measure(ctx)
		o.Log.Info("gate before step", "step", step, "gate", g.Name(), "outcome", m.Outcome, "message", m.Message)
		if m.Outcome == Failed {
			return autoRollback(ctx, o, fmt.Sprintf("before step %d%%: gate %s failed: %s", step, g.Name(), m.Message))
		}
	}
	if err := checkNotRolledBack(o); err != nil {
		return nil, err
	}
	if res, err := beforeLastStep(ctx, o, step); res != nil || err != nil {
		return res, err
	}
	want := Weights{Blue: 100 - step, Green: step}
	if err := o.Router.SetWeights(ctx, want.Blue, want.Green); err != nil {
		return nil, fmt.Errorf("step %d%%: %w (the weights were left as they were; rerun `phoenix cutover` to resume or `phoenix rollback`)", step, err)
	}
	eff, err := o.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("step %d%%: reading weights back: %w", step, err)
	}
	if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
		if s.Phase == PhaseRolledBack {
			return nil, errRolledBackElsewhere
		}
		s.Weights = eff
		s.record(Event{Kind: EventStep, Requested: &want, Effective: &eff})
		return s, nil
	}); err != nil {
		if errors.Is(err, errRolledBackElsewhere) {
			// A rollback ran between our check and our write: make sure it holds.
			_ = o.Router.SetWeights(context.WithoutCancel(ctx), AllBlue.Blue, AllBlue.Green)
		}
		return nil, err
	}
	o.Log.Info("step applied", "step", step, "weights", eff.String())
	notify(o, Notice{Kind: "step-set", Step: step, Weights: eff})

	interval := time.Duration(o.Plan.Interval)
	every := time.Duration(o.Plan.Gates.GateInterval)
	if every <= 0 || every > interval {
		every = interval
	}
	deadline := time.Now().Add(interval)
	for {
		wait := min(every, time.Until(deadline))
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("interrupted at step %d%% (traffic stays at %s; rerun `phoenix cutover` to resume or `phoenix rollback`): %w", step, eff, err)
		}
		if err := checkNotRolledBack(o); err != nil {
			return nil, err
		}
		for _, g := range o.Gates {
			m := g.Measure(ctx)
			o.Log.Info("gate", "step", step, "gate", g.Name(), "outcome", m.Outcome, "message", m.Message)
			v, why := a.add(g.Name(), m)
			if m.Outcome != Passed {
				recordGate(o, g.Name(), step, m)
			}
			switch v {
			case rollBack:
				return autoRollback(ctx, o, fmt.Sprintf("at step %d%%: %s", step, why))
			case pause:
				return doPause(o, step, eff, why)
			}
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	notify(o, Notice{Kind: "step-done", Step: step, Weights: eff})
	return nil, nil
}

var errRolledBackElsewhere = errors.New("the cutover was rolled back from another shell: traffic stays at blue 100%")

func checkNotRolledBack(o Options) error {
	s, err := LoadState(o.Workspace)
	if err != nil {
		return err
	}
	if s != nil && s.Phase == PhaseRolledBack {
		return errRolledBackElsewhere
	}
	return nil
}

func recordGate(o Options, gate string, step int, m Measurement) {
	_, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.record(Event{Kind: EventGate, Detail: fmt.Sprintf("step %d%%: %s %s: %s", step, gate, m.Outcome, m.Message)})
		return s, nil
	})
	if err != nil {
		o.Log.Warn("recording gate measurement", "err", err)
	}
}

func doPause(o Options, step int, w Weights, why string) (*Result, error) {
	reason := fmt.Sprintf("paused at step %d%%, holding %s: %s", step, w, why)
	st, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.Phase, s.Reason = PhasePaused, reason
		s.record(Event{Kind: EventPause, Effective: &w, Detail: why})
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return &Result{Outcome: OutcomePaused, Reason: reason + " (rerun `phoenix cutover` to resume, or `phoenix rollback`)", Weights: w, State: st}, nil
}

// finish swaps the scheduled work and marks the cutover completed.
func finish(ctx context.Context, o Options) (*Result, error) {
	var changes []WorkloadChange
	var swapErr error
	detail := "skipped: no clusters to swap CronJobs and Jobs on"
	if o.Workloads != nil {
		changes, swapErr = o.Workloads.Activate(ctx)
		detail = fmt.Sprintf("%d suspend flag(s) changed", len(changes))
		if swapErr != nil {
			detail += ", then: " + swapErr.Error()
		}
	}
	st, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.Workloads = append(s.Workloads, changes...)
		s.record(Event{Kind: EventJobs, Detail: detail})
		if swapErr == nil {
			s.Phase = PhaseCompleted
			s.record(Event{Kind: EventComplete, Effective: &s.Weights})
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if swapErr != nil {
		return nil, fmt.Errorf("traffic is at green 100%% but swapping CronJobs and Jobs failed: %w (rerun `phoenix cutover` to retry, or `phoenix rollback`)", swapErr)
	}
	return &Result{Outcome: OutcomeCompleted, Weights: st.Weights, State: st}, nil
}

func autoRollback(ctx context.Context, o Options, reason string) (*Result, error) {
	o.Log.Warn("gate failed, rolling back", "reason", reason)
	res, err := rollback(context.WithoutCancel(ctx), RollbackOptions{
		Workspace: o.Workspace, Router: o.Router, Workloads: o.Workloads, Reason: "automatic: " + reason, Log: o.Log, ResumeBlue: o.ResumeBlue,
	}, true)
	if err != nil {
		return nil, fmt.Errorf("%s; the automatic rollback failed too: %w", reason, err)
	}
	res.Reason = reason
	notify(o, Notice{Kind: "rolled-back", Weights: res.Weights})
	return res, nil
}

func notify(o Options, n Notice) {
	if o.Notify != nil {
		o.Notify(n)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
