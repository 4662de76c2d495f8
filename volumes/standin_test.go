package volumes

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// standInVelero is a STAND-IN for the Velero server (and its node agent and the location's
// backup sync) on both clusters, used where the real server cannot run here (docs/velero.md
// says why). It plays only the server's side of the API contract phoenix relies on:
//   - a Backup on blue goes InProgress (with progress and one PodVolumeBackup per claim) and,
//     once phoenix has reported InProgress (gate), ends in the phase its outcome says;
//   - a completed Backup appears on green, as the location's sync would make it appear;
//   - a Restore on green goes InProgress, re-creates the claims that do not exist (and, for
//     file-system backups, the pods that mounted them), and ends per its outcome;
//   - a DownloadRequest gets a URL serving Velero's gzipped results file.
//
// It is not Velero: no data moves and no object storage is involved.
type standInVelero struct {
	blue, green *cluster
	location    string // green's location name, for synced Backups
	backup      outcome
	restore     outcome
	// backupSeen and restoreSeen are closed by the test when phoenix reports InProgress.
	backupSeen, restoreSeen chan struct{}

	srv     *httptest.Server
	mu      sync.Mutex
	results map[string][]byte
	wg      sync.WaitGroup
}

type outcome struct {
	Phase           string
	FailureReason   string
	Errors, Warning veleroResult
}

// signature stands for the credential in a pre-signed object storage URL.
const signature = "X-Amz-Signature=standin-secret-0123456789"

func startStandIn(t *testing.T, blue, green *cluster, location string, backup, restore outcome) *standInVelero {
	s := &standInVelero{blue: blue, green: green, location: location, backup: backup, restore: restore,
		backupSeen: make(chan struct{}), restoreSeen: make(chan struct{}), results: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, signature) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		s.mu.Lock()
		data, ok := s.results[strings.TrimPrefix(r.URL.Path, "/")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for ctx.Err() == nil {
			if err := s.step(ctx); err != nil && ctx.Err() == nil {
				t.Logf("stand-in velero: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); s.wg.Wait(); s.srv.Close() })
	return s
}

func (s *standInVelero) step(ctx context.Context) error {
	for _, err := range []error{s.backups(ctx), s.restores(ctx), s.downloads(ctx, s.blue), s.downloads(ctx, s.green)} {
		if err != nil {
			return err
		}
	}
	return nil
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (s *standInVelero) backups(ctx context.Context) error {
	items, err := s.blue.list(ctx, gvrBackup, "")
	if err != nil {
		return err
	}
	for _, u := range items {
		var b velerov1.Backup
		if err := fromUnstructured(u, &b); err != nil {
			return err
		}
		claims, err := listClaims(ctx, s.blue, b.Spec.IncludedNamespaces)
		if err != nil {
			return err
		}
		switch {
		case b.Status.Phase == "":
			b.Status.Phase = velerov1.BackupPhaseInProgress
			b.Status.Progress = &velerov1.BackupProgress{TotalItems: 2 * len(claims)}
			for _, c := range claims {
				if err := s.podVolumeBackup(ctx, b.Name, c); err != nil {
					return err
				}
			}
		case b.Status.Phase == velerov1.BackupPhaseInProgress && closed(s.backupSeen):
			b.Status.Phase = velerov1.BackupPhase(s.backup.Phase)
			b.Status.FailureReason = s.backup.FailureReason
			b.Status.Progress.ItemsBackedUp = b.Status.Progress.TotalItems
			b.Status.Errors, b.Status.Warnings = len(s.backup.Errors.lines()), len(s.backup.Warning.lines())
			s.store(b.Name, s.backup)
		case b.Status.Phase == velerov1.BackupPhaseCompleted:
			if err := s.sync(ctx, b); err != nil {
				return err
			}
			continue
		default:
			continue
		}
		if err := update(ctx, s.blue, gvrBackup, &b); err != nil {
			return err
		}
	}
	return nil
}

func (s *standInVelero) podVolumeBackup(ctx context.Context, backup string, c claimRef) error {
	pvb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
		"metadata": map[string]any{"generateName": backup + "-", "namespace": s.blue.ns,
			"labels": map[string]any{velerov1.BackupNameLabel: backup}},
		"spec": map[string]any{"node": "n", "backupStorageLocation": "default", "repoIdentifier": "", "uploaderType": "kopia",
			"volume": "data", "pod": map[string]any{"kind": "Pod", "namespace": c.Namespace, "name": c.Name + "-writer"}},
	}}
	got, err := s.blue.dyn.Resource(gvrPodVolumeBackup).Namespace(s.blue.ns).Create(ctx, pvb, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	_ = unstructured.SetNestedField(got.Object, "InProgress", "status", "phase")
	_ = unstructured.SetNestedField(got.Object, map[string]any{"totalBytes": int64(1 << 20), "bytesDone": int64(1 << 19)}, "status", "progress")
	_, err = s.blue.dyn.Resource(gvrPodVolumeBackup).Namespace(s.blue.ns).Update(ctx, got, metav1.UpdateOptions{})
	return err
}

// sync makes a completed backup visible on green, as the location's sync controller does.
func (s *standInVelero) sync(ctx context.Context, b velerov1.Backup) error {
	var existing velerov1.Backup
	if s.green.get(ctx, gvrBackup, b.Name, &existing) == nil {
		return nil
	}
	b.ObjectMeta = metav1.ObjectMeta{Name: b.Name, Namespace: s.green.ns, Labels: b.Labels}
	b.Spec.StorageLocation = s.location
	b.TypeMeta = metav1.TypeMeta{APIVersion: "velero.io/v1", Kind: "Backup"}
	_, err := s.green.create(ctx, gvrBackup, &b)
	return err
}

func (s *standInVelero) restores(ctx context.Context) error {
	items, err := s.green.list(ctx, gvrRestore, "")
	if err != nil {
		return err
	}
	for _, u := range items {
		var r velerov1.Restore
		if err := fromUnstructured(u, &r); err != nil {
			return err
		}
		switch {
		case r.Status.Phase == "":
			r.Status.Phase = velerov1.RestorePhaseInProgress
			n, err := s.recreate(ctx, &r)
			if err != nil {
				return err
			}
			r.Status.Progress = &velerov1.RestoreProgress{TotalItems: n}
		case r.Status.Phase == velerov1.RestorePhaseInProgress && closed(s.restoreSeen):
			r.Status.Phase = velerov1.RestorePhase(s.restore.Phase)
			r.Status.FailureReason = s.restore.FailureReason
			r.Status.Progress.ItemsRestored = r.Status.Progress.TotalItems
			r.Status.Errors, r.Status.Warnings = len(s.restore.Errors.lines()), len(s.restore.Warning.lines())
			s.store(r.Name, s.restore)
		default:
			continue
		}
		if err := update(ctx, s.green, gvrRestore, &r); err != nil {
			return err
		}
	}
	return nil
}

// recreate copies the backup's claims (and, for pods in scope, their writer pods) to green.
func (s *standInVelero) recreate(ctx context.Context, r *velerov1.Restore) (int, error) {
	claims, err := listClaims(ctx, s.blue, r.Spec.IncludedNamespaces)
	if err != nil {
		return 0, err
	}
	labels := map[string]string{velerov1.RestoreNameLabel: r.Name, velerov1.BackupNameLabel: r.Spec.BackupName}
	withPods := strings.Contains(strings.Join(r.Spec.IncludedResources, ","), "pods")
	n := 0
	for _, c := range claims {
		pvc, err := s.blue.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
		if err != nil {
			return n, err
		}
		if _, err := s.green.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{}); err == nil {
			continue // Velero leaves existing claims alone (the outcome carries its warning)
		}
		ensure := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.Namespace}}
		_, _ = s.green.kube.CoreV1().Namespaces().Create(ctx, ensure, metav1.CreateOptions{})
		copyPVC := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: pvc.Name, Namespace: pvc.Namespace, Labels: labels}, Spec: pvc.Spec}
		copyPVC.Spec.VolumeName = ""
		if _, err := s.green.kube.CoreV1().PersistentVolumeClaims(c.Namespace).Create(ctx, copyPVC, metav1.CreateOptions{}); err != nil {
			return n, err
		}
		n++
		if !withPods {
			continue
		}
		pod, err := s.blue.kube.CoreV1().Pods(c.Namespace).Get(ctx, c.Name+"-writer", metav1.GetOptions{})
		if err != nil {
			continue
		}
		copyPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: labels}, Spec: pod.Spec}
		copyPod.Spec.NodeName = ""
		if _, err := s.green.kube.CoreV1().Pods(c.Namespace).Create(ctx, copyPod, metav1.CreateOptions{}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *standInVelero) store(name string, o outcome) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_ = json.NewEncoder(zw).Encode(map[string]veleroResult{"errors": o.Errors, "warnings": o.Warning})
	_ = zw.Close()
	s.mu.Lock()
	s.results[name] = buf.Bytes()
	s.mu.Unlock()
}

func (s *standInVelero) downloads(ctx context.Context, c *cluster) error {
	items, err := c.list(ctx, gvrDownload, "")
	if err != nil {
		return err
	}
	for _, u := range items {
		var d velerov1.DownloadRequest
		if err := fromUnstructured(u, &d); err != nil {
			return err
		}
		if d.Status.Phase != "" {
			continue
		}
		d.Status.Phase = velerov1.DownloadRequestPhaseProcessed
		d.Status.DownloadURL = s.srv.URL + "/" + d.Spec.Target.Name + "?" + signature
		if err := update(ctx, c, gvrDownload, &d); err != nil {
			return err
		}
	}
	return nil
}

// update writes obj with its status (Velero's CRDs have no status subresource).
func update(ctx context.Context, c *cluster, gvr schema.GroupVersionResource, obj runtime.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(gvr).Namespace(c.ns).Update(ctx, &unstructured.Unstructured{Object: m}, metav1.UpdateOptions{})
	return err
}
