package volumes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

// veleroNS sets up one Velero namespace on both clusters: blue's location ReadWrite, green's
// (under another name) ReadOnly on the same bucket and prefix, both Available, node agents.
func veleroNS(t *testing.T, blue, green *testenv.Env, ns string) (*cluster, *cluster) {
	t.Helper()
	bc, gc := testCluster(t, "blue", blue, ns), testCluster(t, "green", green, ns)
	setUpVelero(t, bc, location("default", "phoenix-test", "clusters", velerov1.BackupStorageLocationAccessModeReadWrite), velerov1.BackupStorageLocationPhaseAvailable, true)
	setUpVelero(t, gc, location("shared-store", "phoenix-test", "/clusters/", velerov1.BackupStorageLocationAccessModeReadOnly), velerov1.BackupStorageLocationPhaseAvailable, true)
	return bc, gc
}

// recorder collects progress lines and opens the stand-in's gates when phoenix reports
// that it saw a Backup or Restore InProgress.
type recorder struct {
	mu    sync.Mutex
	lines []string
	s     *standInVelero
	once  [2]sync.Once
}

func (r *recorder) progress(line string) {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if r.s == nil || !strings.Contains(line, "InProgress") {
		return
	}
	if strings.HasPrefix(line, "backup ") {
		r.once[0].Do(func() { close(r.s.backupSeen) })
	}
	if strings.HasPrefix(line, "restore ") {
		r.once[1].Do(func() { close(r.s.restoreSeen) })
	}
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func opts(blue, green *testenv.Env, ns string, mode Mode, rec *recorder, namespaces ...string) Options {
	return Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: namespaces, Mode: mode,
		VeleroNamespace: ns, Migration: "m-test", PollInterval: 50 * time.Millisecond, Timeout: 5 * time.Minute,
		SyncTimeout: time.Minute, Progress: rec.progress}
}

func TestVeleroOrchestrationOnLocalClusters(t *testing.T) {
	blue, green := startPair(t)
	ctx := context.Background()
	bc, gc := testCluster(t, "blue", blue, "velero"), testCluster(t, "green", green, "velero")
	workloadWithClaim(t, bc, "payments", "data", true)
	workloadWithClaim(t, bc, "payments", "cache", false)
	installCRDs(t, bc)

	t.Run("preflight reports velero missing on green", func(t *testing.T) {
		_, err := Preflight(ctx, opts(blue, green, "velero", ModeFS, &recorder{}, "payments"))
		if err == nil || !strings.Contains(err.Error(), "velero is not installed on green") {
			t.Fatalf("err = %v, want velero not installed on green", err)
		}
	})
	installCRDs(t, gc)
	veleroNS(t, blue, green, "velero")

	t.Run("preflight stops on bad set-ups", func(t *testing.T) {
		differ := testCluster(t, "blue", blue, "velero-differ")
		setUpVelero(t, differ, location("default", "bucket-a", "", velerov1.BackupStorageLocationAccessModeReadWrite), velerov1.BackupStorageLocationPhaseAvailable, true)
		setUpVelero(t, testCluster(t, "green", green, "velero-differ"), location("default", "bucket-b", "", ""), velerov1.BackupStorageLocationPhaseAvailable, true)
		unavail := testCluster(t, "blue", blue, "velero-unavail")
		setUpVelero(t, unavail, location("default", "b", "", velerov1.BackupStorageLocationAccessModeReadOnly), velerov1.BackupStorageLocationPhaseUnavailable, true)
		setUpVelero(t, testCluster(t, "green", green, "velero-unavail"), location("default", "b", "", ""), velerov1.BackupStorageLocationPhaseAvailable, true)
		setUpVelero(t, testCluster(t, "blue", blue, "velero-noagent"), location("default", "b", "", ""), velerov1.BackupStorageLocationPhaseAvailable, false)
		setUpVelero(t, testCluster(t, "green", green, "velero-noagent"), location("default", "b", "", ""), velerov1.BackupStorageLocationPhaseAvailable, false)
		for _, tc := range []struct {
			name, ns   string
			mode       Mode
			namespaces []string
			want       []string
		}{
			{"locations differ", "velero-differ", ModeFS, []string{"payments"}, []string{`backup storage locations differ: blue uses default (aws bucket "bucket-a"`, `green has default (aws bucket "bucket-b"`}},
			{"blue location unavailable and read-only", "velero-unavail", ModeFS, []string{"payments"}, []string{`blue's backup storage location "default" is Unavailable`, "is ReadOnly"}},
			{"node agent missing on both", "velero-noagent", ModeFS, []string{"payments"}, []string{"node agent is not installed on blue", "node agent is not installed on green"}},
			{"csi without the snapshot API", "velero", ModeCSI, []string{"payments"}, []string{"snapshot.storage.k8s.io/v1 API on blue"}},
			{"namespace missing on blue", "velero", ModeFS, []string{"nope"}, []string{`namespace "nope" does not exist on blue`}},
			{"velero namespace missing", "velero-elsewhere", ModeFS, []string{"payments"}, []string{`velero's namespace "velero-elsewhere" is missing on blue`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := Preflight(ctx, opts(blue, green, tc.ns, tc.mode, &recorder{}, tc.namespaces...))
				var pe *PreflightError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a *PreflightError", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not say %q:\n%v", w, err)
					}
				}
			})
		}
	})

	t.Run("preflight passes on a good set-up", func(t *testing.T) {
		rep, err := Preflight(ctx, opts(blue, green, "velero", ModeFS, &recorder{}, "payments"))
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlueLocation != "default" || rep.GreenLocation != "shared-store" || rep.Claims != 2 || rep.Bucket != "phoenix-test" {
			t.Errorf("report = %+v", rep)
		}
	})

	t.Run("move follows backup and restore to completion", func(t *testing.T) {
		ensureNamespace(t, gc, "payments")
		workloadWithClaim(t, gc, "payments", "cache", false) // already on green: reported
		existsWarning := `could not restore, PersistentVolumeClaim "cache" already exists. Warning: the in-cluster version is different than the backed-up version`
		s := startStandIn(t, bc, gc, "shared-store", outcome{Phase: "Completed"},
			outcome{Phase: "Completed", Warning: veleroResult{Namespaces: map[string][]string{"payments": {existsWarning}}}})
		rec := &recorder{s: s}
		res, err := Move(ctx, opts(blue, green, "velero", ModeFS, rec, "payments"))
		if err != nil {
			t.Fatalf("Move: %v\nprogress:\n%s", err, rec.text())
		}
		if res.BackupPhase != "Completed" || res.RestorePhase != "Completed" || res.Claims != 2 || res.Volumes != 2 || res.BytesTotal != 2<<20 {
			t.Errorf("result = %+v", res)
		}
		// what verify and a final delta read back from the record (SaveResult)
		if !slices.Equal(res.ClaimNames, []string{"payments/cache", "payments/data"}) || !slices.Equal(res.Namespaces, []string{"payments"}) ||
			res.Migration != "m-test" || res.VeleroNamespace != "velero" || res.StorageLocation != "default" || res.Stage != StageInitial {
			t.Errorf("result does not describe the move for its record: %+v", res)
		}
		var b velerov1.Backup
		if err := bc.get(ctx, gvrBackup, res.Backup, &b); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.Spec.IncludedNamespaces, []string{"payments"}) ||
			!slices.Equal(b.Spec.IncludedResources, []string{"persistentvolumeclaims", "persistentvolumes", "pods"}) ||
			b.Spec.DefaultVolumesToFsBackup == nil || !*b.Spec.DefaultVolumesToFsBackup || b.Spec.StorageLocation != "default" ||
			b.Labels[LabelMigration] != "m-test" || b.Labels[LabelStage] != StageInitial {
			t.Errorf("backup on blue has the wrong scope: labels %v spec %+v", b.Labels, b.Spec)
		}
		var r velerov1.Restore
		if err := gc.get(ctx, gvrRestore, res.Restore, &r); err != nil {
			t.Fatal(err)
		}
		if r.Spec.BackupName != res.Backup || !slices.Equal(r.Spec.IncludedNamespaces, []string{"payments"}) || r.Labels[LabelMigration] != "m-test" {
			t.Errorf("restore on green: labels %v spec %+v", r.Labels, r.Spec)
		}
		all := strings.Join(res.Warnings, "\n")
		for _, w := range []string{"claim payments/cache already exists on green", "restore " + res.Restore + ": payments: " + existsWarning} {
			if !strings.Contains(all, w) {
				t.Errorf("warnings do not say %q:\n%s", w, all)
			}
		}
		if res.RestoredPodsDeleted != 1 {
			t.Errorf("restored pods deleted = %d, want 1", res.RestoredPodsDeleted)
		}
		if p, err := gc.kube.CoreV1().Pods("payments").Get(ctx, "data-writer", metav1.GetOptions{}); err == nil && p.DeletionTimestamp == nil {
			t.Error("the data-carrying pod Velero restored is still on green")
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		for _, want := range []string{"backup " + res.Backup + " on blue: InProgress", "backup " + res.Backup + " on blue: Completed", "restore " + res.Restore + " on green: Completed"} {
			if !strings.Contains(rec.text(), want) {
				t.Errorf("progress does not show %q:\n%s", want, rec.text())
			}
		}
		if strings.Contains(rec.text()+all, "standin-secret") {
			t.Error("the signed download URL leaked into progress or warnings")
		}
	})

	t.Run("partially failed backup stops with velero's errors", func(t *testing.T) {
		bpf, gpf := veleroNS(t, blue, green, "velero-pf")
		veleroErr := "pod volume backup failed: daemonset pod not found in running state in node n2"
		s := startStandIn(t, bpf, gpf, "shared-store",
			outcome{Phase: "PartiallyFailed", Errors: veleroResult{Namespaces: map[string][]string{"payments": {veleroErr}}}}, outcome{Phase: "Completed"})
		rec := &recorder{s: s}
		res, err := Move(ctx, opts(blue, green, "velero-pf", ModeFS, rec, "payments"))
		var ve *VeleroError
		if !errors.As(err, &ve) || ve.Kind != "Backup" || ve.Phase != "PartiallyFailed" || !strings.Contains(err.Error(), "payments: "+veleroErr) {
			t.Fatalf("err = %v, want the backup's PartiallyFailed with Velero's error", err)
		}
		if strings.Contains(err.Error(), "standin-secret") {
			t.Error("the signed download URL leaked into the error")
		}
		if res.Restore != "" || len(res.Errors) != 1 {
			t.Errorf("result = %+v, want no restore and one error", res)
		}
		if l, err := gpf.list(ctx, gvrRestore, ""); err != nil || len(l) != 0 {
			t.Errorf("restores on green after a failed backup: %d (%v)", len(l), err)
		}
	})

	t.Run("failed restore stops with velero's reason", func(t *testing.T) {
		bf, gf := veleroNS(t, blue, green, "velero-rf")
		s := startStandIn(t, bf, gf, "shared-store", outcome{Phase: "Completed"},
			outcome{Phase: "Failed", FailureReason: "found a restore with status InProgress during the server starting, mark it as Failed"})
		_, err := Move(ctx, opts(blue, green, "velero-rf", ModeFS, &recorder{s: s}, "payments"))
		var ve *VeleroError
		if !errors.As(err, &ve) || ve.Kind != "Restore" || !strings.Contains(err.Error(), "mark it as Failed") {
			t.Fatalf("err = %v, want the restore's failure reason", err)
		}
	})

	t.Run("final delta measures the window and resumes writes when it fails", func(t *testing.T) {
		bd, gd := veleroNS(t, blue, green, "velero-delta")
		s := startStandIn(t, bd, gd, "shared-store", outcome{Phase: "Completed"}, outcome{Phase: "Completed"})
		var stops, resumes int
		stop := func(context.Context) (func(context.Context) error, error) {
			stops++ // the writer pods stay: file-system backup reads through them
			return func(context.Context) error { resumes++; return nil }, nil
		}
		res, err := FinalDelta(ctx, opts(blue, green, "velero-delta", ModeFS, &recorder{s: s}, "payments"), stop)
		if err != nil {
			t.Fatal(err)
		}
		if stops != 1 || resumes != 0 || res.Window <= 0 || res.RestorePhase != "Completed" {
			t.Errorf("stops %d resumes %d result %+v", stops, resumes, res)
		}
		var b velerov1.Backup
		if err := bd.get(ctx, gvrBackup, res.Backup, &b); err != nil || b.Labels[LabelStage] != StageFinalDelta {
			t.Errorf("delta backup labels %v (%v)", b.Labels, err)
		}
		var pvc velerov1.Restore
		if err := gd.get(ctx, gvrRestore, res.Restore, &pvc); err != nil {
			t.Fatal(err)
		}
		// green's claim was deleted and restored afresh by this restore.
		c, err := gd.kube.CoreV1().PersistentVolumeClaims("payments").Get(ctx, "data", metav1.GetOptions{})
		if err != nil || c.Labels[velerov1.RestoreNameLabel] != res.Restore {
			t.Errorf("claim payments/data on green not restored by %s: labels %v (%v)", res.Restore, c.Labels, err)
		}

		resumes = 0
		scaledToZero := func(ctx context.Context) (func(context.Context) error, error) {
			err := bc.kube.CoreV1().Pods("payments").Delete(ctx, "data-writer", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			eventually(t, "blue's writer pod gone", func() bool {
				_, err := bc.kube.CoreV1().Pods("payments").Get(ctx, "data-writer", metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			})
			return func(context.Context) error { resumes++; return nil }, err
		}
		_, err = FinalDelta(ctx, opts(blue, green, "velero-delta", ModeFS, &recorder{s: s}, "payments"), scaledToZero)
		if err == nil || !strings.Contains(err.Error(), "claim payments/data has no pod mounting it on blue") || resumes != 1 {
			t.Errorf("err = %v, resumes = %d; want the file-system delta refused and writes resumed", err, resumes)
		}
	})
}
