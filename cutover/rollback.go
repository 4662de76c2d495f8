package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// RollbackOptions of a rollback.
type RollbackOptions struct {
	Workspace *state.Workspace
	// Router is built from the journal's RouterConfig unless the caller overrides it.
	Router Router
	// Workloads reverses the CronJob and Job swap recorded in the journal; nil skips it
	// (and keeps the record, so a later rollback can still reverse it).
	Workloads Workloads
	Reason    string
	Log       *slog.Logger
	// ResumeBlue gives blue's Deployments and StatefulSets in the namespaces the replicas a
	// final delta took away, from their AnnotationScaledFrom (ResumeScaledFunc). It runs
	// before traffic moves, whenever the journal names namespaces (a final delta's, or the
	// migration's), whether or not the journal recorded a scale-down: a crash between
	// scaling blue and journaling it leaves only the annotations. nil skips it (with a
	// notice in the reason when a final delta stopped blue).
	ResumeBlue func(ctx context.Context, namespaces []string) error
	// WaitBlueReady returns once blue's Deployments and StatefulSets in the namespaces are
	// ready, or an error saying which is not (WaitReadyFunc); it is bounded by
	// ReadyTimeout. Traffic moves back only once it returned nil, unless Force. nil skips
	// the wait (with a notice).
	WaitBlueReady func(ctx context.Context, namespaces []string) error
	// ResumeGreen gives green's claim users a final delta stopped their replicas back, once
	// traffic is at blue (a rollback in the middle of a delta leaves them at zero
	// otherwise). nil leaves them, with a notice.
	ResumeGreen func(ctx context.Context, namespaces []string) error
	// ReadyTimeout bounds WaitBlueReady (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Force moves traffic to blue even when blue could not be restored or is not ready.
	Force bool
}

// DefaultReadyTimeout bounds a rollback's wait for blue's workloads.
const DefaultReadyTimeout = 5 * time.Minute

// ErrBlueNotReady is wrapped by Rollback's error when blue could not be restored or did
// not become ready in time, and traffic was kept where it serves.
var ErrBlueNotReady = errors.New("blue is not ready")

// Rollback points all traffic at blue, then reverses the CronJob and Job swap. First it
// marks the journal RollingBack (a cutover running in another shell stops before its next
// router change), gives blue's workloads their replicas back and waits until they are
// ready; when blue cannot be restored, traffic stays where it is and the error wraps
// ErrBlueNotReady (the journal stays RollingBack: rerun to finish). It is an error
// (wrapping ErrNothingToRollBack) when no cutover was recorded, or when the last one was
// rolled back already and the router shows blue at 100%.
func Rollback(ctx context.Context, o RollbackOptions) (*Result, error) {
	return rollback(ctx, o, false)
}

func rollback(ctx context.Context, o RollbackOptions, auto bool) (res *Result, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	st, err := LoadState(o.Workspace)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%w: no cutover recorded in %s (start one with `phoenix cutover`)", ErrNothingToRollBack, StatePath(o.Workspace))
	}
	before, err := o.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading weights from %s: %w", o.Router.Describe(), err)
	}
	greenStopped := st.FinalDelta != nil && len(st.FinalDelta.ScaledGreen) > 0 && !st.FinalDelta.GreenResumed
	if !auto && before.Green == 0 && len(st.Workloads) == 0 && !st.blueStopped() && !greenStopped && (st.Phase == PhaseRolledBack || st.Phase == PhaseCompleted) {
		return nil, fmt.Errorf("%w: traffic is already at blue 100%% (cutover %s, last change %s)", ErrNothingToRollBack, st.Phase, st.Updated.Format(time.RFC3339))
	}
	reason := o.Reason
	if reason == "" {
		reason = "manual rollback"
	}
	// 1. The journal says RollingBack before anything moves: a running cutover stops.
	if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.Phase, s.Reason = PhaseRollingBack, reason
		s.begin(PendingRollback, &AllBlue)
		s.record(Event{Kind: EventRollbackBegin, Effective: &before, Detail: reason})
		return s, nil
	}); err != nil {
		return nil, err
	}
	// 2. Blue's workloads back, and ready.
	st, err = LoadState(o.Workspace)
	if err != nil {
		return nil, err
	}
	note, blueErr := restoreBlue(ctx, o, st)
	reason += note
	if blueErr != nil {
		if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
			s.record(Event{Kind: EventBlueReady, Effective: &before, Detail: blueErr.Error()})
			return s, nil
		}); err != nil {
			return nil, err
		}
		if !o.Force && before != AllBlue {
			return nil, fmt.Errorf("%w: %v; traffic stays at %s, where it serves (the journal says RollingBack): fix blue and run `phoenix rollback` again, or `phoenix rollback --force` to move traffic anyway", ErrBlueNotReady, blueErr, before)
		}
		defer func() {
			if err == nil {
				res, err = nil, fmt.Errorf("traffic is back at blue 100%% but %w: %v (run `phoenix rollback` again)", ErrBlueNotReady, blueErr)
			}
		}()
	}
	// 3. Traffic back, as one journaled transition (see applyWeights).
	var after Weights
	var took time.Duration
	st, err = withJournal(o.Workspace, func(s *State, save func() error) error {
		start := time.Now()
		if err := o.Router.SetWeights(ctx, AllBlue.Blue, AllBlue.Green); err != nil {
			return fmt.Errorf("pointing traffic back at blue via %s: %w (the journal says RollingBack: run `phoenix rollback` again)", o.Router.Describe(), err)
		}
		took = time.Since(start)
		w, err := o.Router.Weights(ctx)
		if err != nil {
			return fmt.Errorf("traffic was set to blue 100%% but reading it back failed: %w", err)
		}
		after = w
		detail := fmt.Sprintf("%s (router answered in %s", reason, took.Round(time.Millisecond))
		if b := o.Router.RollbackBound(); b > 0 {
			detail += fmt.Sprintf("; clients may keep green's answer for up to %s", b)
		}
		detail += ")"
		// The phase stays RollingBack until green's workloads and the CronJob swap are
		// handed back too: a rollback killed in between is finished by the next one.
		s.Reason, s.Weights, s.Pending = reason, after, nil
		s.record(Event{Kind: EventRollback, Requested: &AllBlue, Effective: &after, Detail: detail})
		return save()
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("rolled back", "weights", after.String(), "took", took)
	if f := st.FinalDelta; f != nil && len(f.ScaledGreen) > 0 && !f.GreenResumed {
		switch {
		case o.ResumeGreen == nil:
			reason += "; green's claim users stopped by the final delta were left at zero (no green cluster registered)"
		default:
			if err := o.ResumeGreen(ctx, f.Namespaces); err != nil {
				return nil, fmt.Errorf("traffic is back at blue 100%% but giving green's workloads their replicas back failed: %w (run `phoenix rollback` again)", err)
			}
			if err := recordFinalDelta(o.Workspace, "green's replicas restored after the rollback", func(r *FinalDeltaRecord) { r.GreenResumed = true }); err != nil {
				return nil, err
			}
			if st, err = LoadState(o.Workspace); err != nil {
				return nil, err
			}
		}
	}
	if len(st.Workloads) == 0 {
		return rolledBack(o, reason, after)
	}
	if o.Workloads == nil {
		return rolledBack(o, reason+"; CronJobs and Jobs not swapped back (no clusters): run `phoenix rollback` again with blue and green registered", after)
	}
	revertErr := o.Workloads.Revert(ctx, st.Workloads)
	_, err = updateState(o.Workspace, func(s *State) (*State, error) {
		if revertErr != nil {
			s.record(Event{Kind: EventJobs, Detail: "reverting the CronJob/Job swap failed: " + revertErr.Error()})
			return s, nil
		}
		s.record(Event{Kind: EventJobs, Detail: fmt.Sprintf("reverted %d suspend flag(s): green's work suspended, blue's resumed", len(s.Workloads))})
		s.Workloads = nil
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if revertErr != nil {
		return nil, fmt.Errorf("traffic is back at blue 100%% but reverting the CronJob/Job swap failed: %w (run `phoenix rollback` again)", revertErr)
	}
	return rolledBack(o, reason, after)
}

// rolledBack ends a rollback: the journal says RolledBack.
func rolledBack(o RollbackOptions, reason string, after Weights) (*Result, error) {
	st, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.Phase = PhaseRolledBack
		s.Updated = time.Now().UTC()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return &Result{Outcome: OutcomeRolledBack, Reason: reason, Weights: after, State: st}, nil
}

// restoreBlue gives blue's workloads their replicas back (from their annotations) and
// waits, bounded, until they are ready. It returns a note for the rollback's reason and
// an error when blue is not ready.
func restoreBlue(ctx context.Context, o RollbackOptions, st *State) (string, error) {
	ns := st.Namespaces
	if st.FinalDelta != nil {
		ns = union(st.FinalDelta.Namespaces, ns)
	}
	if len(ns) == 0 {
		return "", nil
	}
	var note string
	if o.ResumeBlue == nil {
		if st.blueStopped() {
			return "", errors.New("blue's workloads scaled to zero by the final delta cannot be scaled back: no blue cluster registered (register it with `phoenix clusters add --role blue`)")
		}
	} else {
		if err := o.ResumeBlue(ctx, ns); err != nil {
			return "", fmt.Errorf("giving blue's workloads their replicas back failed: %w", err)
		}
		if st.FinalDelta != nil && !st.FinalDelta.BlueResumed {
			if err := markBlueResumed(o.Workspace, "blue's replicas restored (from their "+AnnotationScaledFrom+" annotations): "+describe(st.FinalDelta.ScaledBlue)); err != nil {
				return "", err
			}
			note = fmt.Sprintf("; blue's workload(s) scaled to zero by the final delta were given their replicas back (%d journaled)", len(st.FinalDelta.ScaledBlue))
		}
	}
	if o.WaitBlueReady == nil {
		return note + "; blue's readiness not checked (no blue cluster registered)", nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	err := o.WaitBlueReady(wctx, ns)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		return note, fmt.Errorf("blue's workloads in %s not ready after %s: %w", strings.Join(ns, ", "), took, err)
	}
	if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.record(Event{Kind: EventBlueReady, Detail: fmt.Sprintf("blue's workloads in %s ready after %s", strings.Join(ns, ", "), took)})
		return s, nil
	}); err != nil {
		return note, err
	}
	return note + fmt.Sprintf("; blue ready after %s", took), nil
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Report is where a migration stands, for `phoenix status`.
type Report struct {
	Clusters   []state.Cluster  `json:"clusters"`
	Migrations []MigrationEntry `json:"migrations"`
	Verify     *VerifyRecord    `json:"verify,omitempty"`
	Cutover    *State           `json:"cutover,omitempty"`
	// Live are the weights the router applies now; LiveError says why they are missing.
	Live      *Weights `json:"live,omitempty"`
	LiveError string   `json:"liveError,omitempty"`
	Router    string   `json:"router,omitempty"`
}

// Status gathers what the workspace records and, when router is not nil, asks it for
// the live weights.
func Status(ctx context.Context, ws *state.Workspace, router Router) (*Report, error) {
	r := &Report{}
	var err error
	if r.Clusters, err = ws.Clusters(); err != nil {
		return nil, err
	}
	if r.Migrations, err = Migrations(ws); err != nil {
		return nil, err
	}
	if r.Verify, err = LoadVerify(ws); err != nil {
		return nil, err
	}
	if r.Cutover, err = LoadState(ws); err != nil {
		return nil, err
	}
	if router != nil {
		r.Router = router.Describe()
		w, err := router.Weights(ctx)
		if err != nil {
			r.LiveError = err.Error()
		} else {
			r.Live = &w
		}
	}
	return r, nil
}
