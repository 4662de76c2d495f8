package migrate

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// item is one object on its way from blue to green.
type item struct {
	obj     *unstructured.Unstructured // as read from blue, then sanitized and converted in place
	readRef Ref                        // as read from blue
	from    string                     // apiVersion blue's clients used
	offline bool                       // green serves no version blue serves: convert offline
	custom  bool                       // a custom resource whose CRD moves too
	skip    string
	failed  string
	notes   []string
	level   int
	hash    string
}

func (it *item) ref() Ref { return RefOf(it.obj) }

// discoverer lists blue.
type discoverer struct {
	o      *Options
	blue   dynamic.Interface
	bIdx   *apiIndex
	gIdx   *apiIndex
	res    *Result
	crds   map[schema.GroupResource]*unstructured.Unstructured // blue's CRDs by the resource they define
	items  []*item
	seen   map[string]bool
	listed map[schema.GroupResource][]*item
}

// readPlan decides the version to read a resource in from blue: a version green serves
// when blue serves it too (blue converts), else blue's preferred version (offline).
func (d *discoverer) readPlan(gr schema.GroupResource) (version string, offline bool) {
	bi := d.bIdx.byGR[gr]
	target := gr
	if g, ok := legacyAliases[gr]; ok {
		target.Group = g
	}
	if gi := d.gIdx.byGR[target]; gi != nil && target == gr {
		for _, v := range gi.Versions {
			for _, bv := range bi.Versions {
				if v == bv {
					return v, false
				}
			}
		}
	}
	return bi.Versions[0], true
}

// list reads every object of one resource (paginated) in ns ("" for cluster-scoped).
func (d *discoverer) list(ctx context.Context, gvr schema.GroupVersionResource, ns, selector string) ([]unstructured.Unstructured, error) {
	var ri dynamic.ResourceInterface = d.blue.Resource(gvr)
	if ns != "" {
		ri = d.blue.Resource(gvr).Namespace(ns)
	}
	opts := metav1.ListOptions{Limit: 500, LabelSelector: selector}
	var out []unstructured.Unstructured
	for {
		l, err := ri.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing %s on blue: %w", gvr.GroupResource(), err)
		}
		out = append(out, l.Items...)
		if l.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = l.GetContinue()
	}
}

func (d *discoverer) add(obj *unstructured.Unstructured, gr schema.GroupResource, offline bool) *item {
	ref := RefOf(obj)
	if g, ok := legacyAliases[gr]; ok && offline {
		ref.Group = g // an object read from extensions is the same object as in its new group
	}
	if d.seen[ref.Key()] {
		return nil
	}
	d.seen[ref.Key()] = true
	_, custom := d.crds[gr]
	it := &item{obj: obj, readRef: RefOf(obj), from: clientVersion(obj), offline: offline && !custom, custom: custom}
	d.items = append(d.items, it)
	d.listed[gr] = append(d.listed[gr], it)
	return it
}

// discover lists the selected namespaces on blue and the cluster-scoped objects they need.
func (d *discoverer) discover(ctx context.Context) error {
	d.seen, d.listed = map[string]bool{}, map[schema.GroupResource][]*item{}
	if err := d.loadCRDs(ctx); err != nil {
		return err
	}
	for _, ns := range d.o.Namespaces {
		if err := d.addNamespace(ctx, ns); err != nil {
			return err
		}
	}
	var grs []schema.GroupResource
	for gr, ri := range d.bIdx.byGR {
		if !ri.Namespaced || !ri.can("list") {
			continue
		}
		if _, skip := skippedResources[gr]; skip {
			continue
		}
		if g, ok := legacyAliases[gr]; ok && d.bIdx.byGR[schema.GroupResource{Group: g, Resource: gr.Resource}] != nil {
			continue // blue serves the same objects in the new group: read them there
		}
		grs = append(grs, gr)
	}
	sort.Slice(grs, func(i, j int) bool { return grs[i].String() < grs[j].String() })
	for _, ns := range d.o.Namespaces {
		for _, gr := range grs {
			v, offline := d.readPlan(gr)
			objs, err := d.list(ctx, gr.WithVersion(v), ns, d.o.Selector)
			if err != nil {
				if listFailure(err) {
					d.res.addUnread(unreadList(gr, ns, err))
					continue
				}
				return err
			}
			for i := range objs {
				d.add(&objs[i], gr, offline)
			}
		}
	}
	d.markSkips()
	return d.addClusterDeps(ctx)
}

func (d *discoverer) addNamespace(ctx context.Context, ns string) error {
	gr := schema.GroupResource{Resource: "namespaces"}
	v, _ := d.readPlan(gr)
	obj, err := d.blue.Resource(gr.WithVersion(v)).Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %q does not exist on blue (list them with `kubectl --context BLUE get ns`): nothing was written", ns)
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s on blue: %w", ns, err)
	}
	d.add(obj, gr, false)
	return nil
}

// loadCRDs indexes blue's CRDs by the resource each defines.
func (d *discoverer) loadCRDs(ctx context.Context) error {
	d.crds = map[schema.GroupResource]*unstructured.Unstructured{}
	gr := schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	if d.bIdx.byGR[gr] == nil {
		return nil
	}
	v, _ := d.readPlan(gr)
	objs, err := d.list(ctx, gr.WithVersion(v), "", "")
	if listFailure(err) {
		d.res.addUnread(unreadList(gr, "", err))
		return nil
	}
	if err != nil {
		return err
	}
	for i := range objs {
		g, _, _ := unstructured.NestedString(objs[i].Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(objs[i].Object, "spec", "names", "plural")
		d.crds[schema.GroupResource{Group: g, Resource: plural}] = &objs[i]
	}
	return nil
}

// markSkips records why objects green re-creates by itself are not moved.
func (d *discoverer) markSkips() {
	selectorServices := map[string]bool{}
	for _, it := range d.listed[schema.GroupResource{Resource: "services"}] {
		if sel, _, _ := unstructured.NestedMap(it.obj.Object, "spec", "selector"); len(sel) > 0 {
			selectorServices[it.obj.GetNamespace()+"/"+it.obj.GetName()] = true
		}
	}
	for _, it := range d.items {
		if it.skip == "" {
			it.skip = skipReason(it.obj, selectorServices)
		}
	}
}

// clientVersion is the apiVersion blue's clients wrote the object with, from its
// managedFields (the first entry of the main resource in another version than it was read
// in), or the version it was read in.
func clientVersion(obj *unstructured.Unstructured) string {
	for _, mf := range obj.GetManagedFields() {
		if mf.Subresource == "" && mf.APIVersion != "" && mf.APIVersion != obj.GetAPIVersion() {
			return mf.APIVersion
		}
	}
	return obj.GetAPIVersion()
}
