package migrate

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// PlannedObject is one object as a migration would apply it to green.
type PlannedObject struct {
	// Ref names the object as green receives it; ReadRef as it was read from blue.
	Ref, ReadRef Ref
	// Object is sanitized and converted (nil fields never: for skipped objects it is the
	// object as read).
	Object *unstructured.Unstructured
	// Skip or Failed say why the object is not applied.
	Skip, Failed string
	Level        int
	Hash         string
}

// Plan runs discover, sanitize and convert — the same steps Run takes — and returns the
// objects as they would be applied, without writing anywhere. Green is only asked what
// it serves. verify uses it to compute what green should hold.
func Plan(ctx context.Context, opts Options) ([]PlannedObject, *Result, error) {
	if err := opts.defaults(false); err != nil {
		return nil, nil, err
	}
	r, err := newRun(opts)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range phases[:3] {
		if err := p.run(r, ctx); err != nil {
			return nil, r.res, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	out := make([]PlannedObject, 0, len(r.items))
	for _, it := range r.items {
		p := PlannedObject{ReadRef: it.readRef, Ref: it.ref(), Object: it.obj, Skip: it.skip, Failed: it.failed, Level: it.level, Hash: it.hash}
		if it.skip != "" {
			p.Ref = it.readRef
		}
		out = append(out, p)
	}
	if n := len(r.blueLog.Refused()); n > 0 {
		return nil, r.res, fmt.Errorf("phoenix tried to write to blue %d times and was stopped (a bug, please report)", n)
	}
	return out, r.res, nil
}
