package migrate

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LabelDryRunScratch marks a namespace a server dry run created on green, so that the
// objects in it could be validated; its value is the dry run's id. The dry run deletes it
// when it ends (`kubectl delete ns -l phoenix.dev/dry-run-scratch` cleans up after one
// that was killed).
const LabelDryRunScratch = "phoenix.dev/dry-run-scratch"

var gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// scratchNamespaces creates, for a server dry run, each migrating namespace green does not
// have yet — empty, labelled LabelDryRunScratch — because the apiserver cannot dry-run an
// object into a namespace that does not exist (a dry-run Namespace does not persist).
// Every namespaced object is then validated and admitted by green for real.
func (r *run) scratchNamespaces(ctx context.Context, its []*item) {
	ri := r.greenDyn.Resource(gvrNamespaces)
	for _, it := range its {
		if it.skip != "" || it.failed != "" || it.obj.GetKind() != "Namespace" {
			continue
		}
		name := it.obj.GetName()
		if _, err := ri.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			continue
		}
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(name)
		ns.SetLabels(map[string]string{LabelDryRunScratch: r.res.ID})
		if _, err := ri.Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			r.res.Warn(it.ref(), "could not create it empty on green for the server dry run, so its objects are not validated: %v", err)
			continue
		}
		r.scratch = append(r.scratch, name)
		it.notes = append(it.notes, "created empty on green for the server dry run so that its objects are validated; deleted when the dry run ends")
	}
}

// dropScratchNamespaces deletes the namespaces scratchNamespaces created, even when the
// dry run was cancelled.
func (r *run) dropScratchNamespaces() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range r.scratch {
		err := r.greenDyn.Resource(gvrNamespaces).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			r.res.messages(name).Warnings = append(r.res.messages(name).Warnings,
				fmt.Sprintf("the empty namespace created on green for the server dry run could not be deleted: %v (delete it: kubectl delete ns -l %s)", err, LabelDryRunScratch))
		}
	}
}
