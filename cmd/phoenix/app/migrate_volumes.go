package app

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

// volumeFlags are migrate's flags for moving PVC data through Velero.
type volumeFlags struct {
	mode            string
	veleroNamespace string
	storageLocation string
}

func (v *volumeFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&v.mode, "volumes", "", "how PVC data moves: velero (file-system backup), velero-csi (CSI snapshot data movement) or none; default: velero when the namespaces have PVCs and Velero runs on both clusters, none otherwise")
	fl.StringVar(&v.veleroNamespace, "velero-namespace", "velero", "namespace Velero runs in on both clusters")
	fl.StringVar(&v.storageLocation, "storage-location", "", "blue's Velero BackupStorageLocation (default: the one marked default)")
}

// volumePlan is what migrate does about volumes before it applies anything.
type volumePlan struct {
	opts volumes.Options
	// skip says why no volume data moves ("" when it does).
	skip string
}

// planVolumes resolves --volumes. Without the flag, namespaces with PVCs move their data
// through Velero when Velero answers on both sides; when it does not, migrate goes on
// without data and says so loudly (pass --volumes none to acknowledge, or install Velero).
func (v *volumeFlags) plan(ctx context.Context, blue, green *rest.Config, namespaces []string, progress func(string)) (*volumePlan, error) {
	mode, err := volumes.ParseMode(v.mode)
	if err != nil {
		return nil, usageError("%v", err)
	}
	p := &volumePlan{opts: volumes.Options{
		Blue: blue, Green: green, Namespaces: namespaces, Mode: mode,
		VeleroNamespace: v.veleroNamespace, StorageLocation: v.storageLocation, Progress: progress,
	}}
	if v.mode != "" {
		if mode == volumes.ModeNone {
			p.skip = "--volumes none"
		}
		return p, nil
	}
	claims, err := volumes.CountClaims(ctx, blue, namespaces)
	if err != nil {
		return nil, fmt.Errorf("counting PVCs on blue: %w", err)
	}
	if claims == 0 {
		p.skip = "no PVC in the namespaces"
		return p, nil
	}
	p.opts.Mode = volumes.ModeFS
	if _, err := volumes.Preflight(ctx, p.opts); err != nil {
		p.skip = fmt.Sprintf("WARNING: %d PVC(s) found but Velero is not ready on both clusters, so their DATA WILL NOT MOVE (%v); install Velero (docs/velero.md) and pass --volumes velero, or pass --volumes none to move the claims empty", claims, err)
	}
	return p, nil
}

// move runs the Velero backup and restore before migrate applies workloads on green.
func (p *volumePlan) move(ctx context.Context) (*volumes.Result, error) {
	if p.skip != "" {
		return nil, nil
	}
	res, err := volumes.Move(ctx, p.opts)
	if err != nil {
		return res, fmt.Errorf("moving volume data through Velero (nothing was applied on green; fix it and rerun, or pass --volumes none): %w", err)
	}
	return res, nil
}

// record links the volume move to the migration and stores it for verify and cutover.
func (p *volumePlan) record(ws *state.Workspace, res *volumes.Result, migrationID string) error {
	if res == nil {
		return nil
	}
	res.Migration = migrationID
	return volumes.SaveResult(ws, res)
}
