// Package kube builds Kubernetes clients for phoenix: REST configs from a kubeconfig and
// context (the flags kubectl users know, via k8s.io/cli-runtime) or from a cluster in the
// workspace, with client-side throttling raised for bulk work; and Kubernetes version
// parsing and comparison shared by every package that reasons about versions.
//
// It also owns facts about objects that more than one package reads the same way (which
// node ports of a Service a field manager chose: migrate keeps them, assess reports them).
// It holds no business logic of migrate, assess or cutover.
package kube
