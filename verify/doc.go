// Package verify proves parity between blue and green after a migration: for every
// object the latest migration moved, it compares what green holds with what blue holds
// after the same sanitize and convert steps migrate applies (only the fields phoenix
// applied count, so fields green's apiserver defaulted do not), and names missing and
// extra objects with field-level diffs (Secret values masked). It also checks that the
// workloads are ready on green, Services have endpoints, PVCs are bound, and optional
// HTTP probes answer; when volume data moved through Velero (volumes.LoadResult), that the
// restore completed with every item and byte and each restored claim is on green.
//
// It never writes to either cluster; it writes its report to the workspace so that
// cutover can refuse to start without a passing verify. It is not for shifting traffic.
package verify
