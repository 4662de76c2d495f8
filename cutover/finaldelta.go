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
	// ScaledGreen are green's claim users scaled to zero for the delta; GreenResumed says
	// they have their replicas back.
	ScaledGreen  []ScaledWorkload `json:"scaledGreen,omitempty"`
	GreenResumed bool             `json:"greenResumed,omitempty"`
	// Switched says traffic was at the last step and blue drained before blue stopped.
	Switched bool `json:"switched,omitempty"`
	// BlueStopping is journaled before blue's writers are scaled to zero, ScaledBlue after:
	// blue's workloads scaled to zero; rollback gives them their replicas back (from the
	// annotations, so also when a crash came between the two). BlueResumed says that
	// happened.
	BlueStopping bool             `json:"blueStopping,omitempty"`
	ScaledBlue   []ScaledWorkload `json:"scaledBlue,omitempty"`
	BlueResumed  bool             `json:"blueResumed,omitempty"`
	// Restored says the restore on green completed: a rerun must not move the data again
	// (green serves and writes from then on).
	Restored bool   `json:"restored,omitempty"`
	Error    string `json:"error,omitempty"`
}

// blueStopped reports whether blue's writers are, or may be, scaled to zero by a final
// delta.
func (s *State) blueStopped() bool {
	f := s.FinalDelta
	return f != nil && (f.BlueStopping || len(f.ScaledBlue) > 0) && !f.BlueResumed
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

// FinalDeltaHook returns an Options.FinalDelta that runs the final delta at the last step,
// each phase journaled before and after it acts:
//
//  1. green's Deployments and StatefulSets mounting claims are scaled to zero (the delta
//     replaces green's claims; nothing must write them from here on);
//  2. switchTraffic: the last step's weights are set (blue 0%) and blue's in-flight
//     requests drain;
//  3. Run stops writes on blue (blue's Deployments and StatefulSets in the namespaces
//     scaled to zero, their replicas kept in AnnotationScaledFrom, their pods gone), backs
//     up and restores;
//  4. the restore is journaled (Restored), then green's workloads get their replicas back.
//
// On failure blue's and green's replicas are restored and the error carries Run's
// (Velero's) reasons; the engine then rolls traffic back. A rerun after a crash repeats
// the delta from the start while the restore is not journaled (green's claim users have
// been stopped all along, so green wrote nothing since), and only finishes step 4 after
// it. Scaling blue is a write to blue, made only here, as an explicit cutover step. The
// journal keeps the record, the workspace the volumes.Result (volumes.SaveFinalDelta).
func FinalDeltaHook(o FinalDeltaOptions) func(ctx context.Context, switchTraffic func(context.Context) error) error {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return func(ctx context.Context, switchTraffic func(context.Context) error) error {
		blueOpts := ScaleOptions{Cluster: "blue", Namespaces: o.Namespaces}
		greenOpts := ScaleOptions{Cluster: "green", Namespaces: o.Namespaces, OnlyWithClaims: true}
		resumeGreen := func(ctx context.Context) error {
			resumed, err := ResumeScaled(ctx, o.Green, greenOpts)
			if err != nil {
				return fmt.Errorf("giving green's workloads their replicas back: %w", err)
			}
			if len(resumed) > 0 {
				o.Progress(fmt.Sprintf("green: %d workload(s) scaled back", len(resumed)))
			}
			return recordFinalDelta(o.Workspace, "green's replicas restored: "+describe(resumed), func(r *FinalDeltaRecord) { r.GreenResumed = true })
		}
		if st, err := LoadState(o.Workspace); err != nil {
			return err
		} else if st != nil && st.FinalDelta != nil && st.FinalDelta.Restored {
			// A rerun after the restore: the data moved; only green's replicas may be left.
			o.Progress("the final delta's restore is journaled: not moving the data again")
			return resumeGreen(ctx)
		}
		if err := startFinalDelta(o.Workspace, o.Namespaces); err != nil {
			return err
		}
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
		if rerr := recordFinalDelta(o.Workspace, "green's claim users scaled to zero: "+describe(green), func(r *FinalDeltaRecord) { r.ScaledGreen = green }); err == nil {
			err = rerr
		}
		if err == nil {
			o.Progress(fmt.Sprintf("green: %d workload(s) mounting claims scaled to zero for the final delta", len(green)))
			err = WaitPodsGone(ctx, o.Green, green, o.PollInterval)
		}
		if err == nil {
			if err = switchTraffic(ctx); err == nil {
				err = recordFinalDelta(o.Workspace, "traffic at the last step and blue drained", func(r *FinalDeltaRecord) { r.Switched = true })
			}
		}
		var res *volumes.Result
		if err == nil {
			res, err = o.Run(ctx, func(ctx context.Context) (func(context.Context) error, error) {
				if err := recordFinalDelta(o.Workspace, "stopping blue's writers", func(r *FinalDeltaRecord) { r.BlueStopping = true }); err != nil {
					return nil, err
				}
				scaled, err := ScaleDown(ctx, o.Blue, blueOpts)
				rerr := recordFinalDelta(o.Workspace, "blue scaled to zero: "+describe(scaled), func(r *FinalDeltaRecord) { r.ScaledBlue = scaled })
				if err = errors.Join(err, rerr); err != nil {
					return nil, err
				}
				o.Progress(fmt.Sprintf("blue: %d workload(s) scaled to zero: %s", len(scaled), describe(scaled)))
				return resumeBlue, WaitPodsGone(ctx, o.Blue, scaled, o.PollInterval)
			})
		}
		if res != nil {
			if serr := volumes.SaveFinalDelta(o.Workspace, res); serr != nil {
				o.Log.Warn("saving the final delta result", "err", serr)
			}
		}
		if err != nil {
			// volumes.FinalDelta resumes blue when it got as far as stopping it; this covers
			// a failure before or during the stop. ResumeScaled is idempotent.
			if rerr := resumeBlue(context.WithoutCancel(ctx)); rerr != nil {
				err = fmt.Errorf("%w; giving blue's workloads their replicas back also failed: %v (run `phoenix rollback`)", err, rerr)
			}
		}
		detail := outcome(res, err)
		rerr := recordFinalDelta(o.Workspace, detail, func(r *FinalDeltaRecord) {
			if res != nil {
				r.Backup, r.Restore, r.Window = res.Backup, res.Restore, Duration(res.Window)
			}
			if err != nil {
				r.Error = err.Error()
			} else {
				r.Restored = true
			}
		})
		if gerr := resumeGreen(context.WithoutCancel(ctx)); gerr != nil {
			err = errors.Join(err, gerr)
		}
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

// finalDeltaStep runs the last step through Options.FinalDelta, which calls back to set
// the weights and drain blue; a failure rolls traffic back to blue. It returns the
// weights the step left.
func finalDeltaStep(ctx context.Context, o Options, step int) (Weights, *Result, error) {
	st, err := LoadState(o.Workspace)
	if err != nil {
		return Weights{}, nil, err
	}
	if st.FinalDelta == nil {
		// Traffic reached the last step without a final delta begun (the flag was added on a
		// resume, or the router was moved by hand): green has served and written since, and
		// a delta now would replace that. Say so, and move nothing.
		if w, err := o.Router.Weights(ctx); err == nil && w.Green >= step {
			o.Log.Warn("traffic already at the last step without a final delta: not moving the volumes (green's writes since would be replaced)", "weights", w.String())
			if _, err := updateState(o.Workspace, func(s *State) (*State, error) {
				s.record(Event{Kind: EventFinalDelta, Effective: &w, Detail: "skipped: traffic reached the last step before a final delta began; moving the volumes now would replace green's writes"})
				return s, nil
			}); err != nil {
				return Weights{}, nil, err
			}
			eff, err := applyWeights(ctx, o, step)
			return eff, nil, err
		}
	}
	var eff Weights
	switched := false
	err = o.FinalDelta(ctx, func(ctx context.Context) error {
		w, err := applyWeights(ctx, o, step)
		if err != nil {
			return err
		}
		eff, switched = w, true
		return drainBlue(ctx, o)
	})
	if errors.Is(err, errRolledBackElsewhere) {
		return Weights{}, nil, err
	}
	if err != nil {
		where := fmt.Sprintf("before step %d%%", step)
		if switched {
			where = fmt.Sprintf("at step %d%%, after the switch", step)
		}
		res, rerr := autoRollback(ctx, o, fmt.Sprintf("%s: %v", where, err))
		return Weights{}, res, rerr
	}
	if !switched {
		// A rerun after the restore: the hook only finished; the weights are set again
		// (a no-op when they are there).
		if eff, err = applyWeights(ctx, o, step); err != nil {
			return Weights{}, nil, err
		}
	}
	return eff, nil, checkNotRolledBack(o)
}

// Drainer is an optional Router capability: how many requests blue is serving now.
// Without it, a final delta waits RollbackBound (the time clients may keep blue's
// address) after the switch.
type Drainer interface {
	BlueInFlight(ctx context.Context) (int, error)
}

// drainBlue waits until blue serves no request any more (blue at 0%), bounded by
// Plan.DrainTimeout, and journals how long it took.
func drainBlue(ctx context.Context, o Options) error {
	limit := time.Duration(o.Plan.DrainTimeout)
	if limit <= 0 {
		limit = DefaultDrainTimeout
	}
	start := time.Now()
	var detail string
	if d, ok := o.Router.(Drainer); ok {
		for {
			n, err := d.BlueInFlight(ctx)
			if err != nil {
				return fmt.Errorf("reading blue's requests in flight from %s: %w", o.Router.Describe(), err)
			}
			if n == 0 {
				break
			}
			if time.Since(start) > limit {
				return fmt.Errorf("blue still serves %d request(s) %s after the switch (--drain-timeout %s): not stopping its writers", n, time.Since(start).Round(time.Millisecond), limit)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		detail = fmt.Sprintf("blue's in-flight requests drained after %s", time.Since(start).Round(time.Millisecond))
	} else {
		wait := min(o.Router.RollbackBound(), limit)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		detail = fmt.Sprintf("waited %s for clients to leave blue (%s cannot count blue's requests)", wait, o.Router.Describe())
	}
	_, err := updateState(o.Workspace, func(s *State) (*State, error) {
		s.record(Event{Kind: EventDrain, Detail: detail})
		return s, nil
	})
	return err
}

// ResumeScaledFunc is a RollbackOptions.ResumeBlue over blue's clientset.
func ResumeScaledFunc(blue kubernetes.Interface) func(ctx context.Context, namespaces []string) error {
	return ResumeScaledOn("blue", blue)
}

// ResumeScaledOn is a RollbackOptions.ResumeBlue or ResumeGreen over a cluster's
// clientset.
func ResumeScaledOn(cluster string, c kubernetes.Interface) func(ctx context.Context, namespaces []string) error {
	return func(ctx context.Context, namespaces []string) error {
		_, err := ResumeScaled(ctx, c, ScaleOptions{Cluster: cluster, Namespaces: namespaces})
		return err
	}
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
