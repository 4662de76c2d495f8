package cutover

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
)

func batchObj(kind, ns, name string, suspend *bool, annotation string, finished bool) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": kind, "spec": map[string]any{}}}
	o.SetNamespace(ns)
	o.SetName(name)
	if suspend != nil {
		_ = unstructured.SetNestedField(o.Object, *suspend, "spec", "suspend")
	}
	if annotation != "" {
		o.SetAnnotations(map[string]string{AnnotationOriginalSuspend: annotation})
	}
	if finished {
		_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": "Complete", "status": "True"}}, "status", "conditions")
	}
	return o
}

func fakeDyn(objs ...runtime.Object) *dynfake.FakeDynamicClient {
	return dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		cronJobsV1: "CronJobList", jobsV1: "JobList",
	}, objs...)
}

func suspended(t *testing.T, c *dynfake.FakeDynamicClient, gvr schema.GroupVersionResource, ns, name string) bool {
	t.Helper()
	o, err := c.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return boolOr(suspendOf(o))
}

// The fake dynamic client is honest here: this is bookkeeping of suspend flags; what an
// apiserver does with them is not under test.
func TestActivateSwapsScheduledWorkAndRevertUndoesIt(t *testing.T) {
	t.Parallel()
	tr, fa := true, false
	green := fakeDyn(
		batchObj("CronJob", "shop", "report", &tr, "false", false),
		batchObj("CronJob", "shop", "paused-on-blue", &tr, "true", false),
		batchObj("Job", "shop", "migrate-db", &tr, "false", false),
		batchObj("CronJob", "shop", "not-migrated", &tr, "", false),
	)
	blue := fakeDyn(
		batchObj("CronJob", "shop", "report", &fa, "", false),
		batchObj("CronJob", "shop", "paused-on-blue", &tr, "", false),
		batchObj("Job", "shop", "migrate-db", nil, "", true),
	)
	k := &KubeWorkloads{Blue: blue, Green: green}
	changes, err := k.Activate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    *dynfake.FakeDynamicClient
		gvr  schema.GroupVersionResource
		name string
		want bool
	}{
		{green, cronJobsV1, "report", false},
		{green, cronJobsV1, "paused-on-blue", true},
		{green, jobsV1, "migrate-db", false},
		{green, cronJobsV1, "not-migrated", true},
		{blue, cronJobsV1, "report", true},
		{blue, jobsV1, "migrate-db", false}, // finished on blue: left alone
	} {
		if got := suspended(t, tc.c, tc.gvr, "shop", tc.name); got != tc.want {
			t.Errorf("after Activate %s suspend=%v, want %v", tc.name, got, tc.want)
		}
	}
	if len(changes) != 3 || changes[0].Cluster != "blue" {
		t.Fatalf("changes %v: want blue's suspension first, then green's two resumes", changes)
	}
	if err := k.Revert(context.Background(), changes); err != nil {
		t.Fatal(err)
	}
	if !suspended(t, green, cronJobsV1, "shop", "report") || suspended(t, blue, cronJobsV1, "shop", "report") {
		t.Error("Revert did not hand report back to blue")
	}
	if !suspended(t, green, jobsV1, "shop", "migrate-db") {
		t.Error("Revert did not suspend green's Job again")
	}
}
