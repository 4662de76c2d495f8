package convert

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// step is the Converter every converter of this package is: it applies to some kinds of
// one group/version, sets the new apiVersion on a deep copy and lets fn rewrite fields.
// A step without fn is a pure rename (the schema did not change between the versions).
type step struct {
	from  schema.GroupVersion
	kinds []string
	to    schema.GroupVersion
	fn    func(o *object) error
}

var _ Converter = (*step)(nil)

// rename is a step for kinds whose schema is the same in both versions.
func rename(from, to string, kinds ...string) *step {
	return &step{from: gv(from), to: gv(to), kinds: kinds}
}

// rewrite is a step with a field rewrite.
func rewrite(from, to string, fn func(o *object) error, kinds ...string) *step {
	return &step{from: gv(from), to: gv(to), kinds: kinds, fn: fn}
}

func gv(s string) schema.GroupVersion {
	g, err := schema.ParseGroupVersion(s)
	if err != nil {
		panic(err)
	}
	return g
}

func (s *step) Name() string {
	return fmt.Sprintf("%s %s -> %s", s.from, strings.Join(s.kinds, ","), s.to)
}

func (s *step) AppliesTo(gvk schema.GroupVersionKind) bool {
	return gvk.GroupVersion() == s.from && slices.Contains(s.kinds, gvk.Kind)
}

func (s *step) Convert(in *unstructured.Unstructured) (*unstructured.Unstructured, []Note, error) {
	if !s.AppliesTo(in.GroupVersionKind()) {
		return nil, nil, fmt.Errorf("converter %s does not apply to %s", s.Name(), in.GroupVersionKind())
	}
	o := &object{
		Unstructured: in.DeepCopy(),
		noter:        noter{object: ObjectName(in), from: s.from, to: s.to},
	}
	o.SetAPIVersion(s.to.String())
	if s.fn != nil {
		if err := s.fn(o); err != nil {
			return nil, nil, err
		}
	}
	return o.Unstructured, o.notes, nil
}

// object is the copy a step rewrites, with its notes and field helpers. Paths are
// dot-separated ("spec.selector"); they never index into lists.
type object struct {
	*unstructured.Unstructured
	noter
}

func path(p string) []string { return strings.Split(p, ".") }

// get returns the value at p in m and whether it is set (to anything but null).
func get(m map[string]any, p string) (any, bool) {
	v, ok, _ := unstructured.NestedFieldNoCopy(m, path(p)...)
	return v, ok && v != nil
}

func getMap(m map[string]any, p string) (map[string]any, bool) {
	v, ok := get(m, p)
	mm, isMap := v.(map[string]any)
	return mm, ok && isMap
}

func getSlice(m map[string]any, p string) ([]any, bool) {
	v, ok := get(m, p)
	s, isSlice := v.([]any)
	return s, ok && isSlice
}

func getString(m map[string]any, p string) string {
	v, _ := get(m, p)
	s, _ := v.(string)
	return s
}

// set writes v at p, creating maps on the way.
func set(m map[string]any, p string, v any) {
	if err := unstructured.SetNestedField(m, v, path(p)...); err != nil {
		// A non-map on the way: replace it, the object was malformed there anyway.
		parts := path(p)
		cur := m
		for _, k := range parts[:len(parts)-1] {
			next, ok := cur[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[k] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
}

func del(m map[string]any, p string) { unstructured.RemoveNestedField(m, path(p)...) }

// move moves the value at from to to (both relative to m) and reports whether there was one.
func move(m map[string]any, from, to string) bool {
	v, ok := get(m, from)
	if !ok {
		del(m, from)
		return false
	}
	del(m, from)
	set(m, to, v)
	return true
}

// int64Of reads a JSON number (int64 from YAML/JSON decoding, float64 from some decoders).
func int64Of(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

// forEachMap calls fn for every map element of the list at p.
func forEachMap(m map[string]any, p string, fn func(i int, item map[string]any) error) error {
	list, ok := getSlice(m, p)
	if !ok {
		return nil
	}
	for i, it := range list {
		if mm, ok := it.(map[string]any); ok {
			if err := fn(i, mm); err != nil {
				return err
			}
		}
	}
	return nil
}

// emptyMap reports whether v is a map with nothing set (null values, empty maps and
// empty lists count as nothing).
func emptyMap(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, x := range m {
		switch y := x.(type) {
		case nil:
		case map[string]any:
			if len(y) != 0 {
				return false
			}
		case []any:
			if len(y) != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// stringsOf converts a []any of strings.
func stringsOf(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func anyStrings(ss ...string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// deepCopyJSON copies a JSON-like value (maps, lists, scalars).
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyJSON(e)
		}
		return out
	}
	return v
}

// setAnnotations writes ann, removing metadata.annotations when nothing is left.
func setAnnotations(o *object, ann map[string]string) {
	if len(ann) == 0 {
		ann = nil
	}
	o.SetAnnotations(ann)
}
