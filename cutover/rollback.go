package cutover

import (
	"context"
	"fmt"
	"log/slog"
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
	// final delta took away (ResumeScaledFunc); it runs, before traffic moves, only when the
	// journal says blue is still scaled down. nil leaves them (with a notice in the reason).
	ResumeBlue func(ctx context.Context, namespaces []string) error
}

// Rollback points all traffic at blue at once, then reverses the CronJob and Job swap.
// It does not wait for a running cutover: that one notices the journal and stops. It is
// an error (wrapping ErrNothingToRollBack) when no cutover was recorded, or when the
// last one was rolled back already and the router shows blue at 100%.
func Rollback(ctx context.Context, o RollbackOptions) (*Result, error) {
	return rollback(ctx, o, false)
}

func rollback(ctx context.Context, o RollbackOptions, auto bool) (res *Result, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
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
	if !auto && before.Green == 0 && len(st.Workloads) == 0 && !st.blueStopped() && (st.Phase == PhaseRolledBack || st.Phase == PhaseCompleted) {
		return nil, fmt.Errorf("%w: traffic is already at blue 100%% (cutover %s, last change %s)", ErrNothingToRollBack, st.Phase, st.Updated.Format(time.RFC3339))
	}
	resumeNote, resumeErr := resumeBlueWriters(ctx, o, st)
	start := time.Now()
	if err := o.Router.SetWeights(ctx, AllBlue.Blue, AllBlue.Green); err != nil {
		return nil, fmt.Errorf("pointing traffic back at blue via %s: %w", o.Router.Describe(), err)
	}
	took := time.Since(start)
	after, err := o.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("traffic was set to blue 100%% but reading it back failed: %w", err)
	}
	reason := o.Reason
	if reason == "" {
		reason = "manual rollback"
	}
	reason += resumeNote
	if resumeErr != nil {
		defer func() {
			if err == nil {
				res, err = nil, fmt.Errorf("traffic is back at blue 100%% but %w (run `phoenix rollback` again)", resumeErr)
			}
		}()
	}
	detail := fmt.Sprintf("%s (router answered in %s", reason, took.Round(time.Millisecond))
	if b := o.Router.RollbackBound(); b > 0 {
		detail += fmt.Sprintf("; clients may keep green's answer for up to %s", b)
	}
	detail += ")"
	st, err = updateState(o.Workspace, func(s *State) (*State, error) {
		s.Phase, s.Reason, s.Weights = PhaseRolledBack, reason, after
		s.record(Event{Kind: EventRollback, Requested: &AllBlue, Effective: &after, Detail: detail})
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("rolled back", "weights", after.String(), "took", took)
	if len(st.Workloads) == 0 {
		return &Result{Outcome: OutcomeRolledBack, Reason: reason, Weights: after, State: st}, nil
	}
	if o.Workloads == nil {
		return &Result{Outcome: OutcomeRolledBack, Reason: reason + "; CronJobs and Jobs not swapped back (no clusters): run `phoenix rollback` again with blue and green registered", Weights: after, State: st}, nil
	}
	revertErr := o.Workloads.Revert(ctx, st.Workloads)
	st, err = updateState(o.Workspace, func(s *State) (*State, error) {
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
	return &Result{Outcome: OutcomeRolledBack, Reason: reason, Weights: after, State: st}, nil
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
