package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// final outcomes are not redone by a resume.
func final(o Outcome) bool { return o == Applied || o == Converted || o == Unchanged || o == Skipped }

func (r *run) apply(ctx context.Context) error {
	levels := make([][]*item, numLevels)
	for _, it := range r.items {
		levels[it.level] = append(levels[it.level], it)
	}
	r.applyStart = time.Now()
	if r.o.DryRun == DryRunServer {
		defer r.dropScratchNamespaces()
	}
	for l, its := range levels {
		if len(its) == 0 {
			continue
		}
		r.o.Progress(fmt.Sprintf("Level %d/%d %s: %d objects", l+1, numLevels, LevelName(l), len(its)))
		if l == LevelWebhooks {
			r.gateWebhooks(ctx, its)
		}
		if l == LevelNamespaces && r.o.DryRun == DryRunServer {
			r.scratchNamespaces(ctx, its)
		}
		r.mu.Lock()
		r.level, r.levelDone, r.levelTotal = l, 0, len(its)
		r.mu.Unlock()
		r.applyLevel(ctx, its)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped during level %s (rerun with --resume to continue): %w", LevelName(l), err)
		}
		if l == LevelCRDs && r.o.DryRun == DryRunNone {
			if err := r.waitEstablished(ctx, its); err != nil {
				return err
			}
		}
	}
	r.o.Progress(fmt.Sprintf("Done: %s", r.res.Summary()))
	return nil
}

// applyLevel applies one level with o.Concurrency workers.
func (r *run) applyLevel(ctx context.Context, its []*item) {
	ch := make(chan *item)
	var wg sync.WaitGroup
	for range min(r.o.Concurrency, len(its)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				r.applyOne(ctx, it)
			}
		}()
	}
feed:
	for _, it := range its {
		select {
		case ch <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
}

func (r *run) applyOne(ctx context.Context, it *item) {
	rec := Record{Ref: it.ref(), Level: it.level, Hash: it.hash, From: it.from, To: it.obj.GetAPIVersion(), Notes: it.notes}
	switch {
	case it.skip != "":
		rec.Ref, rec.To, rec.Outcome, rec.Reason = it.readRef, "", Skipped, it.skip
	case it.failed != "":
		rec.Outcome, rec.Reason = Failed, Scrub(it.failed, it.obj)
	default:
		if r.resumed(it) {
			r.finish(r.prev[rec.Ref.Key()], false) // done before the run was interrupted
			return
		}
		if r.o.DryRun == DryRunClient {
			rec.Outcome = Planned
			break
		}
		var out *unstructured.Unstructured
		out, rec.Outcome, rec.Reason = r.send(ctx, it)
		if out != nil {
			rec.ResourceVersion, rec.Stamp = out.GetResourceVersion(), stamp(out)
		}
		if rec.Outcome == "" { // cancelled: leave it to the resume
			return
		}
		if prev, ok := r.prev[rec.Ref.Key()]; ok && rec.Outcome != Failed && rec.Outcome != Planned && prev.Hash == it.hash &&
			((rec.Stamp != "" && prev.Stamp == rec.Stamp) || (rec.ResourceVersion != "" && prev.ResourceVersion == rec.ResourceVersion)) {
			rec.Outcome = Unchanged
		}
	}
	r.finish(rec, true)
}

func (r *run) finish(rec Record, journal bool) {
	if journal {
		if err := r.j.Append(rec); err != nil {
			rec.Outcome, rec.Reason = Failed, err.Error()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.record(ObjectResult{Ref: rec.Ref, Outcome: rec.Outcome, Reason: rec.Reason, From: rec.From, To: rec.To, Level: rec.Level, Notes: rec.Notes})
	r.done++
	r.levelDone++
	if rec.Outcome == Failed {
		r.o.Progress(fmt.Sprintf("  FAILED %s: %s", rec.Ref, rec.Reason))
	}
	if r.o.OnApply != nil {
		r.o.OnApply(ApplyProgress{Done: r.done, Total: len(r.items), Level: r.level, Levels: numLevels,
			LevelDone: r.levelDone, LevelTotal: r.levelTotal, Elapsed: time.Since(r.applyStart)})
	} else if r.done%500 == 0 {
		r.o.Progress(fmt.Sprintf("  %d/%d objects", r.done, len(r.items)))
	}
}

// send server-side applies one object to green and classifies the answer, returning
// green's object when it was applied. An empty outcome means the context was cancelled
// before green answered.
func (r *run) send(ctx context.Context, it *item) (*unstructured.Unstructured, Outcome, string) {
	gvk := it.obj.GroupVersionKind()
	gvr, namespaced, err := r.gIdx.resourceFor(gvk)
	if err != nil {
		if r.o.DryRun == DryRunServer && r.crdServed[gvk] {
			return nil, Planned, "not validated: its CustomResourceDefinition is only dry-run applied"
		}
		return nil, Failed, err.Error() + " (install the API on green and rerun)"
	}
	var ri dynamic.ResourceInterface = r.greenDyn.Resource(gvr)
	if namespaced {
		ri = r.greenDyn.Resource(gvr).Namespace(it.obj.GetNamespace())
	}
	data, err := json.Marshal(it.obj.Object)
	if err != nil {
		return nil, Failed, fmt.Sprintf("encoding: %v", err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &r.o.ForceConflicts}
	if r.o.DryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := ri.Patch(ctx, it.obj.GetName(), types.ApplyPatchType, data, opts)
	if err != nil && isImmutable(err) && r.o.Replace && r.o.DryRun == DryRunNone {
		if derr := r.deleteAndWait(ctx, ri, it.obj.GetName()); derr != nil {
			return nil, Failed, Scrub(fmt.Sprintf("replacing after an immutable-field clash: %v", derr), it.obj)
		}
		out, err = ri.Patch(ctx, it.obj.GetName(), types.ApplyPatchType, data, opts)
	}
	if err != nil {
		if errCanceled(ctx, err) {
			return nil, "", ""
		}
		if r.o.DryRun == DryRunServer && apierrors.IsNotFound(err) && namespaced {
			return nil, Planned, fmt.Sprintf("not validated: namespace %s does not exist on green yet", it.obj.GetNamespace())
		}
		return nil, Failed, classify(err, it.obj)
	}
	if r.o.DryRun == DryRunServer {
		return nil, Planned, "validated by green (server dry run)"
	}
	if it.from != it.obj.GetAPIVersion() {
		return out, Converted, ""
	}
	return out, Applied, ""
}

func isImmutable(err error) bool {
	return apierrors.IsInvalid(err) && strings.Contains(err.Error(), "immutable")
}

// classify turns green's refusal into a reason that says what to do.
func classify(err error, obj *unstructured.Unstructured) string {
	msg := Scrub(err.Error(), obj)
	switch {
	case apierrors.IsConflict(err):
		return "another field manager owns these fields on green: " + msg + " (rerun with --force-conflicts to take them over)"
	case strings.Contains(msg, "admission webhook") && strings.Contains(msg, "denied"):
		return "denied by an admission webhook on green: " + msg + " (fix the object or the webhook, then rerun; the other objects were applied)"
	case isImmutable(err):
		return "an immutable field differs from the object already on green: " + msg + " (rerun with --replace to delete and re-create it on green)"
	case apierrors.IsInvalid(err):
		return "green rejected the object: " + msg + " (fix it on blue and rerun; the artifacts record what was sent, they are not read back)"
	case apierrors.IsForbidden(err):
		return "forbidden on green: " + msg + " (check green's admission policies, quotas and phoenix's permissions)"
	case apierrors.IsNotFound(err):
		return "not found on green: " + msg + " (is its namespace or API there?)"
	}
	return msg
}

// deleteAndWait deletes an object on green and waits until it is gone.
func (r *run) deleteAndWait(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	policy := metav1.DeletePropagationBackground
	if err := ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	})
}

// waitEstablished waits until green serves every CRD just applied, then refreshes what
// green serves so their custom resources map.
func (r *run) waitEstablished(ctx context.Context, crds []*item) error {
	gvr, _, err := r.gIdx.resourceFor(crds[0].obj.GroupVersionKind())
	if err != nil {
		return err
	}
	var names []string
	for _, it := range crds {
		if it.skip == "" && it.failed == "" {
			names = append(names, it.obj.GetName())
		}
	}
	r.o.Progress(fmt.Sprintf("  waiting for %d CustomResourceDefinitions to be Established on green", len(names)))
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, r.o.EstablishTimeout, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := r.greenDyn.Resource(gvr).Get(ctx, n, metav1.GetOptions{})
			if err != nil || !established(crd) {
				return false, nil
			}
		}
		idx, _, err := discoverAPI(ctx, r.greenDisc.WithLegacyWithContext(ctx))
		if err != nil {
			return false, nil
		}
		for gvk := range r.crdServed {
			if !idx.Served(gvk) {
				return false, nil
			}
		}
		r.gIdx = idx
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinitions %s not Established on green within %s (check `kubectl get crd` on green; rerun with --resume): %w",
			strings.Join(names, ", "), r.o.EstablishTimeout, err)
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// stamp identifies the phoenix apply that produced obj: the phoenix Apply entry of its
// managedFields (time and a digest of the fields).
func stamp(obj *unstructured.Unstructured) string {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			t := ""
			if mf.Time != nil {
				t = mf.Time.UTC().Format(time.RFC3339)
			}
			var raw []byte
			if mf.FieldsV1 != nil {
				raw = mf.FieldsV1.GetRawBytes()
			}
			sum := sha256.Sum256(raw)
			return t + "/" + hex.EncodeToString(sum[:6])
		}
	}
	return ""
}
