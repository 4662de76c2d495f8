// Package kube builds Kubernetes clients for phoenix: REST configs from a kubeconfig and
// context (the flags kubectl users know, via k8s.io/cli-runtime) or from a cluster in the
// workspace, with client-side throttling raised for bulk work; and Kubernetes version
// parsing and comparison shared by every package that reasons about versions.
//
// It holds no business logic of migrate, assess or cutover.
package kube
