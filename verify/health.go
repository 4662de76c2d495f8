package verify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/migrate"
)

var (
	gvrSlices    = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	gvrEndpoints = schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}
	gvrPVC       = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// health checks, on green, the workloads, Services and PVCs the plan moved. A Service
// needs endpoints and a PVC needs to be bound on green only when it is so on blue.
func health(ctx context.Context, blue *rest.Config, greenDyn dynamic.Interface, plan []migrate.PlannedObject, green map[string]*unstructured.Unstructured) []Check {
	var out []Check
	// One request per Service with endpoints: client-go's default 5 QPS made this the
	// slowest part of verify (100 s for 250 Services), so raise it like every bulk client.
	blueCfg, _ := migrate.ReadOnly(kube.Throttle(rest.CopyConfig(blue), kube.DefaultQPS, kube.DefaultBurst))
	blueDyn, err := dynamic.NewForConfig(blueCfg)
	if err != nil {
		return []Check{{Check: "blue", Message: err.Error()}}
	}
	for _, p := range plan {
		if p.Skip != "" || p.Failed != "" {
			continue
		}
		obj := green[p.Ref.Key()]
		name := p.Ref.String()
		switch p.Ref.Group + "/" + p.Ref.Kind {
		case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet":
			if obj == nil {
				continue // reported as missing
			}
			ok, msg := workloadReady(obj)
			out = append(out, Check{Object: name, Check: "ready", Passed: ok, Message: msg})
		case "/Service":
			if obj == nil {
				continue
			}
			sel, _, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
			if len(sel) == 0 {
				continue
			}
			if readyEndpoints(ctx, blueDyn, p.Ref) == 0 {
				continue // blue has none either
			}
			n := readyEndpoints(ctx, greenDyn, p.Ref)
			out = append(out, Check{Object: name, Check: "endpoints", Passed: n > 0, Message: fmt.Sprintf("%d ready endpoints on green", n)})
		case "/PersistentVolumeClaim":
			if obj == nil {
				continue
			}
			b, err := blueDyn.Resource(gvrPVC).Namespace(p.Ref.Namespace).Get(ctx, p.Ref.Name, metav1.GetOptions{})
			if err != nil || phase(b) != "Bound" {
				continue
			}
			out = append(out, Check{Object: name, Check: "bound", Passed: phase(obj) == "Bound", Message: "phase " + phase(obj) + " on green"})
		}
	}
	return out
}

func phase(o *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(o.Object, "status", "phase")
	if s == "" {
		return "Pending"
	}
	return s
}

// workloadReady reports whether a Deployment is Available with every replica updated
// and available, a StatefulSet has every replica ready, a DaemonSet every pod available.
func workloadReady(o *unstructured.Unstructured) (bool, string) {
	i := func(f ...string) int64 { v, _, _ := unstructured.NestedInt64(o.Object, f...); return v }
	want := int64(1)
	if v, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
		want = v
	}
	switch o.GetKind() {
	case "Deployment":
		avail := i("status", "availableReplicas")
		return avail >= want && i("status", "updatedReplicas") >= want, fmt.Sprintf("%d/%d available", avail, want)
	case "StatefulSet":
		ready := i("status", "readyReplicas")
		return ready >= want, fmt.Sprintf("%d/%d ready", ready, want)
	default:
		d, a := i("status", "desiredNumberScheduled"), i("status", "numberAvailable")
		return a >= d, fmt.Sprintf("%d/%d available", a, d)
	}
}

// readyEndpoints counts a Service's ready endpoints from its EndpointSlices, or from its
// Endpoints on clusters older than discovery.k8s.io/v1 (before 1.21).
func readyEndpoints(ctx context.Context, dyn dynamic.Interface, ref migrate.Ref) int {
	slices, err := dyn.Resource(gvrSlices).Namespace(ref.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + ref.Name})
	if err == nil {
		n := 0
		for _, s := range slices.Items {
			eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
			for _, e := range eps {
				m, _ := e.(map[string]any)
				if ready, ok, _ := unstructured.NestedBool(m, "conditions", "ready"); !ok || ready {
					n++
				}
			}
		}
		return n
	}
	ep, err := dyn.Resource(gvrEndpoints).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return 0
	}
	n := 0
	subsets, _, _ := unstructured.NestedSlice(ep.Object, "subsets")
	for _, s := range subsets {
		m, _ := s.(map[string]any)
		addrs, _, _ := unstructured.NestedSlice(m, "addresses")
		n += len(addrs)
	}
	return n
}

// probe sends GET to each URL; a status below 400 passes.
func probe(ctx context.Context, o Options, urls []string) []Check {
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	timeout := o.ProbeTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var out []Check
	for _, u := range urls {
		c := Check{Object: u, Check: "probe"}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		req, err := http.NewRequestWithContext(pctx, http.MethodGet, u, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = client.Do(req); err == nil {
				_ = resp.Body.Close()
				c.Passed = resp.StatusCode < 400
				c.Message = resp.Status
			}
		}
		cancel()
		if err != nil {
			c.Message = err.Error()
		}
		out = append(out, c)
	}
	return out
}
