// Package images builds the OCI images phoenix's local clusters run — the pod sandbox
// (pause) and the sample payments application — from Go packages of this module, without a
// registry or Docker, and imports them into a node's containerd.
//
// Build runs `go build` (static, linux) and writes a deterministic OCI image layout tar:
// one layer, fixed timestamps, so the same binary always gives the same digests. The tar
// is cached by the binary's hash. Import hands the tar to `ctr images import` in the
// k8s.io namespace, unpacked for the overlayfs snapshotter, under the image's full name so
// that pods find it with imagePullPolicy IfNotPresent or Never.
//
// It is not a general image builder: one binary per image, no base images, no
// multi-platform indexes, no pushing to registries.
package images
