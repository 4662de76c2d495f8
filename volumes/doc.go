// Package volumes drives Velero to move the data of persistent volume claims from blue to
// green, before migrate applies the workloads that mount them.
//
// phoenix does not move volume data itself. It creates a Velero Backup on blue scoped to the
// migrated namespaces' claims (file-system backup through Velero's node agent, or CSI snapshot
// data movement), follows it to completion, waits until green's BackupStorageLocation — the
// same object storage as blue's — has synced the backup, creates a Restore on green and follows
// that. Preflight checks the set-up (docs/velero.md) on both clusters before anything is
// written; a backup or restore that ends PartiallyFailed or Failed stops with Velero's own
// errors, read from the backup's results in object storage.
//
// FinalDelta repeats the move at cutover time with writes on blue stopped and reports how long
// they were stopped. SaveResult and LoadResult keep a move's Result in the workspace for
// verify and the final delta.
//
// The objects are Velero's own API types (github.com/vmware-tanzu/velero/pkg/apis/velero/v1),
// sent through the dynamic client. This package is not a Velero installer and does not
// replace Velero's CLI for anything beyond the migration.
package volumes
