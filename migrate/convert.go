package migrate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/phoenix-upgrade/phoenix/migrate/convert"
)

// registry is the offline converter table (package migrate/convert).
var registry = convert.Default()

// offlineConvert rewrites obj into a version served reports as served, and returns the
// notes (defaults chosen, fields dropped) as plain messages.
func offlineConvert(obj *unstructured.Unstructured, served func(schema.GroupVersionKind) bool) (*unstructured.Unstructured, []string, error) {
	out, notes, err := registry.Convert(obj, convert.Served(served))
	return out, noteStrings(notes), err
}

// pspToPodSecurity translates one PodSecurityPolicy to a Pod Security Admission level.
func pspToPodSecurity(psp *unstructured.Unstructured) (string, bool, []string) {
	level, faithful, notes := convert.PSPToPodSecurity(psp)
	return level, faithful, noteStrings(notes)
}

func noteStrings(notes []convert.Note) []string {
	out := make([]string, 0, len(notes))
	for _, n := range notes {
		s := n.Message
		if n.Field != "" {
			s = n.Field + ": " + s
		}
		if n.From != "" && n.To != "" {
			s = fmt.Sprintf("%s -> %s: %s", n.From, n.To, s)
		}
		if n.Kind != "" {
			s = n.Kind + ": " + s
		}
		out = append(out, s)
	}
	return out
}

func schemaGR(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}
