package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// Diff is one field that differs between the object phoenix applied and green's.
type Diff struct {
	Path  string `json:"path"`
	Want  string `json:"want"`
	Green string `json:"green"`
}

// Compare restricts green's object to the fields of want (what phoenix applied) and
// returns the differences, with Secret values masked, and the normalized hashes of both
// sides (equal exactly when there is no diff).
func Compare(want, green *unstructured.Unstructured) (diffs []Diff, wantHash, greenHash string) {
	w := want.DeepCopy().Object
	g := green.DeepCopy().Object
	// Fields green's own controllers and cutover may change on objects phoenix moved.
	for _, m := range []map[string]any{w, g} {
		if meta, ok := m["metadata"].(map[string]any); ok {
			for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"} {
				delete(meta, f)
			}
		}
		delete(m, "status")
	}
	if _, kept := want.GetAnnotations()[migrate.AnnotationOriginalSuspend]; kept {
		// cutover resumes these; whether they are suspended is not parity.
		unstructured.RemoveNestedField(w, "spec", "suspend")
	}
	projected := project(w, g, "", &diffs)
	secret := migrate.IsSecret(want)
	for i := range diffs {
		if secret && secretPath(diffs[i].Path) {
			if diffs[i].Want != "<absent>" {
				diffs[i].Want = migrate.Masked
			}
			if diffs[i].Green != "<absent>" {
				diffs[i].Green = migrate.Masked
			}
		}
		diffs[i].Want = migrate.Scrub(diffs[i].Want, want)
		diffs[i].Green = migrate.Scrub(diffs[i].Green, want)
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Path < diffs[j].Path })
	return diffs, hash(w), hash(projected)
}

// project returns the part of got that want has fields for, recording differences.
func project(want, got any, path string, diffs *[]Diff) any {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, Diff{Path: orRoot(path), Want: render(want), Green: render(got)})
			return got
		}
		out := make(map[string]any, len(w))
		for k, wv := range w {
			p := join(path, k)
			gv, present := g[k]
			if wv == nil && (!present || gv == nil) {
				continue // null and absent both mean unset
			}
			if !present {
				*diffs = append(*diffs, Diff{Path: p, Want: render(wv), Green: "<absent>"})
				continue
			}
			out[k] = project(wv, gv, p, diffs)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, Diff{Path: orRoot(path), Want: render(want), Green: render(got)})
			return got
		}
		out := make([]any, len(w))
		for i := range w {
			out[i] = project(w[i], g[i], path+"["+strconv.Itoa(i)+"]", diffs)
		}
		return out
	default:
		if !scalarEqual(want, got) {
			*diffs = append(*diffs, Diff{Path: orRoot(path), Want: render(want), Green: render(got)})
		}
		return got
	}
}

// scalarEqual compares JSON scalars, treating 1 and 1.0 as equal.
func scalarEqual(a, b any) bool {
	return render(a) == render(b)
}

func render(v any) string {
	if v == nil {
		return "null"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(data)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func join(path, k string) string {
	if strings.ContainsAny(k, ".[]") {
		k = "[" + strconv.Quote(k) + "]"
		if path == "" {
			return k
		}
		return path + k
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func hash(v any) string {
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// secretPath reports paths of a Secret that hold values.
func secretPath(p string) bool {
	for _, f := range []string{"data", "stringData"} {
		if p == f || strings.HasPrefix(p, f+".") || strings.HasPrefix(p, f+"[") {
			return true
		}
	}
	return p == "." || p == "metadata" || strings.HasPrefix(p, "metadata.annotations") && strings.Contains(p, "last-applied-configuration") ||
		p == "metadata.annotations"
}
