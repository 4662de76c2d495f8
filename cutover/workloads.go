package cutover

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// AnnotationOriginalSuspend is set by migrate on the CronJobs and Jobs it lands suspended
// on green: "true" or "false", the suspend value they had on blue.
const AnnotationOriginalSuspend = "phoenix.dev/original-suspend"

// WorkloadChange is one suspend flag the last step changed.
type WorkloadChange struct {
	// Cluster is "blue" or "green".
	Cluster    string `json:"cluster"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	// Before is spec.suspend before the change (nil when unset), After what it became.
	Before *bool `json:"before"`
	After  bool  `json:"after"`
}

func (c WorkloadChange) String() string {
	return fmt.Sprintf("%s %s %s/%s suspend %v -> %v", c.Cluster, c.Kind, c.Namespace, c.Name, boolOr(c.Before), c.After)
}

// Workloads swaps which cluster runs the scheduled work. The engine journals Plan's
// changes before Apply makes them, so that Revert can undo a swap a crash interrupted.
type Workloads interface {
	// Plan lists the changes of the swap, reading only: blue's CronJobs and Jobs that
	// migrate copied suspended, then green's given their original suspend back. Changes
	// already made are not listed again.
	Plan(ctx context.Context) ([]WorkloadChange, error)
	// Apply makes changes, in order (blue's first: nothing may run on both clusters).
	Apply(ctx context.Context, changes []WorkloadChange) error
	// Revert undoes changes, last first; undoing a change that was not made is a no-op.
	Revert(ctx context.Context, changes []WorkloadChange) error
}

// KubeWorkloads is Workloads over two clusters' dynamic clients. It finds the work on
// green by the AnnotationOriginalSuspend annotation and blue's counterparts by
// namespace and name. CronJobs are read as batch/v1, or batch/v1beta1 on clusters that
// predate it; Jobs that already finished on blue are left alone.
type KubeWorkloads struct {
	Blue, Green dynamic.Interface
}

var _ Workloads = (*KubeWorkloads)(nil)

var (
	cronJobsV1      = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	cronJobsV1beta1 = schema.GroupVersionResource{Group: "batch", Version: "v1beta1", Resource: "cronjobs"}
	jobsV1          = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

func gvrOf(apiVersion, kind string) schema.GroupVersionResource {
	switch {
	case kind == "Job":
		return jobsV1
	case apiVersion == "batch/v1beta1":
		return cronJobsV1beta1
	}
	return cronJobsV1
}

// listCronJobs lists CronJobs in all namespaces, falling back to batch/v1beta1.
func listCronJobs(ctx context.Context, c dynamic.Interface) ([]unstructured.Unstructured, error) {
	l, err := c.Resource(cronJobsV1).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		l, err = c.Resource(cronJobsV1beta1).List(ctx, metav1.ListOptions{})
	}
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Activate plans the swap and applies it, returning the changes made (also when it fails
// part way).
func (k *KubeWorkloads) Activate(ctx context.Context) ([]WorkloadChange, error) {
	changes, err := k.Plan(ctx)
	if err != nil {
		return nil, err
	}
	for i, c := range changes {
		if err := k.apply(ctx, c); err != nil {
			return changes[:i], err
		}
	}
	return changes, nil
}

// Plan implements Workloads.
func (k *KubeWorkloads) Plan(ctx context.Context) ([]WorkloadChange, error) {
	crons, err := listCronJobs(ctx, k.Green)
	if err != nil {
		return nil, fmt.Errorf("listing CronJobs on green: %w", err)
	}
	jobs, err := k.Green.Resource(jobsV1).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Jobs on green: %w", err)
	}
	var green []unstructured.Unstructured
	for _, o := range append(crons, jobs.Items...) {
		if _, ok := o.GetAnnotations()[AnnotationOriginalSuspend]; ok {
			green = append(green, o)
		}
	}
	var changes []WorkloadChange
	// Blue first: nothing may run on both clusters at once.
	for _, g := range green {
		c, err := k.planBlue(ctx, g.GetKind(), g.GetNamespace(), g.GetName())
		if err != nil {
			return nil, err
		}
		if c != nil {
			changes = append(changes, *c)
		}
	}
	for _, g := range green {
		want := g.GetAnnotations()[AnnotationOriginalSuspend] == "true"
		before := suspendOf(&g)
		if boolOr(before) == want {
			continue
		}
		changes = append(changes, WorkloadChange{Cluster: "green", APIVersion: g.GetAPIVersion(), Kind: g.GetKind(), Namespace: g.GetNamespace(), Name: g.GetName(), Before: before, After: want})
	}
	return changes, nil
}

// Apply implements Workloads.
func (k *KubeWorkloads) Apply(ctx context.Context, changes []WorkloadChange) error {
	for _, c := range changes {
		if err := k.apply(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (k *KubeWorkloads) apply(ctx context.Context, c WorkloadChange) error {
	client := k.Green
	if c.Cluster == "blue" {
		client = k.Blue
	}
	after := c.After
	return setSuspend(ctx, client, c, &after)
}

func (k *KubeWorkloads) planBlue(ctx context.Context, kind, ns, name string) (*WorkloadChange, error) {
	var (
		obj *unstructured.Unstructured
		err error
	)
	if kind == "Job" {
		obj, err = k.Blue.Resource(jobsV1).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	} else {
		obj, err = k.Blue.Resource(cronJobsV1).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			obj, err = k.Blue.Resource(cronJobsV1beta1).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s/%s on blue: %w", kind, ns, name, err)
	}
	before := suspendOf(obj)
	if boolOr(before) || (kind == "Job" && jobFinished(obj)) {
		return nil, nil
	}
	return &WorkloadChange{Cluster: "blue", APIVersion: obj.GetAPIVersion(), Kind: kind, Namespace: ns, Name: name, Before: before, After: true}, nil
}

// Revert implements Workloads.
func (k *KubeWorkloads) Revert(ctx context.Context, changes []WorkloadChange) error {
	var firstErr error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		client := k.Green
		if c.Cluster == "blue" {
			client = k.Blue
		}
		err := setSuspend(ctx, client, c, c.Before)
		if err != nil && !apierrors.IsNotFound(err) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// setSuspend merge-patches spec.suspend (nil removes it, which means false).
func setSuspend(ctx context.Context, c dynamic.Interface, w WorkloadChange, v *bool) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"suspend": v}})
	_, err := c.Resource(gvrOf(w.APIVersion, w.Kind)).Namespace(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "phoenix"})
	if err != nil {
		return fmt.Errorf("setting suspend=%v on %s %s %s/%s: %w", boolOr(v), w.Cluster, w.Kind, w.Namespace, w.Name, err)
	}
	return nil
}

func suspendOf(o *unstructured.Unstructured) *bool {
	v, found, err := unstructured.NestedBool(o.Object, "spec", "suspend")
	if !found || err != nil {
		return nil
	}
	return &v
}

func jobFinished(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if (m["type"] == "Complete" || m["type"] == "Failed") && m["status"] == "True" {
			return true
		}
	}
	return false
}

func boolOr(b *bool) bool { return b != nil && *b }
