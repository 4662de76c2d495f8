package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// DefaultWebhookTimeout bounds the wait for the Services behind admission webhooks and
// APIServices to have ready endpoints on green.
const DefaultWebhookTimeout = 2 * time.Minute

var (
	gvrEndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	gvrEndpoints      = schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}
)

// webhookBackends returns the Services ("namespace/name") an admission webhook
// configuration's webhooks or an APIService call, sorted.
func webhookBackends(obj *unstructured.Unstructured) []string {
	set := map[string]bool{}
	add := func(svc map[string]any) {
		if ns, name := strField(svc, "namespace"), strField(svc, "name"); ns != "" && name != "" {
			set[ns+"/"+name] = true
		}
	}
	switch obj.GetKind() {
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		for _, h := range hooks {
			if m, ok := h.(map[string]any); ok {
				svc, _, _ := unstructured.NestedMap(m, "clientConfig", "service")
				add(svc)
			}
		}
	case "APIService":
		svc, _, _ := unstructured.NestedMap(obj.Object, "spec", "service")
		add(svc)
	}
	return sortedKeys(set)
}

// gateWebhooks runs before the webhooks level: it waits, up to o.WebhookTimeout in all,
// until every Service a webhook or APIService of the level calls has a ready endpoint on
// green, so that a fail-closed webhook never lands before its backend serves (it would
// refuse the writes it matches, pods of the migrated workloads included). A webhook whose
// backend is still not ready is held back with o.HoldWebhooks (failed, for a --resume
// once the backend serves), and otherwise applied with a loud warning.
func (r *run) gateWebhooks(ctx context.Context, its []*item) {
	if r.o.DryRun != DryRunNone {
		return
	}
	waiting := map[string][]*item{} // Service -> the items it backs
	for _, it := range its {
		if it.skip != "" || it.failed != "" || r.resumed(it) {
			continue
		}
		for _, svc := range webhookBackends(it.obj) {
			waiting[svc] = append(waiting[svc], it)
		}
	}
	if len(waiting) == 0 {
		return
	}
	svcs := make([]string, 0, len(waiting))
	for s := range waiting {
		svcs = append(svcs, s)
	}
	slices.Sort(svcs)
	r.o.Progress(fmt.Sprintf("  waiting up to %s for the backends of admission webhooks and APIServices to have ready endpoints on green: %s",
		r.o.WebhookTimeout, strings.Join(svcs, ", ")))
	began := time.Now()
	ready := map[string]time.Duration{}
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.o.WebhookTimeout, true, func(ctx context.Context) (bool, error) {
		for _, svc := range svcs {
			if _, ok := ready[svc]; ok {
				continue
			}
			if r.hasReadyEndpoints(ctx, svc) {
				ready[svc] = time.Since(began).Round(100 * time.Millisecond)
			}
		}
		return len(ready) == len(svcs), nil
	})
	if ctx.Err() != nil {
		return
	}
	for _, svc := range svcs {
		for _, it := range waiting[svc] {
			if d, ok := ready[svc]; ok {
				it.notes = append(it.notes, fmt.Sprintf("applied once its backend Service %s had ready endpoints on green (waited %s)", svc, d))
				continue
			}
			why := fmt.Sprintf("its backend Service %s had no ready endpoints on green after %s", svc, r.o.WebhookTimeout)
			if r.o.HoldWebhooks {
				if it.failed == "" {
					it.failed = "held back (--hold-webhooks): " + why + "; once the backend serves, rerun with --resume to apply it"
				}
				continue
			}
			msg := "WARNING: applied although " + why + ": while the backend is down, a webhook with failurePolicy Fail refuses the writes it matches (pods of the migrated workloads included); fix the backend, or rerun with --hold-webhooks to hold such webhooks back"
			it.notes = append(it.notes, msg)
			r.o.Progress(fmt.Sprintf("  %s %s", RefOf(it.obj), msg))
		}
	}
}

// resumed reports whether a resume skips it (done before the run was interrupted).
func (r *run) resumed(it *item) bool {
	prev, ok := r.prev[it.ref().Key()]
	return ok && r.resume && final(prev.Outcome) && prev.Hash == it.hash
}

// hasReadyEndpoints reports whether Service "namespace/name" has at least one ready
// endpoint on green (EndpointSlices, or Endpoints where green serves no EndpointSlices).
func (r *run) hasReadyEndpoints(ctx context.Context, svc string) bool {
	ns, name, _ := strings.Cut(svc, "/")
	if r.gIdx.Served(gvrEndpointSlices.GroupVersion().WithKind("EndpointSlice")) {
		l, err := r.greenDyn.Resource(gvrEndpointSlices).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + name})
		if err != nil {
			return false
		}
		for _, s := range l.Items {
			eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
			for _, e := range eps {
				m, _ := e.(map[string]any)
				if ready, found, _ := unstructured.NestedBool(m, "conditions", "ready"); !found || ready {
					return true
				}
			}
		}
		return false
	}
	ep, err := r.greenDyn.Resource(gvrEndpoints).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	subsets, _, _ := unstructured.NestedSlice(ep.Object, "subsets")
	for _, s := range subsets {
		m, _ := s.(map[string]any)
		if addrs, _, _ := unstructured.NestedSlice(m, "addresses"); len(addrs) > 0 {
			return true
		}
	}
	return false
}
