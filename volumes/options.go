package volumes

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"k8s.io/client-go/rest"
)

// Mode is how Velero moves volume data.
type Mode string

// Modes, as `phoenix migrate --volumes` names them.
const (
	// ModeNone moves no volume data (claims arrive empty on green).
	ModeNone Mode = "none"
	// ModeFS is Velero's file-system backup: the node agent reads each volume through the
	// running pod that mounts it (kopia), so the Backup includes those pods.
	ModeFS Mode = "velero"
	// ModeCSI is CSI snapshot data movement: Velero snapshots each claim through its CSI driver
	// and the node agent uploads the snapshot's data to object storage.
	ModeCSI Mode = "velero-csi"
)

// ParseMode accepts none, velero (alias velero-fs) and velero-csi; "" is none.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", string(ModeNone):
		return ModeNone, nil
	case string(ModeFS), "velero-fs":
		return ModeFS, nil
	case string(ModeCSI):
		return ModeCSI, nil
	}
	return "", fmt.Errorf("invalid volume mode %q: use velero (file-system backup), velero-csi (CSI snapshot data movement) or none", s)
}

// Labels phoenix puts on the Backups and Restores it creates.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelMigration carries Options.Migration.
	LabelMigration = "phoenix.dev/migration"
	// LabelStage is StageInitial or StageFinalDelta.
	LabelStage = "phoenix.dev/volume-stage"

	StageInitial    = "initial"
	StageFinalDelta = "final-delta"
)

// Options configure a volume move.
type Options struct {
	// Blue and Green are the source and target clusters. The Backup (and a DownloadRequest for
	// its results) are the only objects written to blue.
	Blue, Green *rest.Config
	// Namespaces whose claims move (at least one).
	Namespaces []string
	Mode       Mode
	// VeleroNamespace is where Velero runs on both clusters (default "velero").
	VeleroNamespace string
	// StorageLocation names blue's BackupStorageLocation (default: the one marked default,
	// else "default"). Green's is found by provider, bucket and prefix.
	StorageLocation string
	// Migration links the Velero objects to the phoenix migration (label phoenix.dev/migration).
	Migration string
	// NamePrefix starts the Backup and Restore names (default "phoenix").
	NamePrefix string
	// TTL of the Backup in object storage (default 168h).
	TTL time.Duration
	// Timeout bounds the whole move (default 2h); SyncTimeout bounds the wait for green to see
	// the backup (default 10m: Velero syncs every backupSyncPeriod, 1m by default).
	Timeout, SyncTimeout time.Duration
	// PollInterval between status reads (default 2s).
	PollInterval time.Duration
	// KeepRestoredPods keeps the pods a file-system restore brings back only to carry data;
	// by default they are deleted once the Restore completes so migrate's workloads own the
	// claims.
	KeepRestoredPods bool
	// HTTPClient downloads backup and restore results from object storage (default: a client
	// with a 1 minute timeout).
	HTTPClient *http.Client
	// Log receives debug detail; Progress receives plain progress lines. Either may be nil.
	Log      *slog.Logger
	Progress func(line string)
}

func (o *Options) defaults() error {
	if o.Mode == "" {
		o.Mode = ModeNone
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return err
	}
	if o.Mode == ModeNone {
		return nil
	}
	if o.Blue == nil || o.Green == nil {
		return fmt.Errorf("moving volumes needs both a blue and a green cluster")
	}
	if len(o.Namespaces) == 0 {
		return fmt.Errorf("moving volumes needs at least one namespace (--ns)")
	}
	if o.VeleroNamespace == "" {
		o.VeleroNamespace = "velero"
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "phoenix"
	}
	if o.TTL <= 0 {
		o.TTL = 168 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Hour
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return nil
}

// Result is the outcome of one backup and restore.
type Result struct {
	Mode Mode `json:"mode"`
	// Stage is StageInitial (Move) or StageFinalDelta.
	Stage string `json:"stage,omitempty"`
	// Migration, Namespaces, VeleroNamespace and StorageLocation repeat the options of the
	// move (blue's location as resolved), so that verify and a final delta can follow it.
	Migration       string   `json:"migration,omitempty"`
	Namespaces      []string `json:"namespaces,omitempty"`
	VeleroNamespace string   `json:"veleroNamespace,omitempty"`
	StorageLocation string   `json:"storageLocation,omitempty"`
	// ClaimNames are the claims in scope on blue, as namespace/name, sorted.
	ClaimNames []string `json:"claimNames,omitempty"`
	// Backup and Restore are the Velero object names (in VeleroNamespace on blue and green).
	Backup       string `json:"backup,omitempty"`
	Restore      string `json:"restore,omitempty"`
	BackupPhase  string `json:"backupPhase,omitempty"`
	RestorePhase string `json:"restorePhase,omitempty"`
	// Claims is the number of claims in scope on blue.
	Claims int `json:"claims"`
	// Items are Velero's item counts (claims, volumes, pods) backed up and restored.
	Items         int `json:"items"`
	ItemsBackedUp int `json:"itemsBackedUp"`
	ItemsRestored int `json:"itemsRestored"`
	// Volumes is the number of volume data transfers (PodVolumeBackups or DataUploads).
	Volumes int `json:"volumes"`
	// BytesDone and BytesTotal add up the volume data transfers of the backup.
	BytesDone  int64 `json:"bytesDone"`
	BytesTotal int64 `json:"bytesTotal"`
	// RestoredPodsDeleted counts the data-carrying pods removed after a file-system restore.
	RestoredPodsDeleted int      `json:"restoredPodsDeleted,omitempty"`
	Warnings            []string `json:"warnings,omitempty"`
	Errors              []string `json:"errors,omitempty"`
	// Window is how long writes on blue were stopped (FinalDelta only).
	Window   time.Duration `json:"window,omitempty"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
}
