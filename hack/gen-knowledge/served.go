package main

import (
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// groupOfDir names the API group of a k8s.io/api (or pkg/registry) directory.
func groupOfDir(dir string) string {
	switch dir {
	case "core":
		return ""
	case "apps", "autoscaling", "batch", "extensions", "policy":
		return dir
	case "rbac":
		return "rbac.authorization.k8s.io"
	case "flowcontrol":
		return "flowcontrol.apiserver.k8s.io"
	case "apiserverinternal":
		return "internal.apiserver.k8s.io"
	}
	return dir + ".k8s.io"
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

var (
	storageFunc = regexp.MustCompile(`^(v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)Storage$`)
	apiImport   = regexp.MustCompile(`^k8s\.io/(?:api|kubernetes/pkg/apis)/([a-z0-9]+)/(v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)$`)
)

// releaseServed returns "apiVersion resource" for every resource the kube-apiserver of a
// release serves by default: its storage is registered in pkg/registry/GROUP/rest and its
// version (or the resource itself) is enabled by the default resource config. Core (v1),
// CRDs and APIServices (apiextensions-apiserver, kube-aggregator) are not read.
func releaseServed(r release) map[string]bool {
	root := r.dirs[k8s]
	storage := map[string]map[string]bool{} // apiVersion -> resources
	entries, _ := os.ReadDir(filepath.Join(root, "pkg", "registry"))
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "core" {
			continue
		}
		group := groupOfDir(e.Name())
		for _, f := range pkgFiles(filepath.Join(root, "pkg", "registry", e.Name(), "rest")) {
			imps := imports(f)
			// The versions this file names through k8s.io/api/GROUP/VERSION.SchemeGroupVersion.
			var fileVersions []string
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "SchemeGroupVersion" {
					if x, ok := sel.X.(*ast.Ident); ok {
						if m := apiImport.FindStringSubmatch(imps[x.Name]); m != nil && groupOfDir(m[1]) == group {
							fileVersions = append(fileVersions, m[2])
						}
					}
				}
				return true
			})
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				versions := fileVersions
				if m := storageFunc.FindStringSubmatch(fd.Name.Name); m != nil {
					versions = []string{m[1]}
				} else if fd.Name.Name != "storage" {
					continue
				}
				for _, res := range storageKeys(fd.Body) {
					for _, v := range versions {
						av := apiVersion(group, v)
						if storage[av] == nil {
							storage[av] = map[string]bool{}
						}
						storage[av][res] = true
					}
				}
			}
		}
	}
	versionOn, resourceOn := defaultEnablement(r)
	out := map[string]bool{}
	for av, resources := range storage {
		removed := removedKinds(r, av)
		for res := range resources {
			if m, ok := removed[res]; ok && m <= r.v.minor {
				continue // the generic apiserver does not install a kind past its removal release
			}
			on, explicit := resourceOn[av+" "+res]
			if !explicit {
				on = versionOn[av]
			}
			if on {
				out[av+" "+res] = true
			}
		}
	}
	return out
}

// storageKeys returns the resources a storage function registers: storage["name"] = ... and
// `if resource := "name"; ...` (sub-resources such as deployments/scale are left out).
func storageKeys(body *ast.BlockStmt) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !strings.Contains(s, "/") && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CompositeLit: // storage := map[string]rest.Storage{"storageclasses": ...}
			if strings.HasPrefix(typeName(x.Type), "map[string]") {
				for _, el := range x.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if s, ok := stringLit(kv.Key, nil); ok {
							add(s)
						}
					}
				}
			}
		case *ast.CallExpr: // ResourceEnabled(gv.WithResource("podsecuritypolicies")), 1.15's guard
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WithResource" && len(x.Args) == 1 {
				if s, ok := stringLit(x.Args[0], nil); ok {
					add(s)
				}
			}
		case *ast.AssignStmt:
			for _, l := range x.Lhs {
				if ix, ok := l.(*ast.IndexExpr); ok {
					if lit, ok := ix.Index.(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						add(s)
					}
				}
			}
			if x.Tok.String() == ":=" && len(x.Lhs) == 1 && len(x.Rhs) == 1 {
				if id, ok := x.Lhs[0].(*ast.Ident); ok && id.Name == "resource" {
					if lit, ok := x.Rhs[0].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						add(s)
					}
				}
			}
		}
		return true
	})
	return out
}

// defaultEnablement reads DefaultAPIResourceConfigSource (pkg/master, later pkg/controlplane
// and pkg/controlplane/apiserver): the versions and resources it enables or disables,
// following the package-level lists it spreads (stableAPIGroupVersionsEnabledByDefault...).
func defaultEnablement(r release) (versions map[string]bool, resources map[string]bool) {
	versions, resources = map[string]bool{}, map[string]bool{}
	root := r.dirs[k8s]
	for _, dir := range []string{"pkg/master", "pkg/controlplane", "pkg/controlplane/apiserver", "pkg/controlplane/apiserver/options"} {
		files := pkgFiles(filepath.Join(root, filepath.FromSlash(dir)))
		lists := map[string][]ast.Expr{}
		for _, f := range files {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, s := range gd.Specs {
					vs, ok := s.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if cl, ok := vs.Values[i].(*ast.CompositeLit); ok {
								lists[n.Name] = cl.Elts
							}
						}
					}
				}
			}
		}
		for _, f := range files {
			imps := imports(f)
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				var enable bool
				switch sel.Sel.Name {
				case "EnableVersions", "EnableResources":
					enable = true
				case "DisableVersions", "DisableResources":
				default:
					return true
				}
				args := call.Args
				if call.Ellipsis.IsValid() && len(args) == 1 {
					if id, ok := args[0].(*ast.Ident); ok {
						args = lists[id.Name]
					}
				}
				for _, a := range args {
					if av, res, ok := gvrOf(a, imps); ok {
						if res == "" {
							versions[av] = enable
						} else {
							resources[av+" "+res] = enable
						}
					}
				}
				return true
			})
		}
	}
	return versions, resources
}

// gvrOf reads alias.SchemeGroupVersion and alias.SchemeGroupVersion.WithResource("r").
func gvrOf(e ast.Expr, imps map[string]string) (av, resource string, ok bool) {
	if call, isCall := e.(*ast.CallExpr); isCall {
		sel, isSel := call.Fun.(*ast.SelectorExpr)
		if !isSel || sel.Sel.Name != "WithResource" || len(call.Args) != 1 {
			return "", "", false
		}
		res, isLit := stringLit(call.Args[0], nil)
		if !isLit {
			return "", "", false
		}
		av, _, ok = gvrOf(sel.X, imps)
		return av, res, ok
	}
	sel, isSel := e.(*ast.SelectorExpr)
	if !isSel || sel.Sel.Name != "SchemeGroupVersion" {
		return "", "", false
	}
	x, isIdent := sel.X.(*ast.Ident)
	if !isIdent {
		return "", "", false
	}
	m := apiImport.FindStringSubmatch(imps[x.Name])
	if m == nil {
		return "", "", false
	}
	return apiVersion(groupOfDir(m[1]), m[2]), "", true
}

// removedKinds reads k8s.io/api's zz_generated.prerelease-lifecycle.go of a group/version
// (from 1.19): func (in *Kind) APILifecycleRemoved() (major, minor int) { return 1, N }, by
// plural resource. The apiserver leaves out kinds whose removal release it has reached,
// though their storage code is still there.
func removedKinds(r release, av string) map[string]int {
	out := map[string]int{}
	root, ok := r.dirs["k8s.io/api"]
	if !ok {
		return out
	}
	group, version, ok := strings.Cut(av, "/")
	if !ok {
		return out
	}
	dir := ""
	for _, d := range []string{"admissionregistration", "apiserverinternal", "apps", "authentication", "authorization", "autoscaling", "batch", "certificates", "coordination", "discovery", "events", "extensions", "flowcontrol", "networking", "node", "policy", "rbac", "resource", "scheduling", "storage", "storagemigration"} {
		if groupOfDir(d) == group {
			dir = d
		}
	}
	if dir == "" {
		return out
	}
	for _, f := range pkgFiles(filepath.Join(root, dir, version)) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != "APILifecycleRemoved" || fd.Recv == nil || len(fd.Recv.List) != 1 || fd.Body == nil || len(fd.Body.List) != 1 {
				continue
			}
			ret, ok := fd.Body.List[0].(*ast.ReturnStmt)
			if !ok || len(ret.Results) != 2 {
				continue
			}
			lit, ok := ret.Results[1].(*ast.BasicLit)
			if !ok {
				continue
			}
			minor, err := strconv.Atoi(lit.Value)
			if err != nil {
				continue
			}
			out[pluralOf(typeName(fd.Recv.List[0].Type))] = minor
		}
	}
	return out
}

// pluralOf is the resource of a built-in kind: Ingress -> ingresses, PriorityClass ->
// priorityclasses, NetworkPolicy -> networkpolicies.
func pluralOf(kind string) string {
	l := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(l, "y"):
		return l[:len(l)-1] + "ies"
	case strings.HasSuffix(l, "s"):
		return l + "es"
	}
	return l + "s"
}
