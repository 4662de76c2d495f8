package main

import (
	"bytes"
	"go/ast"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// gateSpec is a gate's spec in one release.
type gateSpec struct {
	origin  string
	stage   string
	def     bool
	locked  bool
	defined bool // the map key is the package's own constant (not a relisting)
}

// gateDirs are where feature gates are defined, per module: kubernetes' own (pkg/features;
// kubeadm's are separate, see kubeadmGates) and every file of a staging module that declares
// a FeatureSpec map.
func gateDirs(r release) []string {
	var dirs []string
	if d, ok := r.dirs["k8s.io/kubernetes"]; ok {
		dirs = append(dirs, filepath.Join(d, "pkg", "features"))
	}
	for _, m := range gateModules {
		d, ok := r.dirs[m]
		if !ok {
			continue
		}
		seen := map[string]bool{}
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if e.IsDir() {
				if n := e.Name(); n == "testdata" || n == "vendor" || n == "test" || n == "testing" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || seen[filepath.Dir(p)] {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && (bytes.Contains(b, []byte("]featuregate.FeatureSpec{")) || bytes.Contains(b, []byte("]featuregate.VersionedSpecs{"))) {
				seen[filepath.Dir(p)] = true
				dirs = append(dirs, filepath.Dir(p))
			}
			return nil
		})
	}
	return dirs
}

// gateModules are the staging modules whose feature gates the components register.
var gateModules = []string{"k8s.io/apiserver", "k8s.io/component-base", "k8s.io/controller-manager", "k8s.io/apiextensions-apiserver", "k8s.io/client-go"}

// originOf names the module a directory or import path belongs to.
func originOf(path string) string {
	for _, m := range append([]string{"k8s.io/kubernetes"}, gateModules...) {
		if strings.Contains(path, m+"@") || strings.HasPrefix(path, m+"/") || path == m {
			return strings.TrimPrefix(m, "k8s.io/")
		}
	}
	if i := strings.Index(path, "/staging/src/k8s.io/"); i >= 0 {
		return strings.SplitN(path[i+len("/staging/src/k8s.io/"):], "/", 2)[0]
	}
	return "kubernetes"
}

// releaseGates extracts the feature gates a release knows, by name.
func releaseGates(r release) map[string]gateSpec {
	dirs := gateDirs(r)
	// Constants first: a map in one package names gates defined in another.
	consts := map[string]string{}
	parsed := make([][]*ast.File, len(dirs))
	for i, d := range dirs {
		parsed[i] = pkgFiles(d)
		stringConsts(parsed[i], consts)
	}
	out := map[string]gateSpec{}
	for i, d := range dirs {
		origin := originOf(d)
		for _, f := range parsed[i] {
			imps := imports(f)
			collectGates(f, consts, r.v.minor, func(name string, key ast.Expr, s gateSpec) {
				s.origin, s.defined = origin, true
				if sel, ok := key.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok {
						s.origin, s.defined = originOf(imps[x.Name]), false
					}
				}
				if prev, ok := out[name]; ok && prev.defined && !s.defined {
					return
				}
				out[name] = s
			})
		}
	}
	return out
}

// collectGates calls add for every entry of every feature-gate map literal in f:
// map[Feature]FeatureSpec{X: {Default: .., PreRelease: .., LockToDefault: ..}},
// map[Feature]VersionedSpecs{X: {{Version: version.MustParse("1.y"), ...}, ...}} (the spec of
// release 1.minor is the last one whose version is not newer), and kubeadm's
// FeatureList{X: {FeatureSpec: featuregate.FeatureSpec{...}}}.
func collectGates(f *ast.File, consts map[string]string, minor int, add func(string, ast.Expr, gateSpec)) {
	ast.Inspect(f, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		t := typeName(cl.Type)
		versioned := strings.HasSuffix(t, "]VersionedSpecs")
		if !versioned && !strings.HasSuffix(t, "]FeatureSpec") && t != "FeatureList" {
			return true
		}
		for _, el := range cl.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			name, ok := stringLit(kv.Key, consts)
			if !ok {
				continue
			}
			val, ok := kv.Value.(*ast.CompositeLit)
			if !ok {
				continue
			}
			if versioned {
				var chosen *ast.CompositeLit
				for _, e := range val.Elts {
					spec, ok := e.(*ast.CompositeLit)
					if !ok {
						continue
					}
					if v, ok := specMinor(keyed(spec)["Version"]); ok && v <= minor {
						chosen = spec
					}
				}
				if chosen != nil {
					add(name, kv.Key, specOf(keyed(chosen)))
				}
				continue
			}
			fields := keyed(val)
			if inner, ok := fields["FeatureSpec"].(*ast.CompositeLit); ok {
				fields = keyed(inner)
			}
			add(name, kv.Key, specOf(fields))
		}
		return false
	})
}

func specOf(fields map[string]ast.Expr) gateSpec {
	s := gateSpec{stage: lastName(fields["PreRelease"])}
	if s.stage == "" {
		s.stage = "GA" // PreRelease left out: featuregate.GA is the zero value
	}
	s.def = lastName(fields["Default"]) == "true"
	s.locked = lastName(fields["LockToDefault"]) == "true"
	return s
}

// specMinor reads version.MustParse("1.31") as 31.
func specMinor(e ast.Expr) (int, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return 0, false
	}
	s, ok := stringLit(call.Args[0], nil)
	if !ok {
		return 0, false
	}
	p := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(p) < 2 || p[0] != "1" {
		return 0, false
	}
	m, err := strconv.Atoi(p[1])
	return m, err == nil
}

// kubeadmGates extracts kubeadm's own feature gates (cmd/kubeadm/app/features).
func kubeadmGates(r release) map[string]gateSpec {
	files := pkgFiles(filepath.Join(r.dirs["k8s.io/kubernetes"], "cmd", "kubeadm", "app", "features"))
	consts := map[string]string{}
	stringConsts(files, consts)
	out := map[string]gateSpec{}
	for _, f := range files {
		collectGates(f, consts, r.v.minor, func(name string, _ ast.Expr, s gateSpec) {
			s.origin, s.defined = "kubeadm", true
			out[name] = s
		})
	}
	return out
}
