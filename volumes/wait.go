package volumes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmware-tanzu/velero/pkg/apis/velero/shared"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Terminal phases.
func backupDone(p velerov1.BackupPhase) bool {
	switch p {
	case velerov1.BackupPhaseCompleted, velerov1.BackupPhasePartiallyFailed, velerov1.BackupPhaseFailed, velerov1.BackupPhaseFailedValidation:
		return true
	}
	return false
}

func restoreDone(p velerov1.RestorePhase) bool {
	switch p {
	case velerov1.RestorePhaseCompleted, velerov1.RestorePhasePartiallyFailed, velerov1.RestorePhaseFailed, velerov1.RestorePhaseFailedValidation:
		return true
	}
	return false
}

// transfers adds up the data movement objects Velero made for a backup or restore
// (PodVolumeBackups/DataUploads labelled velero.io/backup-name, or their restore twins).
func transfers(ctx context.Context, c *cluster, label, name string, gvrs ...schema.GroupVersionResource) (n int, done, total int64) {
	for _, gvr := range gvrs {
		items, err := c.list(ctx, gvr, label+"="+labelValue(name))
		if err != nil {
			continue // the v2alpha1 API may be absent on older Velero; progress is best effort
		}
		for _, u := range items {
			var s struct {
				Status struct {
					Progress shared.DataMoveOperationProgress `json:"progress"`
				} `json:"status"`
			}
			if fromUnstructured(u, &s) == nil {
				n++
				done += s.Status.Progress.BytesDone
				total += s.Status.Progress.TotalBytes
			}
		}
	}
	return n, done, total
}

// progressLine reports a line only when it changed.
type progressLine struct {
	out  func(string)
	last string
}

func (p *progressLine) say(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if s != p.last {
		p.last = s
		p.out(s)
	}
}

func bytesOf(done, total int64) string {
	if total == 0 {
		return ""
	}
	return fmt.Sprintf(", %s/%s", human(done), human(total))
}

func human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// waitBackup follows the Backup on blue until a terminal phase and fills res.
func waitBackup(ctx context.Context, opts *Options, blue *cluster, name string, res *Result) (*velerov1.Backup, error) {
	p := progressLine{out: opts.Progress}
	for {
		var b velerov1.Backup
		if err := blue.get(ctx, gvrBackup, name, &b); err != nil {
			return nil, fmt.Errorf("reading backup %s on blue: %w", name, err)
		}
		res.BackupPhase = string(b.Status.Phase)
		if pr := b.Status.Progress; pr != nil {
			res.Items, res.ItemsBackedUp = pr.TotalItems, pr.ItemsBackedUp
		}
		res.Volumes, res.BytesDone, res.BytesTotal = transfers(ctx, blue, velerov1.BackupNameLabel, name, gvrPodVolumeBackup, gvrDataUpload)
		phase := b.Status.Phase
		if phase == "" {
			phase = velerov1.BackupPhaseNew
		}
		p.say("backup %s on blue: %s, %d/%d items, %d volume(s)%s", name, phase, res.ItemsBackedUp, res.Items, res.Volumes, bytesOf(res.BytesDone, res.BytesTotal))
		if backupDone(b.Status.Phase) {
			return &b, nil
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return nil, fmt.Errorf("waiting for backup %s on blue (phase %s): %w; it goes on in Velero: `velero backup describe %s`", name, phase, err, name)
		}
	}
}

// waitSynced waits until green's Velero has synced the backup from object storage.
func waitSynced(ctx context.Context, opts *Options, green *cluster, name, location string) error {
	opts.Progress(fmt.Sprintf("waiting for green's backup storage location %q to sync backup %s", location, name))
	ctx, cancel := context.WithTimeout(ctx, opts.SyncTimeout)
	defer cancel()
	for {
		var b velerov1.Backup
		err := green.get(ctx, gvrBackup, name, &b)
		switch {
		case err == nil && b.Status.Phase == velerov1.BackupPhaseCompleted:
			return nil
		case err == nil && backupDone(b.Status.Phase):
			return fmt.Errorf("green sees backup %s as %s", name, b.Status.Phase)
		case err != nil && !apierrors.IsNotFound(err):
			return fmt.Errorf("reading backup %s on green: %w", name, err)
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("green has not synced backup %s from location %q within %s: check that location's phase and backupSyncPeriod (`velero backup-location get` on green)", name, location, opts.SyncTimeout)
			}
			return err
		}
	}
}

// waitRestore follows the Restore on green until a terminal phase and fills res.
func waitRestore(ctx context.Context, opts *Options, green *cluster, name string, res *Result) (*velerov1.Restore, error) {
	p := progressLine{out: opts.Progress}
	for {
		var r velerov1.Restore
		if err := green.get(ctx, gvrRestore, name, &r); err != nil {
			return nil, fmt.Errorf("reading restore %s on green: %w", name, err)
		}
		res.RestorePhase = string(r.Status.Phase)
		if pr := r.Status.Progress; pr != nil {
			res.ItemsRestored = pr.ItemsRestored
		}
		n, done, total := transfers(ctx, green, velerov1.RestoreNameLabel, name, gvrPodVolumeRestor, gvrDataDownload)
		phase := r.Status.Phase
		if phase == "" {
			phase = velerov1.RestorePhaseNew
		}
		total0 := 0
		if r.Status.Progress != nil {
			total0 = r.Status.Progress.TotalItems
		}
		p.say("restore %s on green: %s, %d/%d items, %d volume(s)%s", name, phase, res.ItemsRestored, total0, n, bytesOf(done, total))
		if restoreDone(r.Status.Phase) {
			return &r, nil
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return nil, fmt.Errorf("waiting for restore %s on green (phase %s): %w; it goes on in Velero: `velero restore describe %s`", name, phase, err, name)
		}
	}
}

func deadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
