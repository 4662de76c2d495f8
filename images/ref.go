package images

import (
	"fmt"
	"regexp"
	"strings"
)

// refTag returns the tag of a full image reference ("registry.k8s.io/pause:3.10" -> "3.10").
//
// The reference must be fully qualified, as the kubelet normalizes it before asking
// containerd: "payments/api:1" is looked up as "docker.io/payments/api:1", so an image
// imported under the short name would never be found.
func refTag(ref string) (string, error) {
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("image reference %q has a digest: name it by tag, e.g. registry.example.com/app:1.0", ref)
	}
	slash := strings.Index(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if slash <= 0 || colon < slash || colon == len(ref)-1 {
		return "", fmt.Errorf("image reference %q is not of the form REGISTRY/PATH:TAG: give the full name the kubelet uses, e.g. registry.k8s.io/pause:3.10", ref)
	}
	domain := ref[:slash]
	if !strings.ContainsAny(domain, ".:") && domain != "localhost" {
		return "", fmt.Errorf("image reference %q has no registry host, so the kubelet would look it up as docker.io/%s: write the registry explicitly", ref, ref)
	}
	if !refPattern.MatchString(ref) {
		return "", fmt.Errorf("image reference %q has characters an image name cannot have: use lowercase letters, digits, '.', '-', '_', '/' and a tag", ref)
	}
	return ref[colon+1:], nil
}

var refPattern = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheName is the file name of an image tar in the cache: the reference made safe for a
// file name, and the first 12 hex digits of the binary's sha256.
func cacheName(ref, binarySHA256 string) string {
	return unsafeFileChars.ReplaceAllString(ref, "_") + "-" + binarySHA256[:12] + ".tar"
}
