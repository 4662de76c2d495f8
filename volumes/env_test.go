package volumes

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision/local"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const greenVersion = "v1.37.2"

// blueVersion is v1.24.17 when its binaries are cached, else v1.37.2 (a cluster of its own).
func startPair(t *testing.T) (blue, green *testenv.Env) {
	t.Helper()
	green = testenv.Start(t, greenVersion)
	v, _ := kube.ParseExactVersion("v1.24.17")
	cached := true
	for _, b := range local.ControlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(local.VersionCacheDir(v), b)); err != nil {
			cached = false
		}
	}
	if cached {
		return testenv.Start(t, "v1.24.17"), green
	}
	t.Logf("v1.24.17 binaries not cached: blue is a second v1.37.2 cluster")
	return testenv.StartFresh(t, greenVersion, 2), green
}

func testCluster(t *testing.T, name string, env *testenv.Env, ns string) *cluster {
	t.Helper()
	c, err := newCluster(name, env.RESTConfig(), ns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var gvrCRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates Velero's CRDs (testdata/crds, copied from the Velero module) and waits
// until the apiserver serves velero.io/v1.
func installCRDs(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob("testdata/crds/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under testdata/crds: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var u unstructured.Unstructured
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := c.dyn.Resource(gvrCRD).Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating CRD from %s on %s: %v", f, c.name, err)
		}
	}
	eventually(t, "velero.io/v1 served on "+c.name, func() bool {
		res, err := c.kube.Discovery().ServerResourcesForGroupVersion("velero.io/v1")
		return err == nil && len(res.APIResources) >= 11
	})
}

// setUpVelero prepares Velero's namespace on c: a backup storage location (status set as
// Velero's validation would set it) and, when nodeAgent, a node-agent DaemonSet whose pods
// kwok runs.
func setUpVelero(t *testing.T, c *cluster, loc velerov1.BackupStorageLocation, phase velerov1.BackupStorageLocationPhase, nodeAgent bool) {
	t.Helper()
	ctx := context.Background()
	ensureNamespace(t, c, c.ns)
	loc.TypeMeta = metav1.TypeMeta{APIVersion: "velero.io/v1", Kind: "BackupStorageLocation"}
	loc.Namespace = c.ns
	if _, err := c.create(ctx, gvrLocation, &loc); err != nil {
		t.Fatalf("creating location on %s: %v", c.name, err)
	}
	u, err := c.dyn.Resource(gvrLocation).Namespace(c.ns).Get(ctx, loc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase != "" {
		if err := unstructured.SetNestedField(u.Object, string(phase), "status", "phase"); err != nil {
			t.Fatal(err)
		}
		// Velero's CRDs have no status subresource: status is written with the object.
		if _, err := c.dyn.Resource(gvrLocation).Namespace(c.ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("setting location status on %s: %v", c.name, err)
		}

	}
	if !nodeAgent {
		return
	}
	labels := map[string]string{"name": "node-agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-agent", Namespace: c.ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:  []corev1.Container{{Name: "node-agent", Image: "velero/velero:v1.18.3"}},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				},
			},
		},
	}
	if _, err := c.kube.AppsV1().DaemonSets(c.ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating node-agent DaemonSet on %s: %v", c.name, err)
	}
	eventually(t, "node-agent ready on "+c.name, func() bool {
		d, err := c.kube.AppsV1().DaemonSets(c.ns).Get(ctx, "node-agent", metav1.GetOptions{})
		return err == nil && d.Status.NumberReady > 0
	})
}

func location(name, bucket, prefix string, mode velerov1.BackupStorageLocationAccessMode) velerov1.BackupStorageLocation {
	return velerov1.BackupStorageLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: velerov1.BackupStorageLocationSpec{
			Provider:    "aws",
			Default:     true,
			AccessMode:  mode,
			StorageType: velerov1.StorageType{ObjectStorage: &velerov1.ObjectStorageLocation{Bucket: bucket, Prefix: prefix}},
			Config:      map[string]string{"region": "local", "s3ForcePathStyle": "true"},
		},
	}
}

func ensureNamespace(t *testing.T, c *cluster, ns string) {
	t.Helper()
	_, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s on %s: %v", ns, c.name, err)
	}
}

// workloadWithClaim creates a claim and a pod mounting it in ns on c.
func workloadWithClaim(t *testing.T, c *cluster, ns, claim string, withPod bool) {
	t.Helper()
	ctx := context.Background()
	ensureNamespace(t, c, ns)
	sc := "manual"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns, Labels: map[string]string{"app": claim}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &sc,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := c.kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating claim %s/%s on %s: %v", ns, claim, c.name, err)
	}
	if !withPod {
		return
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: claim + "-writer", Namespace: ns, Labels: map[string]string{"app": claim}},
		Spec: corev1.PodSpec{
			Containers:  []corev1.Container{{Name: "app", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes:     []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s/%s on %s: %v", ns, pod.Name, c.name, err)
	}
}

// eventually polls cond until it holds; the test's own deadline bounds it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stop := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(stop) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
