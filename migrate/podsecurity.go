package migrate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podUnderTest is a pod, or a pod template, that exists in a namespace on blue.
type podUnderTest struct {
	name string // "Deployment web"
	meta *metav1.ObjectMeta
	spec *corev1.PodSpec
}

// podsOf returns every pod and pod template (workloads, CronJobs, PodTemplates) of
// namespace ns among items, skipped ones included: the pods blue's controllers made exist
// too, and Pod Security Admission would judge them on green.
func podsOf(items []*item, ns string) ([]podUnderTest, error) {
	var out []podUnderTest
	for _, it := range items {
		if it.obj.GetNamespace() != ns {
			continue
		}
		spec := podSpec(it.obj)
		if spec == nil {
			continue
		}
		p := podUnderTest{name: it.obj.GetKind() + " " + it.obj.GetName(), meta: &metav1.ObjectMeta{}, spec: &corev1.PodSpec{}}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, p.spec); err != nil {
			return nil, fmt.Errorf("reading the pod spec of %s: %w", RefOf(it.obj), err)
		}
		meta := it.obj.Object["metadata"]
		if it.obj.GetKind() != "Pod" {
			meta, _, _ = unstructured.NestedFieldNoCopy(it.obj.Object, podTemplatePath(it.obj)...)
		}
		if m, ok := meta.(map[string]any); ok {
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(m, p.meta)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// podTemplatePath is the path of a workload's pod template metadata.
func podTemplatePath(obj *unstructured.Unstructured) []string {
	path, ok := podOwners[obj.GetKind()]
	if !ok {
		path = []string{"spec", "template", "spec"}
	}
	return append(append([]string(nil), path[:len(path)-1]...), "metadata")
}

// setsSELinux reports whether any pod sets seLinuxOptions (pod or container level).
func setsSELinux(pods []podUnderTest) bool {
	for _, p := range pods {
		if sc := p.spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil {
			return true
		}
		for _, cs := range [][]corev1.Container{p.spec.InitContainers, p.spec.Containers} {
			for _, c := range cs {
				if c.SecurityContext != nil && c.SecurityContext.SELinuxOptions != nil {
					return true
				}
			}
		}
		for _, c := range p.spec.EphemeralContainers {
			if c.SecurityContext != nil && c.SecurityContext.SELinuxOptions != nil {
				return true
			}
		}
	}
	return false
}

var podEvaluator = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err) // the checks Kubernetes ships are valid
	}
	return e
}()

// highestPassingLevel evaluates pods with Kubernetes' own Pod Security checks (latest
// version) and returns the most restrictive level all of them pass, with, for each
// stricter level, the first pods that fail it and why.
func highestPassingLevel(pods []podUnderTest) (string, []string) {
	level := "restricted"
	var why []string
	for _, l := range []string{"restricted", "baseline"} {
		lv := psaapi.LevelVersion{Level: psaapi.Level(l), Version: psaapi.LatestVersion()}
		var failing []string
		for _, p := range pods {
			res := policy.AggregateCheckResults(podEvaluator.EvaluatePod(lv, p.meta, p.spec))
			if !res.Allowed {
				failing = append(failing, fmt.Sprintf("%s (%s: %s)", p.name, res.ForbiddenReason(), res.ForbiddenDetail()))
			}
		}
		if len(failing) == 0 {
			break
		}
		if len(failing) > 3 {
			failing = append(failing[:3], fmt.Sprintf("and %d more", len(failing)-3))
		}
		why = append(why, fmt.Sprintf("%s rejects %s", l, strings.Join(failing, "; ")))
		level = map[string]string{"restricted": "baseline", "baseline": "privileged"}[l]
	}
	return level, why
}
