// Package convert rewrites Kubernetes objects from API versions a target cluster no longer
// serves into versions it does, offline and without a cluster: one pure Converter per
// removed group/version/kind, chained by a Registry (extensions/v1beta1 Ingress ->
// networking.k8s.io/v1beta1 -> networking.k8s.io/v1), each reporting every default it had
// to choose, every field it dropped and every translation that is not exact as a Note.
//
// It also knows which versions each Kubernetes minor (1.14 to 1.37) serves by default
// (ServedBy), maps PodSecurityPolicies, which have no successor, to Pod Security Admission
// levels (PSPToPodSecurity), and converts manifest files and directories for
// `phoenix convert` (ConvertManifests).
//
// It is not the migrate pipeline: it does no I/O against clusters, never asks an apiserver
// to convert (the pipeline prefers blue's own conversion and falls back to this package),
// and does not sanitize cluster-owned fields.
package convert
