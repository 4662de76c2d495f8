package migrate

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// clusterIdentity names a cluster independent of what the workspace calls it: the UID of
// its kube-system namespace (made once, when the cluster was created), or, when that
// cannot be read, the apiserver's address.
func clusterIdentity(ctx context.Context, dyn dynamic.Interface, host string) string {
	ns, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, "kube-system", metav1.GetOptions{})
	if err == nil && ns.GetUID() != "" {
		return "kube-system-uid:" + string(ns.GetUID())
	}
	return "server:" + host
}

// sameClusters refuses to resume migration id (meta) with another blue or green than the
// ones it started with: by name when both runs name them, and by identity.
func (r *run) sameClusters(ctx context.Context, id string, meta Meta) error {
	check := func(role, wasName, wasID, name string, dyn dynamic.Interface, host string) error {
		now := clusterIdentity(ctx, dyn, host)
		if wasName != "" && name != "" && wasName != name {
			return fmt.Errorf("migration %s moved objects with %s %q, not %q: rerun without --resume to start a new migration, or resume with the %s of the interrupted run", id, role, wasName, name, role)
		}
		if wasID != "" && wasID != now {
			what := name
			if what == "" {
				what = host
			}
			return fmt.Errorf("migration %s moved objects with another %s cluster than %s (it was %s, this one is %s): rerun without --resume to start a new migration, or resume with the %s of the interrupted run", id, role, what, wasID, now, role)
		}
		return nil
	}
	if err := check("blue", meta.Blue, meta.BlueID, r.o.BlueName, r.blueDyn, r.o.Blue.Host); err != nil {
		return err
	}
	return check("green", meta.Green, meta.GreenID, r.o.GreenName, r.greenDyn, r.o.Green.Host)
}
