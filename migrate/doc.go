// Package migrate moves namespaces from a blue cluster to a green cluster: it discovers
// what lives in the namespaces (and the cluster-scoped objects they depend on), exports
// it to a reviewable artifact directory, sanitizes blue-only fields, converts API
// versions green no longer serves (preferring blue's own conversion, else the offline
// registry of package migrate/convert), orders objects in dependency levels and applies
// them to green with server-side apply, recording every object's outcome in a journal so
// that a killed run resumes where it stopped.
//
// blue is never written to: every request to blue goes through a transport that refuses
// any verb other than GET, LIST and WATCH.
//
// It is not for moving volume contents (PVCs arrive unbound and green provisions fresh
// volumes) and not for shifting traffic (package cutover).
package migrate
