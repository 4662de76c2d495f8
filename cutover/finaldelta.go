package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

// EventFinalDelta is the history event of a final delta (and of blue's writers resumed).
const EventFinalDelta = "final-delta"

// FinalDeltaRecord is the final delta in the journal.
type FinalDeltaRecord struct {
	Time       time.Time `json:"time"`
	Namespaces []string  `json:"namespaces"`
	Backup     string    `json:"backup,omitempty"`
	Restore    string    `json:"restore,omitempty"`
	// Window is how long writes on blue were stopped (volumes.Result.Window).
	Window Duration `json:"window"`
	// ScaledBlue are blue's workloads scaled to zero; rollback gives them their replicas
	// back. BlueResumed says that happened.
	ScaledBlue  []ScaledWorkload `json:"scaledBlue,omitempty"`
	BlueResumed bool             `json:"blueResumed,omitempty"`
	Error       string           `json:"error,omitempty"`
}

// blueStopped reports whether blue's writers are scaled to zero by a final delta.
func (s *State) blueStopped() bool {
	return s.FinalDelta != nil && len(s.FinalDelta.ScaledBlue) > 0 && !s.FinalDelta.BlueResumed
}

// FinalDeltaFunc moves the volumes once more (volumes.FinalDelta with the options of the
// recorded move), calling stop to stop writes on blue.
type FinalDeltaFunc func(ctx context.Context, stop volumes.StopWrites) (*volumes.Result, error)

// FinalDeltaOptions configure FinalDeltaHook.
type FinalDeltaOptions struct {
	Workspace   *state.Workspace
	Blue, Green kubernetes.Interface
	// Namespaces are the migrated namespaces (volumes.Result.Namespaces).
	Namespaces []string
	Run        FinalDeltaFunc
	// PollInterval while waiting for pods to stop (default 1s).
	PollInterval time.Duration
	Log          *slog.Logger
	Progress     func(string)
}

// FinalDeltaHook returns an Options.BeforeLastStep that runs the final delta: green's
// Deployments and StatefulSets mounting claims are scaled to zero (the delta replaces
// green's claims), then Run stops writes on blue by scaling blue's Deployments and
// StatefulSets in the namespaces to zero (their replicas kept in AnnotationScaledFrom) and
// waiting for their pods to stop, backs up and restores; green's workloads get their
// replicas back. On failure blue's replicas are restored too and the error carries Run's
// (Velero's) reasons; the engine then rolls traffic back. Scaling blue is a write to blue,
// made only here, as an explicit cutover step. The journal keeps the record, the
// workspace the volumes.Result (volumes.SaveFinalDelta).
func FinalDeltaHook(o FinalDeltaOptions) func(ctx context.Context) error {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return func(ctx context.Context) error {
		if err := startFinalDelta(o.Workspace, o.Namespaces); err != nil {
			return err
		}
		blueOpts := ScaleOptions{Cluster: "blue", Namespaces: o.Namespaces}
		greenOpts := ScaleOptions{Cluster: "green", Namespaces: o.Namespaces, OnlyWithClaims: true}
		blueBack := false
		resumeBlue := func(ctx context.Context) error {
			if blueBack {
				return nil
			}
			resumed, err := ResumeScaled(ctx, o.Blue, blueOpts)
			if err != nil {
				return err
			}
			blueBack = true
			o.Progress(fmt.Sprintf("blue: %d workload(s) scaled back", len(resumed)))
			return markBlueResumed(o.Workspace, "blue's replicas restored: "+describe(resumed))
		}
		green, err := ScaleDown(ctx, o.Green, greenOpts)
		if err == nil {
			o.Progress(fmt.Sprintf("green: %d workload(s) mounting claims scaled to zero for the final delta", len(green)))
			err = WaitPodsGone(ctx, o.Green, green, o.PollInterval)
		}
		var res *volumes.Result
		if err == nil {
			res, err = o.Run(ctx, func(ctx context.Context) (func(context.Context) error, error) {
				scaled, err := ScaleDown(ctx, o.Blue, blueOpts)
				rerr := recordFinalDelta(o.Workspace, "blue scaled to zero: "+describe(scaled), func(r *FinalDeltaRecord) { r.ScaledBlue = scaled })
				if err = errors.Join(err, rerr); err != nil {
					return nil, err
				}
				o.Progress(fmt.Sprintf("blue: %d workload(s) scaled to zero: %s", len(scaled), describe(scaled)))
				return resumeBlue, WaitPodsGone(ctx, o.Blue, scaled, o.PollInterval)
			})
		}
		if err != nil {
			// volumes.FinalDelta resumes blue when it got as far as stopping it; this covers
			// a failure before or during the stop. ResumeScaled is idempotent.
			if rerr := resumeBlue(context.WithoutCancel(ctx)); rerr != nil {
				err = fmt.Errorf("%w; giving blue's workloads their replicas back also failed: %v (run `phoenix rollback`)", err, rerr)
			}
		}
		if resumed, gerr := ResumeScaled(context.WithoutCancel(ctx), o.Green, greenOpts); gerr != nil {
			err = errors.Join(err, fmt.Errorf("giving green's workloads their replicas back: %w", gerr))
		} else if len(resumed) > 0 {
			o.Progress(fmt.Sprintf("green: %d workload(s) scaled back", len(resumed)))
		}
		if res != nil {
			if serr := volumes.SaveFinalDelta(o.Workspace, res); serr != nil {
				o.Log.Warn("saving the final delta result", "err", serr)
			}
		}
		detail := outcome(res, err)
		rerr := recordFinalDelta(o.Workspace, detail, func(r *FinalDeltaRecord) {
			if res != nil {
				r.Backup, r.Restore, r.Window = res.Backup, res.Restore, Duration(res.Window)
			}
			if err != nil {
				r.Error = err.Error()
			}
		})
		if err != nil {
			return fmt.Errorf("final delta: %w", err)
		}
		return rerr
	}
}

// outcome is the journal line of a final delta.
func outcome(res *volumes.Result, err error) string {
	var parts []string
	if err != nil {
		parts = append(parts, "failed")
	}
	if res != nil && res.Backup != "" {
		parts = append(parts, fmt.Sprintf("backup %s, restore %s: writes on blue stopped for %s", res.Backup, dashed(res.Restore), res.Window.Round(time.Millisecond)))
	}
	if err != nil {
		parts = append(parts, err.Error())
	}
	if len(parts) == 0 {
		return "done: no claims to move"
	}
	return strings.Join(parts, ": ")
}

func dashed(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// beforeLastStep runs Options.BeforeLastStep before the last step's weights are set; a
// failure rolls traffic back to blue.
func beforeLastStep(ctx context.Context, o Options, step int) (*Result, error) {
	if o.BeforeLastStep == nil || len(o.Plan.Steps) == 0 || step != o.Plan.Steps[len(o.Plan.Steps)-1] {
		return nil, nil
	}
	// A resumed cutover whose traffic already reached the last step must not move the
	// volumes again: green has taken writes since, and a delta would replace them.
	if w, err := o.Router.Weights(ctx); err == nil && w.Green >= step {
		o.Log.Info("traffic already at the last step: no final delta", "weights", w.String())
		return nil, nil
	}
	o.Log.Info("before the last step", "step", step)
	if err := o.BeforeLastStep(ctx); err != nil {
		return autoRollback(ctx, o, fmt.Sprintf("before step %d%%: %v", step, err))
	}
	return nil, checkNotRolledBack(o)
}

// ResumeScaledFunc is a RollbackOptions.ResumeBlue over blue's clientset.
func ResumeScaledFunc(blue kubernetes.Interface) func(ctx context.Context, namespaces []string) error {
	return func(ctx context.Context, namespaces []string) error {
		_, err := ResumeScaled(ctx, blue, ScaleOptions{Cluster: "blue", Namespaces: namespaces})
		return err
	}
}

// resumeBlueWriters gives blue's workloads their replicas back when the journal says a
// final delta scaled them to zero. It returns a note for the rollback's reason.
func resumeBlueWriters(ctx context.Context, o RollbackOptions, st *State) (string, error) {
	if !st.blueStopped() {
		return "", nil
	}
	if o.ResumeBlue == nil {
		return "; blue's workloads scaled to zero by the final delta were not scaled back (no blue cluster): run `phoenix rollback` again with blue registered", nil
	}
	if err := o.ResumeBlue(ctx, st.FinalDelta.Namespaces); err != nil {
		return "", fmt.Errorf("giving blue's workloads their replicas back failed: %w", err)
	}
	if err := markBlueResumed(o.Workspace, "blue's replicas restored: "+describe(st.FinalDelta.ScaledBlue)); err != nil {
		return "", err
	}
	return fmt.Sprintf("; blue's %d workload(s) scaled to zero by the final delta were given their replicas back", len(st.FinalDelta.ScaledBlue)), nil
}

// startFinalDelta starts a new final delta record in the journal.
func startFinalDelta(ws *state.Workspace, namespaces []string) error {
	_, err := updateState(ws, func(s *State) (*State, error) {
		if s == nil {
			return nil, errors.New("no cutover journal to record the final delta in")
		}
		s.FinalDelta = &FinalDeltaRecord{Time: time.Now().UTC(), Namespaces: namespaces}
		s.record(Event{Kind: EventFinalDelta, Detail: "started: namespaces " + strings.Join(namespaces, ", ")})
		return s, nil
	})
	return err
}

// recordFinalDelta updates the journal's final delta record; a non-empty detail adds an
// event.
func recordFinalDelta(ws *state.Workspace, detail string, fn func(*FinalDeltaRecord)) error {
	_, err := updateState(ws, func(s *State) (*State, error) {
		if s == nil || s.FinalDelta == nil {
			return nil, errors.New("no final delta in the cutover journal")
		}
		fn(s.FinalDelta)
		if detail != "" {
			s.record(Event{Kind: EventFinalDelta, Detail: detail})
		}
		return s, nil
	})
	return err
}

func markBlueResumed(ws *state.Workspace, detail string) error {
	return recordFinalDelta(ws, detail, func(r *FinalDeltaRecord) { r.BlueResumed = true })
}

func describe(ws []ScaledWorkload) string {
	if len(ws) == 0 {
		return "none"
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %s/%s=%d", w.Kind, w.Namespace, w.Name, w.Replicas)
	}
	return strings.Join(parts, ", ")
}
