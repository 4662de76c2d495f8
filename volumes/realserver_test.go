package volumes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/provision/local"
)

// The real Velero server, its AWS plugin and gofakes3 (an S3-compatible server) are built by
// hack/build-velero.sh (make test-binaries) into the test cache.
const veleroVersion = "v1.18.3"

type veleroBins struct{ server, pluginDir, s3 string }

func realVelero(t *testing.T) veleroBins {
	t.Helper()
	dir := filepath.Join(local.CacheDir(), "velero", veleroVersion)
	b := veleroBins{server: filepath.Join(dir, "velero"), pluginDir: filepath.Join(dir, "plugins"), s3: filepath.Join(dir, "gofakes3")}
	for _, p := range []string{b.server, filepath.Join(b.pluginDir, "velero-plugin-for-aws"), b.s3} {
		if _, err := os.Stat(p); err != nil {
			testenv.SkipOrFail(t, "real Velero %s not built (%s missing): run hack/build-velero.sh (make test-binaries)", veleroVersion, p)
		}
	}
	return b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs a program until the test ends; its output goes to a file that is shown
// when the test fails.
func startProcess(t *testing.T, name string, env []string, path string, args ...string) (stop func()) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = out.Close()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			var lines []string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, "level=error") || strings.Contains(l, "level=fatal") || strings.Contains(l, "panic") {
					lines = append(lines, l)
				}
			}
			if len(lines) > 30 {
				lines = lines[:30]
			}
			t.Logf("first errors of %s:\n%s", name, strings.Join(lines, "\n"))
		}
	})
	return stop
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	eventually(t, addr+" listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// realLocation is a location on gofakes3; validation and sync every second.
func realLocation(name, endpoint string, mode velerov1.BackupStorageLocationAccessMode) velerov1.BackupStorageLocation {
	l := location(name, "phoenix-real", "blue-green", mode)
	l.Spec.Config = map[string]string{"region": "us-east-1", "s3ForcePathStyle": "true", "s3Url": "http://" + endpoint, "checksumAlgorithm": ""}
	l.Spec.BackupSyncPeriod = &metav1.Duration{Duration: time.Second}
	l.Spec.ValidationFrequency = &metav1.Duration{Duration: time.Second}
	return l
}

func TestRealVeleroServerMovesClaimsAndReportsItsErrors(t *testing.T) {
	bins := realVelero(t)
	blue, green := startPair(t)
	ctx := context.Background()
	const ns = "velero-real"
	bc, gc := testCluster(t, "blue", blue, ns), testCluster(t, "green", green, ns)
	installCRDs(t, bc)
	installCRDs(t, gc)

	s3 := freeAddr(t)
	startProcess(t, "gofakes3", nil, bins.s3, "-host", s3, "-backend", "memory", "-initialbucket", "phoenix-real", "-quiet")
	waitListening(t, s3)
	secretBytes := make([]byte, 16)
	_, _ = rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)
	awsEnv := []string{"AWS_ACCESS_KEY_ID=phoenix-test", "AWS_SECRET_ACCESS_KEY=" + secret}

	// The node-agent DaemonSet satisfies phoenix's preflight; its kwok pods lack Velero's
	// role=node-agent label, so the real server finds no node agent (none can run here).
	setUpVelero(t, bc, realLocation("default", s3, velerov1.BackupStorageLocationAccessModeReadWrite), "", true)
	setUpVelero(t, gc, realLocation("shared-store", s3, velerov1.BackupStorageLocationAccessModeReadOnly), "", true)
	// Velero's server always binds controller-runtime's metrics listener to :8080, so two
	// servers cannot run on one host: blue's and green's take turns, as the move needs them.
	var stopServer func()
	serve := func(env *testenv.Env, c *cluster) {
		if stopServer != nil {
			stopServer()
		}
		stopServer = startProcess(t, "velero-"+c.name, awsEnv, bins.server, "server", "--kubeconfig", env.KubeconfigPath,
			"--namespace", ns, "--plugin-dir", bins.pluginDir, "--metrics-address", freeAddr(t),
			"--profiler-address", freeAddr(t), "--backup-sync-period", "1s", "--store-validation-frequency", "1s",
			"--log-level", "info")
		eventually(t, "the real server to validate the location on "+c.name, func() bool {
			items, err := c.list(ctx, gvrLocation, "")
			return err == nil && len(items) == 1 && strings.Contains(fmt.Sprint(items[0].Object["status"]), "Available")
		})
	}
	for _, c := range []*cluster{bc, gc} {
		veleroDeployment(t, c) // Velero's restore actions read their helper image from it
	}
	serve(green, gc)
	serve(blue, bc)

	t.Run("claims without pods move and the restore completes", func(t *testing.T) {
		workloadWithClaim(t, bc, "ledger", "journal", false)
		rec := &recorder{}
		o := opts(blue, green, ns, ModeFS, rec, "ledger")
		o.Progress = func(line string) {
			rec.progress(line)
			if strings.HasPrefix(line, "waiting for green's backup storage location") {
				serve(green, gc) // the backup is in object storage: green's turn
			}
		}
		o.Migration = "m-real"
		res, err := Move(ctx, o)
		if err != nil {
			t.Fatalf("Move: %v\nprogress:\n%s", err, rec.text())
		}
		if res.BackupPhase != "Completed" || res.RestorePhase != "Completed" || res.ItemsBackedUp == 0 {
			t.Errorf("result = %+v", res)
		}
		pvc, err := gc.kube.CoreV1().PersistentVolumeClaims("ledger").Get(ctx, "journal", metav1.GetOptions{})
		if err != nil || pvc.Labels[velerov1.RestoreNameLabel] != res.Restore {
			t.Errorf("claim ledger/journal on green not restored by velero restore %s: %v (%v)", res.Restore, pvc.Labels, err)
		}
		if strings.Contains(rec.text()+strings.Join(res.Warnings, "\n"), secret) {
			t.Error("the object storage secret leaked")
		}
	})

	t.Run("a pod volume without a node agent ends the backup PartiallyFailed", func(t *testing.T) {
		boundVolume(t, bc, "ledger-pf", "journal") // bound, so the writer pod schedules
		workloadWithClaim(t, bc, "ledger-pf", "journal", true)
		eventually(t, "the writer pod running on blue", func() bool {
			p, err := bc.kube.CoreV1().Pods("ledger-pf").Get(ctx, "journal-writer", metav1.GetOptions{})
			return err == nil && p.Status.Phase == "Running"
		})
		serve(blue, bc)
		res, err := Move(ctx, opts(blue, green, ns, ModeFS, &recorder{}, "ledger-pf"))
		var ve *VeleroError
		if !errors.As(err, &ve) || ve.Kind != "Backup" || ve.Phase != "PartiallyFailed" || len(ve.Reasons) == 0 {
			t.Fatalf("err = %v, want the real backup PartiallyFailed with Velero's reasons", err)
		}
		t.Logf("phoenix reported: %v", err)
		// The Backup's status only counts errors; their text comes from the results file
		// phoenix reads from object storage through a DownloadRequest.
		if !strings.Contains(err.Error(), "daemonset pod not found in running state in node") || strings.Contains(err.Error(), "details unavailable") {
			t.Errorf("error does not carry Velero's errors read from object storage: %v", err)
		}
		if res.Restore != "" || strings.Contains(err.Error(), secret) {
			t.Errorf("restore %q created after a failed backup, or the secret leaked", res.Restore)
		}
	})
}

// veleroDeployment creates the Deployment a Velero install has (kwok runs its pod; the real
// server is the process the test started).
func veleroDeployment(t *testing.T, c *cluster) {
	t.Helper()
	labels := map[string]string{"deploy": "velero"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "velero", Namespace: c.ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:  []corev1.Container{{Name: "velero", Image: "velero/velero:" + veleroVersion}},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				},
			},
		},
	}
	if _, err := c.kube.AppsV1().Deployments(c.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the velero Deployment on %s: %v", c.name, err)
	}
}

// boundVolume creates a hostPath volume pre-bound to ns/claim.
func boundVolume(t *testing.T, c *cluster, ns, claim string) {
	t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              "manual",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns + "-" + claim}},
		},
	}
	if _, err := c.kube.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating volume %s on %s: %v", pv.Name, c.name, err)
	}
}
