package volumes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
)

// Move copies the namespaces' claims and their data from blue to green through Velero:
// preflight, a Backup on blue, a wait until green's location has synced it, a Restore on
// green. Call it before applying the workloads that mount the claims. A Backup or Restore
// that does not complete returns a *VeleroError with Velero's reasons; the Result is filled as
// far as the move got, also on error. Mode none returns at once.
func Move(ctx context.Context, opts Options) (*Result, error) {
	return move(ctx, opts, StageInitial, nil)
}

// StopWrites stops writes on blue (for instance by scaling the writers to zero) and returns
// a function that resumes them. FinalDelta calls resume only when the delta fails.
type StopWrites func(ctx context.Context) (resume func(context.Context) error, err error)

// FinalDelta moves the claims once more with writes on blue stopped, just before the last
// cutover step. Green's copies of the claims are deleted before the restore (a pod on green
// mounting one stops it: scale green's writers to zero first) so Velero restores them afresh.
// Result.Window is how long writes were stopped: from stop until the restore completed. On
// failure writes are resumed on blue.
//
// File-system backup (ModeFS) reads volumes through running pods: stop writes without
// deleting the pods that mount the claims, or use ModeCSI.
func FinalDelta(ctx context.Context, opts Options, stop StopWrites) (*Result, error) {
	if stop == nil {
		return nil, errors.New("final delta needs a way to stop writes on blue")
	}
	return move(ctx, opts, StageFinalDelta, stop)
}

func move(ctx context.Context, opts Options, stage string, stop StopWrites) (res *Result, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	res = &Result{Mode: opts.Mode, Stage: stage, Migration: opts.Migration, Namespaces: opts.Namespaces, Started: time.Now()}
	defer func() { res.Finished = time.Now() }()
	if opts.Mode == ModeNone {
		return res, nil
	}
	res.VeleroNamespace = opts.VeleroNamespace
	ctx, cancel := deadline(ctx, opts.Timeout)
	defer cancel()
	blue, green, err := clusters(&opts)
	if err != nil {
		return res, err
	}
	rep := &PreflightReport{Mode: opts.Mode}
	claims, err := preflight(ctx, &opts, blue, green, rep)
	res.Warnings = append(res.Warnings, rep.Warnings...)
	if err != nil {
		return res, err
	}
	res.Claims = len(claims)
	res.StorageLocation = rep.BlueLocation
	for _, c := range claims {
		res.ClaimNames = append(res.ClaimNames, c.String())
	}
	if len(claims) == 0 {
		opts.Progress("no persistent volume claims in " + strings.Join(opts.Namespaces, ", ") + " on blue: no volume data to move")
		return res, nil
	}
	opts.Progress(fmt.Sprintf("moving %d claim(s) with velero (%s) through location %s -> %s", len(claims), opts.Mode, rep.BlueLocation, rep.GreenLocation))
	var mounted map[claimRef][]string
	if opts.Mode == ModeFS {
		if mounted, err = mountedBy(ctx, blue, claims); err != nil {
			return res, err
		}
		for _, c := range claims {
			if len(mounted[c]) == 0 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("claim %s is not mounted by a running pod on blue: file-system backup moves the claim but not its data (use --volumes velero-csi, or run a pod that mounts it)", c))
			}
		}
	}

	if stage == StageInitial {
		existing, err := existingOnGreen(ctx, green, claims)
		if err != nil {
			return res, err
		}
		for _, c := range existing {
			res.Warnings = append(res.Warnings, fmt.Sprintf("claim %s already exists on green: Velero leaves it as it is and restores no data into it (delete it on green before the move if it holds nothing you need)", c))
		}
		return res, run(ctx, &opts, blue, green, rep, stage, claims, res)
	}

	start := time.Now()
	resume, err := stop(ctx)
	if err != nil {
		return res, fmt.Errorf("stopping writes on blue: %w", err)
	}
	opts.Progress("writes on blue stopped for the final delta")
	err = delta(ctx, &opts, blue, green, rep, claims, mounted, res)
	res.Window = since(start)
	if err != nil && resume != nil {
		if rerr := resume(context.WithoutCancel(ctx)); rerr != nil {
			return res, fmt.Errorf("%w; resuming writes on blue also failed: %v (resume them by hand)", err, rerr)
		}
		opts.Progress("final delta failed: writes on blue resumed")
	}
	return res, err
}

func delta(ctx context.Context, opts *Options, blue, green *cluster, rep *PreflightReport, claims []claimRef, before map[claimRef][]string, res *Result) error {
	if opts.Mode == ModeFS {
		after, err := mountedBy(ctx, blue, claims)
		if err != nil {
			return err
		}
		for _, c := range claims {
			if len(before[c]) > 0 && len(after[c]) == 0 {
				return fmt.Errorf("claim %s has no pod mounting it on blue after writes stopped: file-system backup reads volumes through running pods, so stop writes without removing those pods, or use --volumes velero-csi", c)
			}
		}
	}
	return run(ctx, opts, blue, green, rep, StageFinalDelta, claims, res)
}

// run does one backup, sync and restore.
func run(ctx context.Context, opts *Options, blue, green *cluster, rep *PreflightReport, stage string, claims []claimRef, res *Result) error {
	name, err := blue.create(ctx, gvrBackup, newBackup(opts, rep.BlueLocation, stage))
	if err != nil {
		return fmt.Errorf("creating velero backup on blue: %w", err)
	}
	res.Backup = name
	opts.Progress(fmt.Sprintf("created backup %s/%s on blue", opts.VeleroNamespace, name))
	b, err := waitBackup(ctx, opts, blue, name, res)
	if err != nil {
		return err
	}
	errs, warns := details(ctx, opts, blue, velerov1.DownloadTargetKindBackupResults, name,
		b.Status.Phase, b.Status.Errors+b.Status.Warnings > 0 || b.Status.Phase == velerov1.BackupPhasePartiallyFailed)
	res.Warnings = append(res.Warnings, prefix("backup "+name+": ", warns)...)
	res.Errors = append(res.Errors, prefix("backup "+name+": ", errs)...)
	if b.Status.Phase != velerov1.BackupPhaseCompleted {
		reasons := append(reasonsOf(b.Status.FailureReason, b.Status.ValidationErrors), errs...)
		return &VeleroError{Kind: "Backup", Name: name, Cluster: "blue", Phase: string(b.Status.Phase), Reasons: reasons,
			Hint: fmt.Sprintf("nothing was restored on green; fix the cause and run again, `velero backup logs %s` on blue has the full log", name)}
	}

	if err := waitSynced(ctx, opts, green, name, rep.GreenLocation); err != nil {
		return err
	}
	if stage == StageFinalDelta {
		if err := deleteGreenClaims(ctx, green, claims); err != nil {
			return err
		}
		if err := waitGone(ctx, opts, green, claims); err != nil {
			return err
		}
	}
	rname, err := green.create(ctx, gvrRestore, newRestore(opts, name, stage))
	if err != nil {
		return fmt.Errorf("creating velero restore of %s on green: %w", name, err)
	}
	res.Restore = rname
	opts.Progress(fmt.Sprintf("created restore %s/%s on green from backup %s", opts.VeleroNamespace, rname, name))
	r, err := waitRestore(ctx, opts, green, rname, res)
	if err != nil {
		return err
	}
	errs, warns = details(ctx, opts, green, velerov1.DownloadTargetKindRestoreResults, rname,
		r.Status.Phase, r.Status.Errors+r.Status.Warnings > 0 || r.Status.Phase == velerov1.RestorePhasePartiallyFailed)
	res.Warnings = append(res.Warnings, prefix("restore "+rname+": ", warns)...)
	res.Errors = append(res.Errors, prefix("restore "+rname+": ", errs)...)
	if r.Status.Phase != velerov1.RestorePhaseCompleted {
		reasons := append(reasonsOf(r.Status.FailureReason, r.Status.ValidationErrors), errs...)
		return &VeleroError{Kind: "Restore", Name: rname, Cluster: "green", Phase: string(r.Status.Phase), Reasons: reasons,
			Hint: fmt.Sprintf("do not apply workloads that mount these claims yet; `velero restore logs %s` on green has the full log", rname)}
	}
	if opts.Mode == ModeFS && !opts.KeepRestoredPods {
		n, err := deleteRestoredPods(ctx, green, opts.Namespaces, rname)
		res.RestoredPodsDeleted = n
		if err != nil {
			return err
		}
	}
	opts.Progress(fmt.Sprintf("restore %s on green completed: %d item(s) restored", rname, res.ItemsRestored))
	return nil
}

// details reads Velero's per-item errors and warnings when there are any. A failure to read
// them becomes an error line that says where to look instead.
func details[P ~string](ctx context.Context, opts *Options, c *cluster, kind velerov1.DownloadTargetKind, name string, phase P, want bool) (errs, warns []string) {
	if !want || phase == "FailedValidation" {
		return nil, nil
	}
	errs, warns, err := fetchResults(ctx, opts, c, kind, name)
	if err != nil {
		what := strings.ToLower(strings.TrimSuffix(string(kind), "Results"))
		return []string{fmt.Sprintf("details unavailable (%v): run `velero %s describe %s --details` on %s", err, what, name, c.name)}, nil
	}
	return errs, warns
}

func reasonsOf(failure string, validation []string) []string {
	var r []string
	if failure != "" {
		r = append(r, failure)
	}
	for _, v := range validation {
		r = append(r, "validation: "+v)
	}
	return r
}

func prefix(p string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = p + l
	}
	return out
}

// waitGone waits until green's deleted claims are gone.
func waitGone(ctx context.Context, opts *Options, green *cluster, claims []claimRef) error {
	for {
		left, err := existingOnGreen(ctx, green, claims)
		if err != nil || len(left) == 0 {
			return err
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return fmt.Errorf("waiting for claim %s on green to be deleted: %w", left[0], err)
		}
	}
}
