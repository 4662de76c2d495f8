package skew

import (
	"fmt"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// The releases phoenix knows.
const (
	MinKnownMinor = 14
	MaxKnownMinor = 37
)

// MaxKubeletSkew is how many minors a kubelet may lag behind a kube-apiserver of version
// apiserver: 2 before 1.28, 3 from 1.28 (version-skew policy, KEP-3935).
func MaxKubeletSkew(apiserver kube.Version) int {
	if apiserver.AtLeastMinor(28) {
		return 3
	}
	return 2
}

// KubeadmKubeletSkew is how many minors behind the new control-plane version kubeadm's
// `upgrade apply` preflight accepts kubelets without --force (its
// MaximumAllowedMinorVersionKubeletSkew): 1 before kubeadm 1.29, 3 from 1.29
// (kubernetes/kubeadm#2924). Seed 003 passed -f at every hop from 1.16 to 1.21 because its
// 1.14 workers stayed behind.
func KubeadmKubeletSkew(kubeadm kube.Version) int {
	if kubeadm.AtLeastMinor(29) {
		return 3
	}
	return 1
}

// CheckSkew reports whether a kubelet at version kubelet may talk to a kube-apiserver at
// version apiserver under the upstream skew policy.
func CheckSkew(apiserver, kubelet kube.Version) error {
	if apiserver.Major != kubelet.Major {
		return fmt.Errorf("kubelet %s and kube-apiserver %s differ in major version", kubelet, apiserver)
	}
	if kubelet.Minor > apiserver.Minor {
		return fmt.Errorf("kubelet %s is newer than kube-apiserver %s: upgrade the control plane first", kubelet, apiserver)
	}
	if d, allowed := apiserver.Minor-kubelet.Minor, MaxKubeletSkew(apiserver); d > allowed {
		return fmt.Errorf("kubelet %s is %d minors behind kube-apiserver %s, %s allows %d: upgrade the kubelets first",
			kubelet, d, apiserver, apiserver.MinorString(), allowed)
	}
	return nil
}

// Known reports whether v is a release phoenix has knowledge of (1.14 through 1.37).
func Known(v kube.Version) error {
	if v.Major != 1 || v.Minor < MinKnownMinor || v.Minor > MaxKnownMinor {
		return fmt.Errorf("version %s is outside what phoenix knows (v1.%d to v1.%d)", v, MinKnownMinor, MaxKnownMinor)
	}
	return nil
}

// finalPatch is the last patch release of minors that are out of support (their final
// release will not change). Newer minors are absent: LatestPatch returns Patch -1 for them.
var finalPatch = map[int]int{
	14: 10, 15: 12, 16: 15, 17: 17, 18: 20, 19: 16, 20: 15, 21: 14, 22: 17,
	23: 17, 24: 17, 25: 16, 26: 15, 27: 16, 28: 15, 29: 15, 30: 14,
}

// LatestPatch returns the newest patch release phoenix knows for minor 1.minor, or the
// bare minor (Patch -1: "the newest patch of that minor; resolve it against the package
// repository") when the minor is still receiving patches.
func LatestPatch(minor int) kube.Version {
	if p, ok := finalPatch[minor]; ok {
		return kube.Version{Major: 1, Minor: minor, Patch: p}
	}
	return kube.Version{Major: 1, Minor: minor, Patch: -1}
}
