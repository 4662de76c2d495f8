package verify

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/volumes"
)

// kwokNodeAnnotation marks nodes kwok fakes: no kubelet, no volume plugins.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// volumeParity checks the recorded Velero move (volumes.LoadResult) against green: the
// restore completed, Velero restored as many items as it backed up, the volume data was
// transferred in full where Velero reports bytes, and every claim in scope is on green and
// bound. A claim left Pending only because nothing on green can bind it here (kwok nodes,
// a StorageClass waiting for its first consumer) is a warning, not a failure. Records of
// other namespaces, and moves of no claims, add nothing.
func volumeParity(ctx context.Context, green kubernetes.Interface, rec *volumes.Result, namespaces []string, migration string) (checks []Check, warnings []string) {
	if rec == nil || rec.Mode == volumes.ModeNone || rec.Claims == 0 {
		return nil, nil
	}
	inScope := map[string]bool{}
	for _, ns := range namespaces {
		inScope[ns] = true
	}
	covered := false
	for _, ns := range rec.Namespaces {
		covered = covered || inScope[ns]
	}
	if !covered {
		return nil, nil
	}
	if rec.Migration != "" && migration != "" && rec.Migration != migration {
		warnings = append(warnings, fmt.Sprintf("the volume move on record belongs to migration %s, not %s: its claims are checked all the same", rec.Migration, migration))
	}
	restore := "velero restore " + dash(rec.Restore)
	checks = append(checks, Check{Object: restore, Check: "volume-restore", Passed: rec.RestorePhase == "Completed",
		Message: fmt.Sprintf("backup %s %s, restore %s (%s)", dash(rec.Backup), dash(rec.BackupPhase), dash(rec.RestorePhase), rec.Mode)})
	if rec.ItemsBackedUp > 0 || rec.ItemsRestored > 0 {
		checks = append(checks, Check{Object: restore, Check: "volume-items", Passed: rec.ItemsRestored >= rec.ItemsBackedUp,
			Message: fmt.Sprintf("%d of %d item(s) backed up were restored", rec.ItemsRestored, rec.ItemsBackedUp)})
	} else {
		warnings = append(warnings, fmt.Sprintf("velero reported no item counts for backup %s: items not compared", dash(rec.Backup)))
	}
	if rec.BytesTotal > 0 {
		checks = append(checks, Check{Object: restore, Check: "volume-bytes", Passed: rec.BytesDone >= rec.BytesTotal,
			Message: fmt.Sprintf("%d of %d byte(s) of volume data transferred in %d volume(s)", rec.BytesDone, rec.BytesTotal, rec.Volumes)})
	}
	if len(rec.Errors) > 0 {
		checks = append(checks, Check{Object: restore, Check: "volume-errors", Message: fmt.Sprintf("velero reported %d error(s): %s", len(rec.Errors), strings.Join(rec.Errors, "; "))})
	}
	kwok, err := fakeNodesOnly(ctx, green)
	if err != nil {
		warnings = append(warnings, "reading green's nodes: "+err.Error())
	}
	for _, name := range rec.ClaimNames {
		ns, claim, _ := strings.Cut(name, "/")
		if !inScope[ns] {
			continue
		}
		c, warn := claimOnGreen(ctx, green, ns, claim, kwok)
		checks = append(checks, c)
		if warn != "" {
			warnings = append(warnings, warn)
		}
	}
	return checks, warnings
}

// claimOnGreen checks one restored claim. It passes when Bound, and also when Pending for a
// reason that is not the restore's fault (then with a warning saying why).
func claimOnGreen(ctx context.Context, green kubernetes.Interface, ns, name string, kwok bool) (Check, string) {
	c := Check{Object: "PersistentVolumeClaim " + ns + "/" + name, Check: "volume-claim"}
	pvc, err := green.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Message = "restored by velero but not on green (deleted since? run the move again)"
		return c, ""
	case err != nil:
		c.Message = "reading it on green: " + err.Error()
		return c, ""
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		c.Passed, c.Message = true, "Bound to "+pvc.Spec.VolumeName
		return c, ""
	case corev1.ClaimLost:
		c.Message = "Lost: its volume " + pvc.Spec.VolumeName + " is gone on green"
		return c, ""
	}
	why, ok := pendingReason(ctx, green, pvc, kwok)
	c.Passed, c.Message = ok, "Pending: "+why
	if ok {
		return c, fmt.Sprintf("claim %s/%s is Pending on green, not counted as a failure: %s", ns, name, why)
	}
	return c, ""
}

// pendingReason says why a claim is Pending and whether that is expected.
func pendingReason(ctx context.Context, green kubernetes.Interface, pvc *corev1.PersistentVolumeClaim, kwok bool) (string, bool) {
	if kwok {
		return "green's nodes are kwok fakes (annotation " + kwokNodeAnnotation + "): no kubelet or storage provisioner runs there to bind it", true
	}
	if pvc.Spec.VolumeName != "" {
		return "its volume " + pvc.Spec.VolumeName + " is not bound to it yet", false
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class == "" {
		return "no volume and no StorageClass: nothing on green can bind it (restore its PersistentVolume, or give it a StorageClass)", false
	}
	sc, err := green.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("StorageClass %q does not exist on green: create it (with a provisioner) so the claim can be bound", class), false
	}
	if err != nil {
		return fmt.Sprintf("reading StorageClass %q on green: %v", class, err), false
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		return fmt.Sprintf("StorageClass %q binds on first use (WaitForFirstConsumer): it binds when a pod mounting it is scheduled", class), true
	}
	return fmt.Sprintf("provisioner %s of StorageClass %q has not bound it: check that provisioner on green", sc.Provisioner, class), false
}

// fakeNodesOnly reports whether green has nodes and all of them are kwok's.
func fakeNodesOnly(ctx context.Context, green kubernetes.Interface) (bool, error) {
	nodes, err := green.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		return false, err
	}
	for _, n := range nodes.Items {
		if _, ok := n.Annotations[kwokNodeAnnotation]; !ok {
			return false, nil
		}
	}
	return true, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
