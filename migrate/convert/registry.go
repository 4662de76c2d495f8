package convert

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// Converter rewrites one API version of one kind into the next (pure function, no I/O).
type Converter interface {
	// Name says what it converts: "extensions/v1beta1 Ingress -> networking.k8s.io/v1beta1".
	Name() string
	// AppliesTo reports whether Convert accepts objects of gvk.
	AppliesTo(gvk schema.GroupVersionKind) bool
	// Convert returns a converted copy of obj (obj is not modified) and the notes of
	// the defaults it chose, the fields it dropped and the lossy translations it made.
	Convert(obj *unstructured.Unstructured) (*unstructured.Unstructured, []Note, error)
}

// Served answers whether a group/version/kind is served by the target. The migrate
// pipeline builds it from green's discovery; offline it comes from ServedBy.
type Served func(gvk schema.GroupVersionKind) bool

// Registry holds converters and chains them (e.g. extensions/v1beta1 Ingress ->
// networking.k8s.io/v1beta1 -> networking.k8s.io/v1). The zero value is empty; Default
// returns every converter phoenix ships.
type Registry struct {
	converters []Converter
}

// maxChain bounds a conversion chain (the longest real one, flowcontrol v1beta1 -> v1, has
// three steps); it stops a registry with a cycle from looping forever.
const maxChain = 8

// NewRegistry returns a registry holding cs, tried in order.
func NewRegistry(cs ...Converter) *Registry { return &Registry{converters: cs} }

// Register adds converters; the first one that applies to a kind wins.
func (r *Registry) Register(cs ...Converter) { r.converters = append(r.converters, cs...) }

// Converters lists the registered converters in order.
func (r *Registry) Converters() []Converter { return append([]Converter(nil), r.converters...) }

// For returns the first converter that applies to gvk, or nil.
func (r *Registry) For(gvk schema.GroupVersionKind) Converter {
	for _, c := range r.converters {
		if c.AppliesTo(gvk) {
			return c
		}
	}
	return nil
}

// Convert chains converters until obj's apiVersion is served, or returns an error naming
// the object and what to do when no path exists. When several versions along the chain
// are served, it stops at the newest of them (flowcontrol v1beta2 goes to v1, not to the
// deprecated v1beta3, when the target serves both). An already-served object comes back
// unchanged, with no notes. obj is never modified.
func (r *Registry) Convert(obj *unstructured.Unstructured, served Served) (*unstructured.Unstructured, []Note, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || obj.GetAPIVersion() == "" {
		return nil, nil, fmt.Errorf("object %q has no apiVersion or kind: it is not a Kubernetes object", obj.GetName())
	}
	if served(gvk) {
		return obj, nil, nil
	}
	var (
		cur        = obj
		notes      []Note
		best       *unstructured.Unstructured
		bestNotes  int
		path       = []string{gvk.GroupVersion().String()}
		stepErr    error
		seen       = map[schema.GroupVersionKind]bool{gvk: true}
		lastGVK    = gvk
		noneAtLast = false
	)
	for range maxChain {
		c := r.For(cur.GroupVersionKind())
		if c == nil {
			noneAtLast = true
			break
		}
		out, n, err := c.Convert(cur)
		if err != nil {
			stepErr = fmt.Errorf("%s: %s: %w", ObjectName(obj), c.Name(), err)
			break
		}
		notes = append(notes, n...)
		cur = out
		lastGVK = out.GroupVersionKind()
		path = append(path, lastGVK.GroupVersion().String())
		if served(lastGVK) {
			best, bestNotes = out, len(notes)
		}
		if seen[lastGVK] {
			break
		}
		seen[lastGVK] = true
	}
	if best != nil {
		return best, notes[:bestNotes:bestNotes], nil
	}
	if stepErr != nil {
		return nil, notes, stepErr
	}
	if len(path) == 1 {
		return nil, nil, fmt.Errorf("%s: %s is not served by the target and phoenix has no converter for it: %s",
			ObjectName(obj), gvk.GroupVersion(), noPathAdvice(gvk))
	}
	why := "the chain ends there"
	if !noneAtLast {
		why = "the chain is too long or loops"
	}
	return nil, notes, fmt.Errorf("%s: converted %s, but the target serves none of these versions and %s: %s",
		ObjectName(obj), strings.Join(path, " -> "), why, noPathAdvice(lastGVK))
}

// noPathAdvice says what the operator can do when an object cannot be converted.
func noPathAdvice(gvk schema.GroupVersionKind) string {
	switch {
	case gvk.Kind == "PodSecurityPolicy":
		return "PodSecurityPolicy was removed in v1.25 and has no successor; label the namespaces with Pod Security Admission levels instead (phoenix migrate does that, see docs/convert.md) and drop the object"
	case isBuiltinGroup(gvk.Group):
		return "the target is older than the version this object uses, or the kind was removed without successor; rewrite it by hand for the target, or pick a newer target"
	}
	return "for a custom resource, make sure its CustomResourceDefinition (which serves this version) is migrated first; otherwise rewrite the object for a version the target serves"
}

// isBuiltinGroup reports whether group belongs to Kubernetes itself.
func isBuiltinGroup(group string) bool {
	return group == "" || !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

// ServedBy answers offline for a target Kubernetes version, from the table of which
// versions each minor from 1.14 to 1.37 serves by default (versions only served when an
// administrator enables them, alpha versions and beta versions off by default, count as
// not served). Kinds the table does not know (core/v1, custom resources) count as served,
// except in Kubernetes' own groups: an alpha version, or a group/version that Kubernetes
// removed (every kind the table lists for it ends or is off: extensions/v1beta1,
// apps/v1beta2, ...), serves no kind the table does not list (an extensions/v1beta1 Job is
// not served anywhere). Minors newer than the table are answered as the newest minor it
// knows.
func ServedBy(target kube.Version) Served {
	minor := target.Minor
	if target.Major > 1 {
		minor = newestKnownMinor
	}
	minor = min(minor, newestKnownMinor)
	return func(gvk schema.GroupVersionKind) bool {
		span, ok := servedTable[gvk]
		if !ok {
			if isBuiltinGroup(gvk.Group) && (removedGV[gvk.GroupVersion()] || strings.Contains(gvk.Version, "alpha")) {
				return false
			}
			return true
		}
		return span.servedIn(minor)
	}
}
