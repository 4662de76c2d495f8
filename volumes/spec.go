package volumes

import (
	"slices"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// resources is what a Backup and its Restore include for a mode. File-system backup reads
// volumes through the pods that mount them, so the pods come along (Velero restores them
// with an init container that waits for the data); CSI data movement needs the claims and
// their volumes only.
func resources(m Mode) []string {
	r := []string{"persistentvolumeclaims", "persistentvolumes"}
	if m == ModeFS {
		r = append(r, "pods")
	}
	return r
}

func labels(opts *Options, stage string) map[string]string {
	l := map[string]string{LabelManagedBy: "phoenix", LabelStage: stage}
	if opts.Migration != "" {
		l[LabelMigration] = labelValue(opts.Migration)
	}
	return l
}

// labelValue makes s a valid label value (at most 63 of [A-Za-z0-9._-], alphanumeric ends).
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	s = string(b)
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "._-")
}

// generateName is the name prefix of a stage's objects; the apiserver appends a suffix.
func generateName(opts *Options, stage string) string {
	p := opts.NamePrefix + "-"
	if stage == StageFinalDelta {
		p += "delta-"
	}
	return p
}

// newBackup is the Backup phoenix creates on blue.
func newBackup(opts *Options, location, stage string) *velerov1.Backup {
	ns := slices.Clone(opts.Namespaces)
	slices.Sort(ns)
	b := &velerov1.Backup{
		TypeMeta: metav1.TypeMeta{APIVersion: velerov1.SchemeGroupVersion.String(), Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(opts, stage),
			Namespace:    opts.VeleroNamespace,
			Labels:       labels(opts, stage),
		},
		Spec: velerov1.BackupSpec{
			IncludedNamespaces: ns,
			IncludedResources:  resources(opts.Mode),
			StorageLocation:    location,
			TTL:                metav1.Duration{Duration: opts.TTL},
		},
	}
	switch opts.Mode {
	case ModeFS:
		b.Spec.DefaultVolumesToFsBackup = ptr(true)
		b.Spec.SnapshotVolumes = ptr(false)
	case ModeCSI:
		b.Spec.SnapshotVolumes = ptr(true)
		b.Spec.SnapshotMoveData = ptr(true)
		b.Spec.DefaultVolumesToFsBackup = ptr(false)
	}
	return b
}

// newRestore is the Restore phoenix creates on green from backup. Claims that already exist
// on green are left alone (Velero's existingResourcePolicy "none") and reported as warnings.
func newRestore(opts *Options, backup, stage string) *velerov1.Restore {
	ns := slices.Clone(opts.Namespaces)
	slices.Sort(ns)
	return &velerov1.Restore{
		TypeMeta: metav1.TypeMeta{APIVersion: velerov1.SchemeGroupVersion.String(), Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(opts, stage),
			Namespace:    opts.VeleroNamespace,
			Labels:       labels(opts, stage),
		},
		Spec: velerov1.RestoreSpec{
			BackupName:             backup,
			IncludedNamespaces:     ns,
			IncludedResources:      resources(opts.Mode),
			RestorePVs:             ptr(true),
			ExistingResourcePolicy: velerov1.PolicyTypeNone,
		},
	}
}

func ptr[T any](v T) *T { return &v }

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
