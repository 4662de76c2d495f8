package convert

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// Workloads: extensions/v1beta1, apps/v1beta1 and apps/v1beta2 Deployment, DaemonSet,
// ReplicaSet and StatefulSet -> apps/v1 (all removed in 1.16). apps/v1 requires a selector
// and defaults several fields differently; the converters write the old defaults where a
// field is unset so the workload keeps behaving as it did, and report each one.
// Defaults read from kubernetes pkg/apis/{extensions,apps}/{v1beta1,v1beta2,v1}/defaults.go.
func appsConverters() []Converter {
	return []Converter{
		rewrite("extensions/v1beta1", "apps/v1", deploymentFromExtensions, "Deployment"),
		rewrite("apps/v1beta1", "apps/v1", deploymentFromAppsV1beta1, "Deployment"),
		rewrite("apps/v1beta2", "apps/v1", requireSelector, "Deployment"),
		rewrite("extensions/v1beta1", "apps/v1", daemonSetFromExtensions, "DaemonSet"),
		rewrite("apps/v1beta2", "apps/v1", requireSelector, "DaemonSet"),
		rewrite("extensions/v1beta1", "apps/v1", requireSelector, "ReplicaSet"),
		rewrite("apps/v1beta2", "apps/v1", requireSelector, "ReplicaSet"),
		rewrite("apps/v1beta1", "apps/v1", statefulSetFromAppsV1beta1, "StatefulSet"),
		rewrite("apps/v1beta2", "apps/v1", requireSelector, "StatefulSet"),
		rename("apps/v1beta1", "apps/v1", "ControllerRevision"),
		rename("apps/v1beta2", "apps/v1", "ControllerRevision"),
	}
}

// requireSelector writes the selector the old versions derived from the template labels
// (apps/v1 requires one, and it is immutable), and the object labels they copied too.
func requireSelector(o *object) error {
	tmplLabels, _ := getMap(o.Object, "spec.template.metadata.labels")
	if _, ok := get(o.Object, "spec.selector"); !ok {
		if len(tmplLabels) == 0 {
			return fmt.Errorf("spec.selector is unset and spec.template.metadata.labels is empty: %s requires a selector matching the pod template's labels; add spec.selector.matchLabels", o.to)
		}
		set(o.Object, "spec.selector", map[string]any{"matchLabels": maps.Clone(tmplLabels)})
		o.defaulted("spec.selector", "was unset; %s derived it from the pod template labels, %s requires it: wrote matchLabels %s (immutable from now on)", o.from, o.to, labelString(tmplLabels))
	}
	if len(o.GetLabels()) == 0 && len(tmplLabels) > 0 {
		set(o.Object, "metadata.labels", maps.Clone(tmplLabels))
		o.defaulted("metadata.labels", "were empty; %s copied the pod template labels onto the object, %s does not: copied them", o.from, o.to)
	}
	return nil
}

func labelString(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := "{"
	for i, k := range keys {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s=%v", k, m[k])
	}
	return s + "}"
}

func deploymentFromExtensions(o *object) error {
	if err := requireSelector(o); err != nil {
		return err
	}
	dropRollbackTo(o)
	typ := getString(o.Object, "spec.strategy.type")
	_, hasRolling := get(o.Object, "spec.strategy.rollingUpdate")
	if typ == "" || typ == "RollingUpdate" || hasRolling {
		for _, f := range []string{"maxUnavailable", "maxSurge"} {
			p := "spec.strategy.rollingUpdate." + f
			if _, ok := get(o.Object, p); !ok {
				set(o.Object, p, int64(1))
				o.defaulted(p, "was unset: extensions/v1beta1 defaults it to 1, apps/v1 to 25%%; wrote 1 to keep the rollout pace")
			}
		}
	}
	setOldDefault(o, "spec.revisionHistoryLimit", math.MaxInt32,
		"was unset: extensions/v1beta1 keeps every old ReplicaSet (2147483647), apps/v1 keeps 10; wrote 2147483647 to keep them all (lower it to let apps/v1 clean up)")
	setOldDefault(o, "spec.progressDeadlineSeconds", math.MaxInt32,
		"was unset: extensions/v1beta1 never reports a stalled rollout (2147483647), apps/v1 reports it after 600s; wrote 2147483647 to keep that (lower it to get ProgressDeadlineExceeded)")
	return nil
}

func deploymentFromAppsV1beta1(o *object) error {
	if err := requireSelector(o); err != nil {
		return err
	}
	dropRollbackTo(o)
	setOldDefault(o, "spec.revisionHistoryLimit", 2,
		"was unset: apps/v1beta1 keeps 2 old ReplicaSets, apps/v1 keeps 10; wrote 2")
	return nil
}

func dropRollbackTo(o *object) {
	if _, ok := get(o.Object, "spec.rollbackTo"); ok {
		o.dropped("spec.rollbackTo", "rollback through the Deployment spec does not exist in apps/v1 (use `kubectl rollout undo`); the pending rollback was not carried over")
	}
	del(o.Object, "spec.rollbackTo")
}

// setOldDefault writes v at p when p is unset, with a note.
func setOldDefault(o *object, p string, v int64, msg string) {
	if _, ok := get(o.Object, p); ok {
		return
	}
	set(o.Object, p, v)
	o.defaulted(p, "%s", msg)
}

func daemonSetFromExtensions(o *object) error {
	if err := requireSelector(o); err != nil {
		return err
	}
	if typ := getString(o.Object, "spec.updateStrategy.type"); typ == "" {
		set(o.Object, "spec.updateStrategy.type", "OnDelete")
		o.defaulted("spec.updateStrategy.type", "was unset: extensions/v1beta1 defaults to OnDelete (pods replaced only when deleted), apps/v1 to RollingUpdate; wrote OnDelete (set RollingUpdate to have template changes roll out)")
	}
	if _, ok := get(o.Object, "spec.templateGeneration"); ok {
		o.dropped("spec.templateGeneration", "deprecated in extensions/v1beta1 and gone from apps/v1 (apps/v1 tracks templates with ControllerRevisions)")
	}
	del(o.Object, "spec.templateGeneration")
	return nil
}

func statefulSetFromAppsV1beta1(o *object) error {
	if err := requireSelector(o); err != nil {
		return err
	}
	if typ := getString(o.Object, "spec.updateStrategy.type"); typ == "" {
		set(o.Object, "spec.updateStrategy.type", "OnDelete")
		o.defaulted("spec.updateStrategy.type", "was unset: apps/v1beta1 defaults to OnDelete, apps/v1 to RollingUpdate; wrote OnDelete (set RollingUpdate to have template changes roll out)")
	}
	return nil
}
