package cutover

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// WaitReady polls until every Deployment and StatefulSet in the namespaces is ready: not
// scaled down by phoenix (no AnnotationScaledFrom), its spec observed
// (status.observedGeneration), and as many ready replicas as it asks for. It returns
// ctx's error with the first workload that is not, when ctx ends first.
func WaitReady(ctx context.Context, c kubernetes.Interface, namespaces []string, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	for {
		why, err := notReady(ctx, c, namespaces)
		if err == nil && why == "" {
			return nil
		}
		if err != nil {
			why = err.Error()
		}
		if serr := sleep(ctx, interval); serr != nil {
			return fmt.Errorf("%s: %w", why, serr)
		}
	}
}

// WaitReadyFunc is a RollbackOptions.WaitBlueReady over blue's clientset.
func WaitReadyFunc(blue kubernetes.Interface, interval time.Duration) func(ctx context.Context, namespaces []string) error {
	return func(ctx context.Context, namespaces []string) error {
		return WaitReady(ctx, blue, namespaces, interval)
	}
}

// notReady names the first workload that is not ready, or returns "".
func notReady(ctx context.Context, c kubernetes.Interface, namespaces []string) (string, error) {
	for _, ns := range namespaces {
		deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", fmt.Errorf("listing Deployments in %s: %w", ns, err)
		}
		for _, d := range deps.Items {
			if why := readiness("Deployment", ns, d.Name, d.Annotations, replicasOf(d.Spec.Replicas), d.Status.ReadyReplicas, d.Generation, d.Status.ObservedGeneration); why != "" {
				return why, nil
			}
		}
		sets, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", fmt.Errorf("listing StatefulSets in %s: %w", ns, err)
		}
		for _, s := range sets.Items {
			if why := readiness("StatefulSet", ns, s.Name, s.Annotations, replicasOf(s.Spec.Replicas), s.Status.ReadyReplicas, s.Generation, s.Status.ObservedGeneration); why != "" {
				return why, nil
			}
		}
	}
	return "", nil
}

func readiness(kind, ns, name string, ann map[string]string, want, ready int32, gen, observed int64) string {
	if v, ok := ann[AnnotationScaledFrom]; ok {
		return fmt.Sprintf("%s %s/%s is still scaled down (%s=%s)", kind, ns, name, AnnotationScaledFrom, v)
	}
	if observed < gen {
		return fmt.Sprintf("%s %s/%s: generation %d not observed yet (at %d)", kind, ns, name, gen, observed)
	}
	if ready < want {
		return fmt.Sprintf("%s %s/%s: %d of %d replicas ready", kind, ns, name, ready, want)
	}
	return ""
}
