package cutover

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// AnnotationScaledFrom is set on a Deployment or StatefulSet phoenix scaled to zero for a
// final delta: the replicas it had. ResumeScaled gives them back and removes it. While
// the annotation is there, scaling down again keeps the value it holds.
const AnnotationScaledFrom = "phoenix.dev/scaled-down-from"

// ScaledWorkload is one Deployment or StatefulSet scaled to zero (or back).
type ScaledWorkload struct {
	// Cluster is "blue" or "green".
	Cluster   string `json:"cluster"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Replicas is what it had before it was scaled to zero, and gets back.
	Replicas int32 `json:"replicas"`
}

func (w ScaledWorkload) String() string {
	return fmt.Sprintf("%s %s %s/%s (%d replicas)", w.Cluster, w.Kind, w.Namespace, w.Name, w.Replicas)
}

// ScaleOptions say which workloads to scale.
type ScaleOptions struct {
	// Cluster names the cluster in messages and records ("blue" or "green").
	Cluster    string
	Namespaces []string
	// OnlyWithClaims limits scaling to workloads whose pods mount persistent volume claims.
	OnlyWithClaims bool
}

// ScaleDown scales the Deployments and StatefulSets in the namespaces to zero, each in one
// patch that also records its replicas in AnnotationScaledFrom, and returns them. It is
// safe to repeat: a workload already carrying the annotation keeps the recorded value.
// It returns what it scaled also when it fails part way.
func ScaleDown(ctx context.Context, c kubernetes.Interface, o ScaleOptions) ([]ScaledWorkload, error) {
	ws, err := listScalable(ctx, c, o)
	if err != nil {
		return nil, err
	}
	var out []ScaledWorkload
	for _, w := range ws {
		replicas := w.replicas
		if v, ok := w.annotations[AnnotationScaledFrom]; ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return out, fmt.Errorf("%s %s/%s on %s has annotation %s=%q, not a number: fix or remove it", w.kind, w.ns, w.name, o.Cluster, AnnotationScaledFrom, v)
			}
			replicas = int32(n)
		} else if replicas == 0 {
			continue // nothing runs: nothing to stop, nothing to give back
		}
		sw := ScaledWorkload{Cluster: o.Cluster, Kind: w.kind, Namespace: w.ns, Name: w.name, Replicas: replicas}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{AnnotationScaledFrom: strconv.Itoa(int(replicas))}},
			"spec":     map[string]any{"replicas": 0},
		})
		if err := patchWorkload(ctx, c, sw, patch); err != nil {
			return out, fmt.Errorf("scaling %s to zero: %w", sw, err)
		}
		out = append(out, sw)
	}
	return out, nil
}

// ResumeScaled gives every workload in the namespaces that carries AnnotationScaledFrom its
// replicas back and removes the annotation. It returns what it resumed, also on error.
func ResumeScaled(ctx context.Context, c kubernetes.Interface, o ScaleOptions) ([]ScaledWorkload, error) {
	o.OnlyWithClaims = false
	ws, err := listScalable(ctx, c, o)
	if err != nil {
		return nil, err
	}
	var out []ScaledWorkload
	var firstErr error
	for _, w := range ws {
		v, ok := w.annotations[AnnotationScaledFrom]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			firstErr = fmt.Errorf("%s %s/%s on %s has annotation %s=%q, not a number: set its replicas by hand", w.kind, w.ns, w.name, o.Cluster, AnnotationScaledFrom, v)
			continue
		}
		sw := ScaledWorkload{Cluster: o.Cluster, Kind: w.kind, Namespace: w.ns, Name: w.name, Replicas: int32(n)}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{AnnotationScaledFrom: nil}},
			"spec":     map[string]any{"replicas": n},
		})
		if err := patchWorkload(ctx, c, sw, patch); err != nil && !apierrors.IsNotFound(err) {
			if firstErr == nil {
				firstErr = fmt.Errorf("scaling %s back: %w", sw, err)
			}
			continue
		}
		out = append(out, sw)
	}
	return out, firstErr
}

// WaitPodsGone waits until no pod of the scaled workloads is left (terminating pods still
// write), polling every interval.
func WaitPodsGone(ctx context.Context, c kubernetes.Interface, scaled []ScaledWorkload, interval time.Duration) error {
	for _, w := range scaled {
		sel, err := selectorOf(ctx, c, w)
		if err != nil {
			return err
		}
		for {
			pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return fmt.Errorf("listing pods of %s: %w", w, err)
			}
			if len(pods.Items) == 0 {
				break
			}
			if err := sleep(ctx, interval); err != nil {
				return fmt.Errorf("waiting for the %d pod(s) of %s to stop (%s first): %w", len(pods.Items), w, pods.Items[0].Name, err)
			}
		}
	}
	return nil
}

type scalable struct {
	kind, ns, name string
	replicas       int32
	annotations    map[string]string
}

func listScalable(ctx context.Context, c kubernetes.Interface, o ScaleOptions) ([]scalable, error) {
	var out []scalable
	for _, ns := range o.Namespaces {
		deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing Deployments in %s on %s: %w", ns, o.Cluster, err)
		}
		for _, d := range deps.Items {
			if o.OnlyWithClaims && !mountsClaims(d.Spec.Template.Spec) {
				continue
			}
			out = append(out, scalable{"Deployment", ns, d.Name, replicasOf(d.Spec.Replicas), d.Annotations})
		}
		sets, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing StatefulSets in %s on %s: %w", ns, o.Cluster, err)
		}
		for _, s := range sets.Items {
			if o.OnlyWithClaims && len(s.Spec.VolumeClaimTemplates) == 0 && !mountsClaims(s.Spec.Template.Spec) {
				continue
			}
			out = append(out, scalable{"StatefulSet", ns, s.Name, replicasOf(s.Spec.Replicas), s.Annotations})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].ns+"/"+out[i].kind+"/"+out[i].name < out[j].ns+"/"+out[j].kind+"/"+out[j].name
	})
	return out, nil
}

func mountsClaims(spec corev1.PodSpec) bool {
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return true
		}
	}
	return false
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func patchWorkload(ctx context.Context, c kubernetes.Interface, w ScaledWorkload, patch []byte) error {
	opts := metav1.PatchOptions{FieldManager: "phoenix"}
	var err error
	if w.Kind == "StatefulSet" {
		_, err = c.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, opts)
	} else {
		_, err = c.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, opts)
	}
	return err
}

func selectorOf(ctx context.Context, c kubernetes.Interface, w ScaledWorkload) (string, error) {
	var sel *metav1.LabelSelector
	if w.Kind == "StatefulSet" {
		s, err := c.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", w, err)
		}
		sel = s.Spec.Selector
	} else {
		d, err := c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", w, err)
		}
		sel = d.Spec.Selector
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", fmt.Errorf("selector of %s: %w", w, err)
	}
	return s.String(), nil
}
