package inplace

import (
	"fmt"
	"slices"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// Package revisions pkgs.k8s.io gives every release: deb packages are 1.28.15-1.1, rpm
// packages kubeadm-1.28.15-150500.1.1.
const (
	DefaultDebRevision = "1.1"
	DefaultRPMRevision = "150500.1.1"
)

// Files the pkgs.k8s.io repository definitions live in (as in the kubeadm install docs).
const (
	AptSourcesFile = "/etc/apt/sources.list.d/kubernetes.list"
	AptKeyring     = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
	YumRepoFile    = "/etc/yum.repos.d/kubernetes.repo"
)

// Packages builds the package-manager commands for one host.
type Packages struct {
	Manager string
	// Revision overrides the package revision (DefaultDebRevision / DefaultRPMRevision).
	Revision string
}

func (p Packages) revision() string {
	if p.Revision != "" {
		return p.Revision
	}
	if p.Manager == PackageManagerYum {
		return DefaultRPMRevision
	}
	return DefaultDebRevision
}

// PackageVersion is the full package version of release v: 1.28.15-1.1 (deb) or
// 1.28.15-150500.1.1 (rpm).
func (p Packages) PackageVersion(v kube.Version) string {
	return fmt.Sprintf("%d.%d.%d-%s", v.Major, v.Minor, v.Patch, p.revision())
}

// SetRepository writes the pkgs.k8s.io repository definition for v's minor. For yum the
// repository excludes the Kubernetes packages, which holds them (installs pass
// --disableexcludes=kubernetes).
func (p Packages) SetRepository(v kube.Version) string {
	base := fmt.Sprintf("https://pkgs.k8s.io/core:/stable:/%s/", v.MinorString())
	if p.Manager == PackageManagerYum {
		lines := []string{"[kubernetes]", "name=Kubernetes", "baseurl=" + base + "rpm/", "enabled=1", "gpgcheck=1",
			"gpgkey=" + base + "rpm/repodata/repomd.xml.key", "exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni"}
		return printfTee(YumRepoFile, lines)
	}
	return printfTee(AptSourcesFile, []string{fmt.Sprintf("deb [signed-by=%s] %sdeb/ /", AptKeyring, base)})
}

func printfTee(path string, lines []string) string {
	return Pipe(Argv(append([]string{"printf", `%s\n`}, lines...)...), Argv("tee", path))
}

// Refresh refreshes the package index.
func (p Packages) Refresh() string {
	if p.Manager == PackageManagerYum {
		return "yum makecache -y --disableexcludes=kubernetes"
	}
	return "apt-get update"
}

// ListVersions lists the versions of kubeadm the repository offers; the output must
// contain PackageVersion for the upgrade to go on (seed 000, "确定升级版本").
func (p Packages) ListVersions() string {
	if p.Manager == PackageManagerYum {
		return "yum list --showduplicates kubeadm --disableexcludes=kubernetes"
	}
	return "apt-cache madison kubeadm"
}

// Install installs names at release v, pinned to the exact package version and held
// (apt-mark unhold / install / hold; yum holds through the repository's exclude line).
func (p Packages) Install(v kube.Version, names ...string) []string {
	ver := p.PackageVersion(v)
	pkgs := make([]string, len(names))
	if p.Manager == PackageManagerYum {
		for i, n := range names {
			pkgs[i] = n + "-" + ver
		}
		return []string{Argv(slices.Concat([]string{"yum", "install", "-y"}, pkgs, []string{"--disableexcludes=kubernetes"})...)}
	}
	for i, n := range names {
		pkgs[i] = n + "=" + ver
	}
	return []string{
		Argv(append([]string{"apt-mark", "unhold"}, names...)...),
		// The environment assignment is a constant prefix; every word after it is quoted.
		"DEBIAN_FRONTEND=noninteractive " + Argv(append([]string{"apt-get", "install", "-y"}, pkgs...)...),
		Argv(append([]string{"apt-mark", "hold"}, names...)...),
	}
}
