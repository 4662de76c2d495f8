package volumes

import (
	"context"
	"errors"
	"fmt"
	"strings"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PreflightReport is what Preflight found.
type PreflightReport struct {
	Mode Mode `json:"mode"`
	// BlueLocation and GreenLocation name the BackupStorageLocations on each side that point
	// at the same object storage.
	BlueLocation  string `json:"blueLocation,omitempty"`
	GreenLocation string `json:"greenLocation,omitempty"`
	Provider      string `json:"provider,omitempty"`
	Bucket        string `json:"bucket,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
	// Claims is the number of claims in the namespaces on blue.
	Claims   int      `json:"claims"`
	Warnings []string `json:"warnings,omitempty"`
}

// PreflightError lists every problem that stops the move, one per line.
type PreflightError struct{ Problems []string }

func (e *PreflightError) Error() string {
	if len(e.Problems) == 1 {
		return "volume move preflight: " + e.Problems[0]
	}
	return "volume move preflight found " + fmt.Sprint(len(e.Problems)) + " problems:\n  " + strings.Join(e.Problems, "\n  ")
}

// Preflight checks, without writing anything, that Velero can move the namespaces' claims:
// Velero's API and server on both clusters, the node agent where the mode needs it, one
// object storage seen by both (same provider, bucket and prefix), Available on both, and
// writable from blue. Mode none checks nothing.
func Preflight(ctx context.Context, opts Options) (*PreflightReport, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	rep := &PreflightReport{Mode: opts.Mode}
	if opts.Mode == ModeNone {
		return rep, nil
	}
	blue, green, err := clusters(&opts)
	if err != nil {
		return nil, err
	}
	_, err = preflight(ctx, &opts, blue, green, rep)
	return rep, err
}

func clusters(opts *Options) (blue, green *cluster, err error) {
	if blue, err = newCluster("blue", opts.Blue, opts.VeleroNamespace); err != nil {
		return nil, nil, err
	}
	if green, err = newCluster("green", opts.Green, opts.VeleroNamespace); err != nil {
		return nil, nil, err
	}
	return blue, green, nil
}

// preflight fills rep and returns the claims in scope on blue.
func preflight(ctx context.Context, opts *Options, blue, green *cluster, rep *PreflightReport) ([]claimRef, error) {
	var problems []string
	for _, c := range []*cluster{blue, green} {
		p, w := checkInstall(ctx, opts, c)
		problems = append(problems, p...)
		rep.Warnings = append(rep.Warnings, w...)
	}
	if len(problems) > 0 {
		return nil, &PreflightError{Problems: problems}
	}
	bl, err := blueLocation(ctx, opts, blue)
	if err != nil {
		return nil, &PreflightError{Problems: []string{err.Error()}}
	}
	st := bl.Spec.ObjectStorage
	rep.BlueLocation, rep.Provider, rep.Bucket, rep.Prefix = bl.Name, bl.Spec.Provider, st.Bucket, st.Prefix
	if bl.Spec.AccessMode == velerov1.BackupStorageLocationAccessModeReadOnly {
		problems = append(problems, fmt.Sprintf("blue's backup storage location %q is ReadOnly: Velero cannot write the backup (set spec.accessMode: ReadWrite on blue)", bl.Name))
	}
	problems = append(problems, available("blue", bl)...)
	gl, err := greenLocation(ctx, green, bl)
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		rep.GreenLocation = gl.Name
		problems = append(problems, available("green", gl)...)
	}
	claims, err := listClaims(ctx, blue, opts.Namespaces)
	if err != nil {
		problems = append(problems, err.Error())
	}
	rep.Claims = len(claims)
	for _, ns := range opts.Namespaces {
		if _, err := blue.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			problems = append(problems, fmt.Sprintf("namespace %q does not exist on blue (check --ns)", ns))
		}
	}
	if len(problems) > 0 {
		return nil, &PreflightError{Problems: problems}
	}
	return claims, nil
}

// checkInstall returns problems and warnings about Velero's installation on c.
func checkInstall(ctx context.Context, opts *Options, c *cluster) (problems, warnings []string) {
	res, err := c.kube.Discovery().ServerResourcesForGroupVersion(velerov1.SchemeGroupVersion.String())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return []string{fmt.Sprintf("velero is not installed on %s (no velero.io/v1 API): install Velero on both clusters with the same backup storage location (docs/velero.md)", c.name)}, nil
		}
		return []string{fmt.Sprintf("reading the velero.io/v1 API on %s: %v", c.name, err)}, nil
	}
	served := map[string]bool{}
	for _, r := range res.APIResources {
		served[r.Name] = true
	}
	for _, r := range []string{"backups", "restores", "backupstoragelocations", "downloadrequests"} {
		if !served[r] {
			problems = append(problems, fmt.Sprintf("velero on %s does not serve velero.io/v1 %s: upgrade Velero's CRDs (velero install --crds-only)", c.name, r))
		}
	}
	if _, err := c.kube.CoreV1().Namespaces().Get(ctx, c.ns, metav1.GetOptions{}); err != nil {
		problems = append(problems, fmt.Sprintf("velero's namespace %q is missing on %s: %v (set --velero-namespace if Velero runs elsewhere)", c.ns, c.name, err))
		return problems, nil
	}
	if _, err := c.kube.AppsV1().Deployments(c.ns).Get(ctx, "velero", metav1.GetOptions{}); err != nil {
		// The location's Available phase (checked next) proves a server validates it; the
		// server may run outside the cluster.
		warnings = append(warnings, fmt.Sprintf("no velero Deployment in namespace %s on %s: relying on the backup storage location's phase to show a Velero server runs", c.ns, c.name))
	}
	if opts.Mode == ModeFS || opts.Mode == ModeCSI {
		ds, err := c.kube.AppsV1().DaemonSets(c.ns).Get(ctx, "node-agent", metav1.GetOptions{})
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("velero's node agent is not installed on %s (no DaemonSet %s/node-agent): volume data needs it; install Velero with --use-node-agent", c.name, c.ns))
		case ds.Status.NumberReady == 0:
			problems = append(problems, fmt.Sprintf("velero's node agent on %s has no ready pod (DaemonSet %s/node-agent): check its pods", c.name, c.ns))
		}
	}
	if opts.Mode == ModeCSI && c.name == "blue" {
		if _, err := c.kube.Discovery().ServerResourcesForGroupVersion("snapshot.storage.k8s.io/v1"); err != nil {
			problems = append(problems, "CSI snapshot data movement needs the snapshot.storage.k8s.io/v1 API on blue (external-snapshotter CRDs, a CSI driver and a VolumeSnapshotClass labelled velero.io/csi-volumesnapshot-class=true); use --volumes velero for file-system backup otherwise")
		}
	}
	return problems, warnings
}

func blueLocation(ctx context.Context, opts *Options, blue *cluster) (*velerov1.BackupStorageLocation, error) {
	items, err := blue.list(ctx, gvrLocation, "")
	if err != nil {
		return nil, fmt.Errorf("listing backup storage locations on blue: %w", err)
	}
	var locs []velerov1.BackupStorageLocation
	for _, u := range items {
		var l velerov1.BackupStorageLocation
		if err := fromUnstructured(u, &l); err != nil {
			return nil, fmt.Errorf("backup storage location %s on blue: %w", u.GetName(), err)
		}
		locs = append(locs, l)
	}
	pick := func(match func(velerov1.BackupStorageLocation) bool) *velerov1.BackupStorageLocation {
		for i := range locs {
			if match(locs[i]) {
				return &locs[i]
			}
		}
		return nil
	}
	var l *velerov1.BackupStorageLocation
	if opts.StorageLocation != "" {
		l = pick(func(l velerov1.BackupStorageLocation) bool { return l.Name == opts.StorageLocation })
	} else if l = pick(func(l velerov1.BackupStorageLocation) bool { return l.Spec.Default }); l == nil {
		l = pick(func(l velerov1.BackupStorageLocation) bool { return l.Name == "default" })
	}
	if l == nil {
		want := opts.StorageLocation
		if want == "" {
			want = "a default one"
		}
		return nil, fmt.Errorf("blue has no backup storage location %s in namespace %s (%d found): create one, or name it with --storage-location", want, blue.ns, len(locs))
	}
	if l.Spec.ObjectStorage == nil {
		return nil, fmt.Errorf("blue's backup storage location %q has no objectStorage bucket", l.Name)
	}
	return l, nil
}

func sameStorage(a, b *velerov1.BackupStorageLocation) bool {
	if a.Spec.ObjectStorage == nil || b.Spec.ObjectStorage == nil {
		return false
	}
	return a.Spec.Provider == b.Spec.Provider && a.Spec.ObjectStorage.Bucket == b.Spec.ObjectStorage.Bucket &&
		strings.Trim(a.Spec.ObjectStorage.Prefix, "/") == strings.Trim(b.Spec.ObjectStorage.Prefix, "/")
}

func describe(l *velerov1.BackupStorageLocation) string {
	if l.Spec.ObjectStorage == nil {
		return fmt.Sprintf("%s (%s, no bucket)", l.Name, l.Spec.Provider)
	}
	return fmt.Sprintf("%s (%s bucket %q prefix %q)", l.Name, l.Spec.Provider, l.Spec.ObjectStorage.Bucket, l.Spec.ObjectStorage.Prefix)
}

// greenLocation finds green's location pointing at blue's object storage.
func greenLocation(ctx context.Context, green *cluster, bl *velerov1.BackupStorageLocation) (*velerov1.BackupStorageLocation, error) {
	items, err := green.list(ctx, gvrLocation, "")
	if err != nil {
		return nil, fmt.Errorf("listing backup storage locations on green: %w", err)
	}
	var seen []string
	for _, u := range items {
		var l velerov1.BackupStorageLocation
		if err := fromUnstructured(u, &l); err != nil {
			return nil, fmt.Errorf("backup storage location %s on green: %w", u.GetName(), err)
		}
		if sameStorage(bl, &l) {
			return &l, nil
		}
		seen = append(seen, describe(&l))
	}
	if len(seen) == 0 {
		seen = []string{"none"}
	}
	return nil, errors.New("backup storage locations differ: blue uses " + describe(bl) + ", green has " +
		strings.Join(seen, ", ") + ": create a location on green with the same provider, bucket and prefix (accessMode ReadOnly is enough)")
}

func available(side string, l *velerov1.BackupStorageLocation) []string {
	if l.Status.Phase == velerov1.BackupStorageLocationPhaseAvailable {
		return nil
	}
	phase := string(l.Status.Phase)
	if phase == "" {
		phase = "not validated yet (is the Velero server running?)"
	}
	msg := fmt.Sprintf("%s's backup storage location %q is %s", side, l.Name, phase)
	if l.Status.Message != "" {
		msg += ": " + l.Status.Message
	}
	return []string{msg + " — check the bucket, its credentials and `velero backup-location get` on " + side}
}
