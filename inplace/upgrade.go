package inplace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/skew"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Options are the inputs of Upgrade.
type Options struct {
	Workspace *state.Workspace
	Inventory Inventory
	// To is the target release (a full vX.Y.Z). Left zero on --resume, it is the
	// journal's.
	To kube.Version
	// From is the running release; zero means: ask Cluster.
	From kube.Version
	// Via names the patch release of intermediate hops whose minor skew cannot name
	// (still supported minors), e.g. v1.36.4.
	Via []kube.Version
	// KubeletsEveryHop upgrades worker kubelets at every hop.
	KubeletsEveryHop bool
	Runbook          RunbookOptions
	// DryRun builds and returns the runbook, touching no host (and no cluster when From
	// is set).
	DryRun bool
	// Resume continues the stopped run recorded in the journal.
	Resume bool
	// Cluster answers the cluster steps; it may be nil for a dry run with From set.
	Cluster Cluster
	// DialTimeout bounds connecting to a host (default 15s).
	DialTimeout time.Duration
	// InterruptGrace is how long an interrupted remote step has after SIGINT before it is
	// killed (default DefaultGrace).
	InterruptGrace time.Duration
	Log            *slog.Logger
	// OnStep, when set, is told when a step starts ("start"), is skipped on resume
	// ("skip"), ends ("done") or fails ("failed"), for progress output.
	OnStep func(s Step, event string)
}

// Result says what Upgrade planned and did.
type Result struct {
	Plan     skew.Plan `json:"plan"`
	Runbook  Runbook   `json:"runbook"`
	DryRun   bool      `json:"dryRun"`
	Ran      int       `json:"ran"`
	Skipped  int       `json:"skipped"`
	Warnings []string  `json:"warnings,omitempty"`
	Journal  string    `json:"journal,omitempty"`
}

// StepError is a failed step: what ran, where, its output and how to recover.
type StepError struct {
	Step    Step
	Output  string
	Err     error
	Journal string
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %s failed: %v", e.Step.ID, e.Err)
	if e.Output != "" && !strings.Contains(e.Err.Error(), e.Output) {
		fmt.Fprintf(&b, "\noutput:\n%s", tail(e.Output, 20))
	}
	if e.Step.Hint != "" {
		fmt.Fprintf(&b, "\nrecovery: %s", e.Step.Hint)
	}
	fmt.Fprintf(&b, "\njournal: %s (continue with `phoenix upgrade --resume`)", e.Journal)
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// PlanFor plans the hops from -> to and fills the patch of intermediate hops from via.
func PlanFor(from, to kube.Version, everyHop bool, via []kube.Version) (skew.Plan, error) {
	if to.Patch < 0 {
		return skew.Plan{}, fmt.Errorf("target %s has no patch number: give a full release, e.g. %s.0", to, to)
	}
	plan, err := skew.PlanInPlace(from, to, skew.Options{KubeletsEveryHop: everyHop})
	if err != nil {
		return skew.Plan{}, err
	}
	used := map[int]bool{}
	for i := range plan.Hops {
		h := &plan.Hops[i]
		for _, v := range via {
			if v.Minor == h.To.Minor && v.Patch >= 0 {
				h.To, used[v.Minor] = v, true
			}
		}
		if i > 0 {
			h.From = plan.Hops[i-1].To
			if plan.Hops[i-1].Kubelets {
				h.KubeletFrom = plan.Hops[i-1].To
			} else {
				h.KubeletFrom = plan.Hops[i-1].KubeletFrom
			}
		}
	}
	for _, v := range via {
		if !used[v.Minor] {
			return skew.Plan{}, fmt.Errorf("--via %s is not an intermediate hop of %s -> %s (kubeadm upgrades one minor at a time: hops are %s)", v, from, to, hopList(plan))
		}
	}
	return plan, nil
}

func hopList(p skew.Plan) string {
	var s []string
	for _, h := range p.Hops {
		s = append(s, h.To.MinorString())
	}
	return strings.Join(s, ", ")
}

// Upgrade plans the hops, builds the runbook and, unless DryRun, runs it: every remote
// step over SSH, every cluster step through Cluster, each outcome in the journal. A
// failed step stops the run with a *StepError; Resume reruns it and goes on.
func Upgrade(ctx context.Context, o Options) (Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := o.Inventory.Validate(); err != nil {
		return Result{}, err
	}
	jpath := JournalPath(o.Workspace, o.Inventory.Name)
	if !o.DryRun || o.Resume {
		// The journal is read, checked and rewritten by one phoenix at a time.
		lock, err := state.LockFile(o.Workspace.Path("upgrades", ".lock"), "an upgrade")
		if err != nil {
			return Result{}, err
		}
		defer lock.Unlock()
	}
	var journal *Journal
	if !o.DryRun || o.Resume {
		j, err := LoadJournal(jpath)
		switch {
		case err != nil && !os.IsNotExist(err):
			return Result{}, err
		case o.Resume && err != nil:
			return Result{}, fmt.Errorf("nothing to resume: no upgrade journal for %s at %s", o.Inventory.Name, jpath)
		case o.Resume:
			if o.To != (kube.Version{}) && o.To.Compare(kube.MustParseVersion(j.To)) != 0 {
				return Result{}, fmt.Errorf("--to %s differs from the stopped upgrade's target %s: resume it first, or move %s aside", o.To, j.To, jpath)
			}
			if j.Finished {
				return Result{}, fmt.Errorf("the upgrade recorded in %s finished: nothing to resume", jpath)
			}
			o.From, o.To = kube.MustParseVersion(j.From), kube.MustParseVersion(j.To)
			journal = j
		case err == nil && !j.Finished:
			where := ""
			if f := j.Failed(); f != nil {
				where = fmt.Sprintf(" at step %s", f.ID)
			}
			return Result{}, fmt.Errorf("an upgrade of %s (%s -> %s) stopped%s: continue it with --resume, or move %s aside to start over", o.Inventory.Name, j.From, j.To, where, jpath)
		case err == nil:
			if err := j.Archive(); err != nil {
				return Result{}, err
			}
		}
	}
	if o.From == (kube.Version{}) {
		if o.Cluster == nil {
			return Result{}, errors.New("the running version is unknown: pass --from, or a kubeconfig for the cluster")
		}
		v, err := o.Cluster.ServerVersion(ctx)
		if err != nil {
			return Result{}, err
		}
		o.From = v
	} else if !o.DryRun && !o.Resume && o.Cluster != nil {
		v, err := o.Cluster.ServerVersion(ctx)
		if err != nil {
			return Result{}, err
		}
		if v.Compare(o.From) != 0 {
			return Result{}, fmt.Errorf("the cluster runs %s, not --from %s: leave --from out, or point phoenix at the right cluster", v, o.From)
		}
	}
	plan, err := PlanFor(o.From, o.To, o.KubeletsEveryHop, o.Via)
	if err != nil {
		return Result{}, err
	}
	rb, err := BuildRunbook(plan, o.Inventory, o.Runbook)
	if err != nil {
		return Result{}, err
	}
	res := Result{Plan: plan, Runbook: rb, DryRun: o.DryRun, Journal: jpath}
	if o.DryRun {
		return res, nil
	}
	if o.Cluster == nil {
		return res, errors.New("no cluster client: pass a kubeconfig for the cluster being upgraded")
	}
	if journal == nil {
		journal = NewJournal(jpath, o.Inventory.Name, o.From.String(), o.To.String(), rb.Fingerprint())
	} else if journal.Fingerprint != rb.Fingerprint() {
		return res, fmt.Errorf("the runbook differs from the one the stopped upgrade ran (inventory or options changed): restore them, or move %s aside to start over", jpath)
	}
	conns, err := dialAll(ctx, o.Inventory, o.DialTimeout)
	if err != nil {
		return res, err
	}
	for _, c := range conns {
		c.Grace = o.InterruptGrace
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	r := runner{o: o, conns: conns, journal: journal, res: &res}
	for _, s := range rb.Steps() {
		if journal.Done(s.ID) {
			res.Skipped++
			r.event(s, "skip")
			continue
		}
		if err := r.step(ctx, s); err != nil {
			return res, err
		}
		res.Ran++
	}
	return res, journal.Finish()
}

// dialAll connects to every host first, so that an unknown host key or a host that does
// not answer stops the upgrade before anything changed.
func dialAll(ctx context.Context, inv Inventory, timeout time.Duration) (map[string]*Conn, error) {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	conns := map[string]*Conn{}
	var errs []error
	for _, h := range inv.Hosts {
		c, err := Dial(ctx, h, timeout)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns[h.Name] = c
	}
	if len(errs) > 0 {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, fmt.Errorf("nothing was changed: %w", errors.Join(errs...))
	}
	return conns, nil
}

type runner struct {
	o       Options
	conns   map[string]*Conn
	journal *Journal
	res     *Result
}

func (r *runner) event(s Step, e string) {
	if r.o.OnStep != nil {
		r.o.OnStep(s, e)
	}
}

func (r *runner) step(ctx context.Context, s Step) error {
	r.event(s, "start")
	r.o.Log.Info("step", "id", s.ID, "host", s.Host, "node", s.Node, "command", Redact(s.Command))
	rec := StepRecord{ID: s.ID, Host: firstNonEmpty(s.Host, s.Node), Command: s.Command, Started: time.Now().UTC()}
	out, err := r.exec(ctx, s, &rec)
	rec.Finished = time.Now().UTC()
	rec.Output = out
	if err != nil {
		rec.Status, rec.Error = StatusFailed, err.Error()
		var re *RunError
		if errors.As(err, &re) {
			rec.ExitCode = re.ExitCode
		}
		if jerr := r.journal.Record(rec); jerr != nil {
			err = errors.Join(err, jerr)
		}
		r.event(s, "failed")
		return &StepError{Step: s, Output: Redact(out), Err: err, Journal: r.journal.Path()}
	}
	rec.Status = StatusDone
	r.event(s, "done")
	return r.journal.Record(rec)
}

func (r *runner) exec(ctx context.Context, s Step, rec *StepRecord) (string, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	ver := func() kube.Version { return kube.MustParseVersion(s.Version) }
	switch s.Kind {
	case KindClusterPreflight, KindPostChecks:
		var warns []string
		var err error
		if s.Kind == KindClusterPreflight {
			warns, err = r.o.Cluster.Preflight(ctx)
		} else {
			warns, err = r.o.Cluster.PostChecks(ctx, ver())
		}
		for _, w := range warns {
			r.o.Log.Warn(w)
		}
		r.res.Warnings = append(r.res.Warnings, warns...)
		return strings.Join(warns, "\n"), err
	case KindDrain:
		return "", r.o.Cluster.Drain(ctx, s.Node, s.Timeout)
	case KindUncordon:
		return "", r.o.Cluster.Uncordon(ctx, s.Node)
	case KindWaitReady:
		return "", r.o.Cluster.WaitReady(ctx, s.Node, ver(), s.Timeout)
	}
	conn, ok := r.conns[s.Host]
	if !ok {
		return "", fmt.Errorf("no connection to host %s", s.Host)
	}
	if s.Kind == KindFetch {
		return r.fetch(ctx, conn, s)
	}
	res, err := conn.Run(ctx, s.Command, nil)
	out := res.Output()
	if err != nil {
		return out, err
	}
	switch s.Kind {
	case KindExpectEmpty:
		if strings.TrimSpace(string(res.Stdout)) != "" {
			return out, fmt.Errorf("on %s: `%s` printed something, it must print nothing", s.Host, s.Command)
		}
	case KindExpectContains:
		if !bytes.Contains(res.Stdout, []byte(s.Want)) {
			return out, fmt.Errorf("on %s: %s is not in the package repository (`%s` does not list it)", s.Host, s.Want, s.Command)
		}
	}
	return out, nil
}

func (r *runner) fetch(ctx context.Context, conn *Conn, s Step) (string, error) {
	res, err := conn.Run(ctx, s.Command, nil)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(r.journal.Dir(), s.Local)
	if err := state.WriteFileAtomic(dst, res.Stdout, 0o600); err != nil {
		return "", fmt.Errorf("saving %s: %w", dst, err)
	}
	return fmt.Sprintf("saved %d bytes to %s", len(res.Stdout), dst), nil
}
