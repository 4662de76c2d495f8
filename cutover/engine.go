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
	// Force starts despite the skippable preflight errors and records them; it does not
	// override the mandatory ones (PreflightErrors).
	Force bool
	// NoGates accepts a cutover without any gate (it advances on time alone).
	NoGates bool
	// MaxVerifyAge is the oldest verify report a cutover starts from (default
	// DefaultMaxVerifyAge).
	MaxVerifyAge time.Duration
	Log          *slog.Logger
	// FinalDelta, when set, runs the last step (FinalDeltaHook): it stops green's claim
	// users, calls switchTraffic (which sets the last step's weights and waits until blue's
	// in-flight requests drained) and then moves the volume data; an error rolls traffic
	// back to blue.
	FinalDelta func(ctx context.Context, switchTraffic func(context.Context) error) error
	// ResumeBlue, WaitBlueReady and ReadyTimeout are used by an automatic rollback (see
	// RollbackOptions).
	ResumeBlue    func(ctx context.Context, namespaces []string) error
	ResumeGreen   func(ctx context.Context, namespaces []string) error
	WaitBlueReady func(ctx context.Context, namespaces []string) error
	ReadyTimeout  time.Duration
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
	// Unchanged says the run changed nothing: the cutover had completed already.
	Unchanged bool   `json:"unchanged,omitempty"`
	State     *State `json:"state"`
}

// ErrNothingToRollBack is wrapped by Rollback's error when no traffic went to green.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// Run starts a cutover, or resumes the one in the journal, and drives it to green 100%,
// an automatic rollback (a gate failed) or a pause (gates inconclusive). A failing
// router returns an error with the journal left in PhaseRunning, to be resumed.
//
// Run is safe to rerun at any point: every side effect is journaled before it starts
// (State.Pending) and after its outcome, the router's weights are read as the truth on a
// resume, a completed cutover is left as it is (Result.Unchanged), and an unfinished
// rollback must be finished by Rollback first.
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

	stored, err := LoadState(o.Workspace)
	if err != nil {
		return nil, err
	}
	if stored != nil && stored.Phase == PhaseRollingBack {
		return nil, fmt.Errorf("a rollback started at %s has not finished (%s): run `phoenix rollback` to finish it before cutting over again", stored.Pending.since(stored.Updated).Format(time.RFC3339), stored.Reason)
	}
	if stored != nil && stored.Phase == PhaseCompleted {
		current, err := o.Router.Weights(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading weights from %s: %w", o.Router.Describe(), err)
		}
		return completedAlready(o, stored, current)
	}
	resume := stored != nil && (stored.Phase == PhaseRunning || stored.Phase == PhasePaused)
	plan := o.Plan
	plan.FinalDelta = plan.FinalDelta || o.FinalDelta != nil
	pf, latest, err := Preflight(o.Workspace, PreflightOptions{Plan: plan, Gates: len(o.Gates), NoGates: o.NoGates, MaxVerifyAge: o.MaxVerifyAge})
	if err != nil {
		return nil, err
	}
	if resume {
		// The skippable findings were judged when the cutover started.
		pf.Skippable = nil
	}
	if err := pf.Err(o.Force); err != nil {
		return nil, err
	}
	current, err := o.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading weights from %s: %w", o.Router.Describe(), err)
	}
	_, err = updateState(o.Workspace, func(s *State) (*State, error) {
		now := time.Now().UTC()
		if resume {
			detail := "from " + s.Phase
			if p := s.Pending; p != nil {
				detail += fmt.Sprintf("; interrupted during %s", p.Kind)
				if p.Requested != nil {
					detail += fmt.Sprintf(" (%s requested, router at %s)", p.Requested, current)
				}
			}
			s.record(Event{Time: now, Kind: EventResume, Effective: &current, Detail: detail})
		} else {
			var hist []Event
			var swapped []WorkloadChange
			if s != nil {
				// A CronJob swap no rollback reversed (no clusters then) stays on record.
				hist, swapped = s.History, s.Workloads
			}
			s = &State{Started: now, History: hist, Workloads: swapped}
			if latest != nil {
				s.Migration, s.Namespaces = latest.ID, latest.Namespaces
			}
			s.record(Event{Time: now, Kind: EventStart, Effective: &current, Detail: fmt.Sprintf("steps %v every %s via %s", o.Plan.Steps, time.Duration(o.Plan.Interval), o.Router.Describe())})
		}
		s.Phase, s.Reason, s.Router, s.Plan, s.Weights, s.Pending = PhaseRunning, "", o.RouterConfig, o.Plan, current, nil
		if o.Force && len(pf.Skippable) > 0 {
			s.Forced = append(s.Forced, pf.Strings()...)
			s.record(Event{Time: now, Kind: EventForce, Detail: strings.Join(pf.Strings(), "; ")})
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("cutover", "resume", resume, "weights", current.String(), "router", o.Router.Describe())

	for i, step := range o.Plan.Steps {
		if resume && step < current.Green {
			continue
		}
		res, err := runStep(ctx, o, step, i == len(o.Plan.Steps)-1)
		if err != nil || res != nil {
			return res, err
		}
	}
	return finish(ctx, o)
}

// completedAlready answers a rerun of a completed cutover: nothing changes. When the
// router no longer sends green everything, that is said, and still nothing changes.
func completedAlready(o Options, st *State, current Weights) (*Result, error) {
	if current != st.Weights {
		return nil, fmt.Errorf("the cutover completed at %s, but %s now sends %s (the journal recorded %s): nothing was changed; `phoenix rollback` and then `phoenix cutover` cut over again", st.Updated.Format(time.RFC3339), o.Router.Describe(), current, st.Weights)
	}
	reason := fmt.Sprintf("the cutover completed at %s: nothing changed (weights, replicas and CronJobs are as they were; `phoenix rollback` first to cut over again)", st.Updated.Format(time.RFC3339))
	st, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.record(Event{Kind: EventNoop, Effective: &current, Detail: "rerun of a completed cutover: nothing changed"})
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("cutover already completed", "weights", current.String())
	return &Result{Outcome: OutcomeCompleted, Reason: reason, Weights: current, Unchanged: true, State: st}, nil
}

// runStep applies one step and watches its interval. It returns a result when the
// cutover ends here (rollback, pause).
func runStep(ctx context.Context, o Options, step int, last bool) (*Result, error) {
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
	var eff Weights
	if last && o.FinalDelta != nil {
		w, res, err := finalDeltaStep(ctx, o, step)
		if res != nil || err != nil {
			return res, err
		}
		eff = w
	} else {
		w, err := applyWeights(ctx, o, step)
		if err != nil {
			return nil, err
		}
		eff = w
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

// applyWeights sets a step's weights as one journaled transition, under the journal lock
// that a rollback takes for its own weight change: the step is refused once a rollback
// has begun, and a rollback's change can never be overtaken by a step that started before
// it. The step is journaled (Pending, step-begin) before the router is told and again
// (step) with the weights read back.
func applyWeights(ctx context.Context, o Options, step int) (Weights, error) {
	want := Weights{Blue: 100 - step, Green: step}
	var eff Weights
	_, err := withJournal(o.Workspace, func(s *State, save func() error) error {
		if s == nil {
			return errors.New("no cutover journal")
		}
		if s.Phase == PhaseRollingBack || s.Phase == PhaseRolledBack {
			return errRolledBackElsewhere
		}
		s.begin(PendingWeights, &want)
		s.record(Event{Kind: EventStepBegin, Requested: &want, Effective: &s.Weights})
		if err := save(); err != nil {
			return err
		}
		if err := o.Router.SetWeights(ctx, want.Blue, want.Green); err != nil {
			s.Pending = nil
			s.record(Event{Kind: EventStep, Requested: &want, Effective: &s.Weights, Detail: "failed: " + err.Error()})
			if serr := save(); serr != nil {
				o.Log.Warn("journaling a failed step", "err", serr)
			}
			return fmt.Errorf("step %d%%: %w (the weights were left as they were; rerun `phoenix cutover` to resume or `phoenix rollback`)", step, err)
		}
		w, err := o.Router.Weights(ctx)
		if err != nil {
			// Pending stays: the journal cannot say what the router applies.
			return fmt.Errorf("step %d%%: reading weights back: %w", step, err)
		}
		eff = w
		s.Weights, s.Pending = w, nil
		s.record(Event{Kind: EventStep, Requested: &want, Effective: &w})
		return save()
	})
	return eff, err
}

var errRolledBackElsewhere = errors.New("the cutover was rolled back from another shell: it stops here and leaves the traffic to the rollback")

func checkNotRolledBack(o Options) error {
	s, err := LoadState(o.Workspace)
	if err != nil {
		return err
	}
	if s != nil && (s.Phase == PhaseRolledBack || s.Phase == PhaseRollingBack) {
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

// finish swaps the scheduled work and marks the cutover completed. The changes are
// planned and journaled before the first patch, so that a rollback after a crash in the
// middle reverses all of them (reverting a change that was not made is a no-op).
func finish(ctx context.Context, o Options) (*Result, error) {
	var swapErr error
	detail := "skipped: no clusters to swap CronJobs and Jobs on"
	if o.Workloads != nil {
		planned, err := o.Workloads.Plan(ctx)
		if err != nil {
			return nil, fmt.Errorf("traffic is at green 100%% but planning the CronJob and Job swap failed: %w (rerun `phoenix cutover` to retry, or `phoenix rollback`)", err)
		}
		if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
			s.begin(PendingJobs, nil)
			s.Workloads = append(s.Workloads, planned...)
			s.record(Event{Kind: EventJobsBegin, Detail: fmt.Sprintf("%d suspend flag(s) to change", len(planned))})
			return s, nil
		}); err != nil {
			return nil, err
		}
		swapErr = o.Workloads.Apply(ctx, planned)
		detail = fmt.Sprintf("%d suspend flag(s) changed", len(planned))
		if swapErr != nil {
			detail = "changing suspend flags failed: " + swapErr.Error()
		}
	}
	st, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.record(Event{Kind: EventJobs, Detail: detail})
		if swapErr == nil {
			s.Phase, s.Pending = PhaseCompleted, nil
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
		Workspace: o.Workspace, Router: o.Router, Workloads: o.Workloads, Reason: "automatic: " + reason, Log: o.Log,
		ResumeBlue: o.ResumeBlue, ResumeGreen: o.ResumeGreen, WaitBlueReady: o.WaitBlueReady, ReadyTimeout: o.ReadyTimeout,
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
