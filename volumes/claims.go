package volumes

import (
	"context"
	"fmt"
	"sort"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// claimRef names one persistent volume claim.
type claimRef struct{ Namespace, Name string }

func (c claimRef) String() string { return c.Namespace + "/" + c.Name }

// CountClaims returns how many persistent volume claims the namespaces hold on cfg's cluster;
// migrate uses it to default --volumes to none when there are none.
func CountClaims(ctx context.Context, cfg *rest.Config, namespaces []string) (int, error) {
	c, err := newCluster("blue", cfg, "")
	if err != nil {
		return 0, err
	}
	claims, err := listClaims(ctx, c, namespaces)
	return len(claims), err
}

func listClaims(ctx context.Context, c *cluster, namespaces []string) ([]claimRef, error) {
	var out []claimRef
	for _, ns := range namespaces {
		l, err := c.kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing persistent volume claims in %s on %s: %w", ns, c.name, err)
		}
		for _, pvc := range l.Items {
			out = append(out, claimRef{ns, pvc.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// existingOnGreen returns the claims that already exist on green: Velero leaves them alone
// and restores no data into them.
func existingOnGreen(ctx context.Context, green *cluster, claims []claimRef) ([]claimRef, error) {
	var out []claimRef
	for _, c := range claims {
		_, err := green.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			out = append(out, c)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading claim %s on green: %w", c, err)
		}
	}
	return out, nil
}

// mountedBy maps each claim to the running (or pending) pods that mount it in its namespace.
func mountedBy(ctx context.Context, c *cluster, claims []claimRef) (map[claimRef][]string, error) {
	out := map[claimRef][]string{}
	byNS := map[string]bool{}
	for _, cl := range claims {
		byNS[cl.Namespace] = true
	}
	for ns := range byNS {
		pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing pods in %s on %s: %w", ns, c.name, err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					k := claimRef{ns, v.PersistentVolumeClaim.ClaimName}
					out[k] = append(out[k], p.Name)
				}
			}
		}
	}
	return out, nil
}

// deleteRestoredPods deletes the pods a file-system restore brought back only to carry data
// (Velero strips their owner references, so no controller would ever own them).
func deleteRestoredPods(ctx context.Context, green *cluster, namespaces []string, restore string) (int, error) {
	n := 0
	sel := velerov1.RestoreNameLabel + "=" + labelValue(restore)
	for _, ns := range namespaces {
		pods, err := green.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return n, fmt.Errorf("listing restored pods in %s on green: %w", ns, err)
		}
		for _, p := range pods.Items {
			err := green.kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return n, fmt.Errorf("deleting restored pod %s/%s on green: %w", ns, p.Name, err)
			}
			n++
		}
	}
	return n, nil
}

// deleteGreenClaims removes green's copies of claims before a final delta restores them
// again. It refuses while a pod on green mounts one of them.
func deleteGreenClaims(ctx context.Context, green *cluster, claims []claimRef) error {
	existing, err := existingOnGreen(ctx, green, claims)
	if err != nil || len(existing) == 0 {
		return err
	}
	mounts, err := mountedBy(ctx, green, existing)
	if err != nil {
		return err
	}
	for _, c := range existing {
		if pods := mounts[c]; len(pods) > 0 {
			return fmt.Errorf("claim %s on green is mounted by pod(s) %v: scale green's workloads that mount it to zero before the final delta", c, pods)
		}
	}
	for _, c := range existing {
		err := green.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Delete(ctx, c.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting claim %s on green before the final delta: %w", c, err)
		}
	}
	return nil
}
