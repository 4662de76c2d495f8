package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// resInfo is one resource a cluster serves, across the versions it serves it in.
type resInfo struct {
	GR         schema.GroupResource
	Kind       string
	Namespaced bool
	Verbs      []string
	// Versions in the server's order of preference.
	Versions []string
}

func (r *resInfo) can(verb string) bool { return slices.Contains(r.Verbs, verb) }

// apiIndex is what discovery told about one cluster.
type apiIndex struct {
	byGR   map[schema.GroupResource]*resInfo
	byGK   map[schema.GroupKind]*resInfo
	served map[schema.GroupVersionKind]bool
	// groups maps a group to its versions, preferred first.
	groups map[string][]string
}

// discoverAPI indexes a cluster's APIs. Groups whose discovery fails (an aggregated API
// server that is down) are left out and returned as unread.
func discoverAPI(ctx context.Context, disc discovery.DiscoveryInterfaceWithContext) (*apiIndex, []Unread, error) {
	groups, lists, err := discovery.ServerGroupsAndResourcesWithContext(ctx, disc)
	var partial []Unread
	if err != nil {
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return nil, nil, fmt.Errorf("API discovery: %w", err)
		}
		partial = unreadGroups(err)
	}
	idx := &apiIndex{
		byGR:   map[schema.GroupResource]*resInfo{},
		byGK:   map[schema.GroupKind]*resInfo{},
		served: map[schema.GroupVersionKind]bool{},
		groups: map[string][]string{},
	}
	rank := map[schema.GroupVersion]int{}
	for _, g := range groups {
		var vs []string
		if g.PreferredVersion.Version != "" {
			vs = append(vs, g.PreferredVersion.Version)
		}
		for _, v := range g.Versions {
			if !slices.Contains(vs, v.Version) {
				vs = append(vs, v.Version)
			}
		}
		idx.groups[g.Name] = vs
		for i, v := range vs {
			rank[schema.GroupVersion{Group: g.Name, Version: v}] = i
		}
	}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresource
			}
			idx.add(gv, r)
		}
	}
	for _, ri := range idx.byGR {
		slices.SortStableFunc(ri.Versions, func(a, b string) int {
			return rank[schema.GroupVersion{Group: ri.GR.Group, Version: a}] - rank[schema.GroupVersion{Group: ri.GR.Group, Version: b}]
		})
	}
	return idx, partial, nil
}

func (idx *apiIndex) add(gv schema.GroupVersion, r metav1.APIResource) {
	gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
	ri := idx.byGR[gr]
	if ri == nil {
		ri = &resInfo{GR: gr, Kind: r.Kind, Namespaced: r.Namespaced, Verbs: r.Verbs}
		idx.byGR[gr] = ri
		idx.byGK[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = ri
	}
	ri.Versions = append(ri.Versions, gv.Version)
	idx.served[gv.WithKind(r.Kind)] = true
}

// Served reports whether the cluster serves gvk.
func (idx *apiIndex) Served(gvk schema.GroupVersionKind) bool { return idx.served[gvk] }

// resourceFor maps a group, version and kind to the resource to send it to.
func (idx *apiIndex) resourceFor(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	ri := idx.byGK[gvk.GroupKind()]
	if ri == nil || !slices.Contains(ri.Versions, gvk.Version) {
		return schema.GroupVersionResource{}, false, fmt.Errorf("green does not serve %s", gvk.GroupVersion().WithKind(gvk.Kind))
	}
	return ri.GR.WithVersion(gvk.Version), ri.Namespaced, nil
}

// builtinGroup reports groups that come with Kubernetes itself.
func builtinGroup(g string) bool {
	switch g {
	case "", "apps", "batch", "extensions", "policy", "autoscaling":
		return true
	}
	return strings.HasSuffix(g, ".k8s.io")
}
