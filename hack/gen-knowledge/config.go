package main

import (
	"go/ast"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// configRoots are where the configuration-file APIs live: the internal packages in
// kubernetes (which hold the versioned defaults and conversions) and the external types in
// the staging modules.
var configRoots = []flagSource{
	{k8s, "cmd/kubeadm/app/apis/kubeadm"},
	{k8s, "pkg/kubelet/apis/config"},
	{k8s, "pkg/proxy/apis/config"},
	{k8s, "pkg/scheduler/apis/config"},
	{"k8s.io/kubelet", "config"},
	{"k8s.io/kubelet", "pkg/apis/credentialprovider"},
	{"k8s.io/kube-proxy", "config"},
	{"k8s.io/kube-scheduler", "config"},
	{apiserver, "pkg/apis/audit"},
	{apiserver, "pkg/apis/apiserver"},
	{apiserver, "pkg/apis/config"},
}

// configGroups are the configuration groups reported.
var configGroups = map[string]bool{
	"kubeadm.k8s.io": true, "kubelet.config.k8s.io": true, "kubeproxy.config.k8s.io": true,
	"kubescheduler.config.k8s.io": true, "audit.k8s.io": true, "apiserver.config.k8s.io": true,
	"apiserver.k8s.io": true, "credentialprovider.kubelet.k8s.io": true,
}

var (
	versionDir   = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)
	groupComment = regexp.MustCompile(`\+groupName=([a-z0-9.-]+)`)
)

// releaseConfigAPIs returns the configuration API versions of a release: every version
// directory below a root whose package names a group (GroupName or +groupName), as
// apiVersion -> path relative to its module.
func releaseConfigAPIs(r release) map[string]string {
	out := map[string]string{}
	for _, root := range configRoots {
		base, ok := r.dirs[root.module]
		if !ok {
			continue
		}
		start := filepath.Join(base, filepath.FromSlash(root.dir))
		_ = filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.IsDir() || !versionDir.MatchString(e.Name()) {
				return nil
			}
			group := groupOf(p)
			if !configGroups[group] {
				return nil
			}
			rel, _ := filepath.Rel(base, p)
			av := group + "/" + e.Name()
			if cur, ok := out[av]; !ok || strings.HasPrefix(cur, "k8s.io/kubernetes") {
				out[av] = root.module + "/" + filepath.ToSlash(rel)
			}
			return filepath.SkipDir
		})
	}
	return out
}

// groupOf reads the API group of a versioned package: const GroupName or a +groupName tag.
func groupOf(dir string) string {
	files := pkgFiles(dir)
	consts := map[string]string{}
	stringConsts(files, consts)
	if g, ok := consts["GroupName"]; ok {
		return g
	}
	for _, n := range []string{"doc.go", "register.go"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			if m := groupComment.FindSubmatch(b); m != nil {
				return string(m[1])
			}
		}
	}
	return ""
}

// kubeadmDefaults reads kubeadm's image versions (cmd/kubeadm/app/constants): PauseVersion,
// CoreDNSVersion, and the etcd version kubeadm installs for this minor
// (SupportedEtcdVersion[minor], else DefaultEtcdVersion).
func kubeadmDefaults(r release) (pause, coredns, etcd string) {
	files := pkgFiles(filepath.Join(r.dirs[k8s], "cmd", "kubeadm", "app", "constants"))
	consts := map[string]string{}
	stringConsts(files, consts)
	pause, coredns, etcd = consts["PauseVersion"], consts["CoreDNSVersion"], consts["DefaultEtcdVersion"]
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "SupportedEtcdVersion" || len(vs.Values) != 1 {
				return true
			}
			cl, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				return false
			}
			for _, el := range cl.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.BasicLit); ok && k.Value == strconv.Itoa(r.v.minor) {
					if v, ok := stringLit(kv.Value, consts); ok {
						etcd = v
					}
				}
			}
			return false
		})
	}
	return pause, coredns, etcd
}
