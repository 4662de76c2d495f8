package cutover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clusterPair returns blue (v1.24.17 when its binaries are cached, else a second v1.37.2)
// and green (v1.37.2), real local control planes with kwok nodes.
func clusterPair(t *testing.T) (blue, green kubernetes.Interface) {
	t.Helper()
	g := testenv.Start(t, "v1.37.2")
	v, _ := kube.ParseExactVersion("v1.24.17")
	b := (*testenv.Env)(nil)
	for _, bin := range local.ControlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(local.VersionCacheDir(v), bin)); err != nil {
			t.Logf("v1.24.17 binaries not cached: blue is a second v1.37.2 cluster")
			b = testenv.StartFresh(t, "v1.37.2", 2)
			break
		}
	}
	if b == nil {
		b = testenv.Start(t, "v1.24.17")
	}
	return clientset(t, b), clientset(t, g)
}

func clientset(t *testing.T, e *testenv.Env) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(e.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var nsCounter int

func namespace(t *testing.T, prefix string, cs ...kubernetes.Interface) string {
	t.Helper()
	nsCounter++
	ns := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, nsCounter)
	for _, c := range cs {
		if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

func podSpec(claim string) corev1.PodSpec {
	s := corev1.PodSpec{
		Containers:  []corev1.Container{{Name: "app", Image: "busybox"}},
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
	}
	if claim != "" {
		s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
	return s
}

func deployment(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32, claim string) {
	t.Helper()
	l := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: podSpec(claim)}}}
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func statefulSet(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	l := map[string]string{"app": name}
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.StatefulSetSpec{
		Replicas: &replicas, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: l},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: podSpec("")},
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}}
	if _, err := c.AppsV1().StatefulSets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// replicas returns a workload's replicas and its AnnotationScaledFrom ("" when absent).
func replicas(t *testing.T, c kubernetes.Interface, kind, ns, name string) (int32, string) {
	t.Helper()
	ctx := context.Background()
	if kind == "StatefulSet" {
		s, err := c.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *s.Spec.Replicas, s.Annotations[AnnotationScaledFrom]
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas, d.Annotations[AnnotationScaledFrom]
}

func wantReplicas(t *testing.T, c kubernetes.Interface, kind, ns, name string, n int32, annotation string) {
	t.Helper()
	got, ann := replicas(t, c, kind, ns, name)
	if got != n || ann != annotation {
		t.Errorf("%s %s/%s: replicas %d, annotation %q; want %d, %q", kind, ns, name, got, ann, n, annotation)
	}
}

func waitPods(t *testing.T, c kubernetes.Interface, ns, app string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err == nil && len(pods.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods of %s/%s never reached %d", ns, app, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestScaleDownRemembersReplicasAndResumeGivesThemBack(t *testing.T) {
	blue, green := clusterPair(t)
	for _, tc := range []struct {
		name string
		c    kubernetes.Interface
	}{{"blue", blue}, {"green", green}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := tc.c
			ns := namespace(t, "scale", c)
			deployment(t, c, ns, "api", 2, "")
			deployment(t, c, ns, "writer", 1, "data")
			deployment(t, c, ns, "idle", 0, "")
			statefulSet(t, c, ns, "db", 1)
			waitPods(t, c, ns, "api", 2) // kwok runs them

			only, err := ScaleDown(ctx, c, ScaleOptions{Cluster: tc.name, Namespaces: []string{ns}, OnlyWithClaims: true})
			if err != nil {
				t.Fatal(err)
			}
			if describe(only) != fmt.Sprintf("Deployment %s/writer=1, StatefulSet %s/db=1", ns, ns) {
				t.Errorf("OnlyWithClaims scaled %s, want the StatefulSet with claim templates and the Deployment mounting a claim", describe(only))
			}
			wantReplicas(t, c, "Deployment", ns, "api", 2, "")

			all, err := ScaleDown(ctx, c, ScaleOptions{Cluster: tc.name, Namespaces: []string{ns}})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 3 {
				t.Errorf("scaled %s, want api, writer and db (idle has no replicas)", describe(all))
			}
			wantReplicas(t, c, "Deployment", ns, "api", 0, "2")
			wantReplicas(t, c, "Deployment", ns, "writer", 0, "1") // scaled twice: the first value is kept
			wantReplicas(t, c, "StatefulSet", ns, "db", 0, "1")
			wantReplicas(t, c, "Deployment", ns, "idle", 0, "")
			if err := WaitPodsGone(ctx, c, all, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			waitPods(t, c, ns, "api", 0)

			back, err := ResumeScaled(ctx, c, ScaleOptions{Cluster: tc.name, Namespaces: []string{ns}})
			if err != nil || len(back) != 3 {
				t.Fatalf("ResumeScaled = %s, %v", describe(back), err)
			}
			wantReplicas(t, c, "Deployment", ns, "api", 2, "")
			wantReplicas(t, c, "Deployment", ns, "writer", 1, "")
			wantReplicas(t, c, "StatefulSet", ns, "db", 1, "")
			waitPods(t, c, ns, "api", 2)
			if again, err := ResumeScaled(ctx, c, ScaleOptions{Cluster: tc.name, Namespaces: []string{ns}}); err != nil || len(again) != 0 {
				t.Errorf("a second ResumeScaled = %s, %v; want nothing to do", describe(again), err)
			}
		})
	}
}

// The final delta's orchestration on real clusters; Run stands in for volumes.FinalDelta
// (whose Velero side is tested in package volumes, with the real Velero server).
func TestFinalDeltaHookStopsBlueAroundTheDeltaAndResumesItOnFailure(t *testing.T) {
	blue, green := clusterPair(t)
	ctx := context.Background()
	ns := namespace(t, "delta", blue, green)
	deployment(t, blue, ns, "api", 2, "")
	statefulSet(t, blue, ns, "db", 1)
	deployment(t, green, ns, "api", 2, "")
	deployment(t, green, ns, "writer", 1, "data")
	waitPods(t, blue, ns, "api", 2)

	ws := newWS(t, true, true)
	if _, err := updateState(ws, func(*State) (*State, error) { return &State{Phase: PhaseRunning}, nil }); err != nil {
		t.Fatal(err)
	}
	var inside, atSwitch []string
	runs := 0
	switchTraffic := func(ctx context.Context) error {
		// traffic moves to green 100% here: green's claim users stopped, blue still serving
		for _, w := range [][3]string{{"blue", "Deployment", "api"}, {"green", "Deployment", "writer"}} {
			c := blue
			if w[0] == "green" {
				c = green
			}
			n, _ := replicas(t, c, w[1], ns, w[2])
			atSwitch = append(atSwitch, fmt.Sprintf("%s/%s=%d", w[0], w[2], n))
		}
		return nil
	}
	result := &volumes.Result{Stage: volumes.StageFinalDelta, Backup: "phoenix-delta-a", Restore: "phoenix-delta-b", Window: 3 * time.Second}
	var runErr error
	hook := FinalDeltaHook(FinalDeltaOptions{Workspace: ws, Blue: blue, Green: green, Namespaces: []string{ns}, PollInterval: 100 * time.Millisecond,
		Run: func(ctx context.Context, stop volumes.StopWrites) (*volumes.Result, error) {
			runs++
			if _, err := stop(ctx); err != nil {
				return nil, err
			}
			for _, w := range [][3]string{{"blue", "Deployment", "api"}, {"blue", "StatefulSet", "db"}, {"green", "Deployment", "writer"}, {"green", "Deployment", "api"}} {
				c := blue
				if w[0] == "green" {
					c = green
				}
				n, _ := replicas(t, c, w[1], ns, w[2])
				inside = append(inside, fmt.Sprintf("%s/%s=%d", w[0], w[2], n))
			}
			pods, _ := blue.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
			inside = append(inside, fmt.Sprintf("blue api pods=%d", len(pods.Items)))
			return result, runErr
		}})

	if err := hook(ctx, switchTraffic); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(atSwitch, " "); got != "blue/api=2 green/writer=0" {
		t.Errorf("at the switch: %s; want green's claim users stopped and blue still serving", got)
	}
	if got := strings.Join(inside, " "); got != "blue/api=0 blue/db=0 green/writer=0 green/api=2 blue api pods=0" {
		t.Errorf("during the delta: %s; want blue stopped, green's claim users stopped, green's api serving", got)
	}
	wantReplicas(t, blue, "Deployment", ns, "api", 0, "2") // writes stay stopped: the last step follows
	wantReplicas(t, green, "Deployment", ns, "writer", 1, "")
	st, _ := LoadState(ws)
	if st.FinalDelta == nil || time.Duration(st.FinalDelta.Window) != 3*time.Second || len(st.FinalDelta.ScaledBlue) != 2 || !st.blueStopped() || st.FinalDelta.Error != "" {
		t.Fatalf("journal final delta %+v", st.FinalDelta)
	}
	if saved, err := volumes.LoadFinalDelta(ws); err != nil || saved == nil || saved.Backup != "phoenix-delta-a" {
		t.Errorf("saved final delta %+v, %v", saved, err)
	}

	// A rerun after the restore was journaled moves nothing again: green serves and writes.
	if err := hook(ctx, switchTraffic); err != nil || runs != 1 {
		t.Fatalf("rerun of a restored delta = %v after %d run(s); want nil after 1", err, runs)
	}
	wantReplicas(t, green, "Deployment", ns, "writer", 1, "")

	// A second delta that fails: blue (already at zero) gets its original replicas back.
	// (A new cutover starts without a final delta record.)
	if _, err := updateState(ws, func(s *State) (*State, error) { s.FinalDelta = nil; return s, nil }); err != nil {
		t.Fatal(err)
	}
	inside = nil
	runErr = &volumes.VeleroError{Kind: "Backup", Name: "phoenix-delta-c", Cluster: "blue", Phase: "PartiallyFailed", Reasons: []string{"payments: volume snapshot failed"}}
	err := hook(ctx, switchTraffic)
	if err == nil || !strings.Contains(err.Error(), "payments: volume snapshot failed") {
		t.Fatalf("hook = %v, want Velero's reasons", err)
	}
	if got := strings.Join(inside, " "); !strings.HasPrefix(got, "blue/api=0 blue/db=0") {
		t.Errorf("during the failed delta: %s", got)
	}
	wantReplicas(t, blue, "Deployment", ns, "api", 2, "")
	wantReplicas(t, blue, "StatefulSet", ns, "db", 1, "")
	wantReplicas(t, green, "Deployment", ns, "writer", 1, "")
	st, _ = LoadState(ws)
	if st.blueStopped() || !strings.Contains(st.FinalDelta.Error, "PartiallyFailed") {
		t.Errorf("journal final delta %+v", st.FinalDelta)
	}
}
