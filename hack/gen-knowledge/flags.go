package main

import (
	"go/ast"
	"path/filepath"
	"regexp"
	"strings"
)

// flagSource is a directory of a module whose AddFlags functions a component calls.
type flagSource struct{ module, dir string }

var (
	k8s       = "k8s.io/kubernetes"
	apiserver = "k8s.io/apiserver"
	cbase     = "k8s.io/component-base"
	// Shared by every component: logging (from 1.2x), feature gates, metrics, version.
	commonFlags = []flagSource{
		{cbase, "logs"}, {cbase, "logs/api/v1"}, {cbase, "cli/globalflag"}, {cbase, "featuregate"},
		{cbase, "metrics"}, {cbase, "version/verflag"}, {cbase, "config/options"}, {cbase, "compatibility"},
	}
	// The generic apiserver options that the apiserver and, for delegated authn/authz and
	// serving, the controller-manager and scheduler register.
	genericServing = []flagSource{{apiserver, "pkg/server/options"}}
)

// componentFlags lists where each component's flags are registered. Directories that do not
// exist in a release are skipped, so packages that moved are listed under both names.
var componentFlags = map[string][]flagSource{
	"kube-apiserver": append(append([]flagSource{
		{k8s, "cmd/kube-apiserver/app/options"}, {k8s, "pkg/kubeapiserver/options"},
		{k8s, "pkg/controlplane/apiserver/options"}, {k8s, "cmd/kube-apiserver/app"},
		{apiserver, "pkg/admission"}, {apiserver, "pkg/util/flag"}, {apiserver, "pkg/util/feature"},
	}, genericServing...), commonFlags...),
	"kube-controller-manager": append(append([]flagSource{
		{k8s, "cmd/kube-controller-manager/app/options"}, {k8s, "cmd/controller-manager/app/options"},
		{"k8s.io/controller-manager", "options"}, {"k8s.io/controller-manager", "config/options"},
		{"k8s.io/cloud-provider", "options"}, {k8s, "pkg/controller/nodeipam/config"},
	}, genericServing...), commonFlags...),
	"kube-scheduler": append(append([]flagSource{
		{k8s, "cmd/kube-scheduler/app/options"},
	}, genericServing...), commonFlags...),
	"kubelet": append([]flagSource{
		{k8s, "cmd/kubelet/app/options"}, {k8s, "pkg/kubelet/config"}, {k8s, "cmd/kubelet/app"},
		{k8s, "pkg/credentialprovider/azure"}, {k8s, "pkg/credentialprovider/gcp"},
	}, commonFlags...),
	"kube-proxy": append([]flagSource{
		{k8s, "cmd/kube-proxy/app"},
	}, commonFlags...),
}

// flagMethod matches the pflag.FlagSet methods that define a flag: String, StringVar,
// StringVarP, Var, DurationVar, StringSliceVar, ...
var flagMethod = regexp.MustCompile(`^(String|Bool|Int|Int8|Int16|Int32|Int64|Uint|Uint8|Uint16|Uint32|Uint64|Float32|Float64|Duration|StringSlice|StringArray|StringToString|StringToInt|IP|IPSlice|IPNet|IPMask|BoolSlice|IntSlice|Int32Slice|Int64Slice|UintSlice|DurationSlice|Float64Slice|BytesHex|BytesBase64|Count)?(Var)?(P)?$`)

type flagInfo struct{ deprecated bool }

// releaseFlags extracts the flags of every component in a release.
func releaseFlags(r release) map[string]map[string]flagInfo {
	out := map[string]map[string]flagInfo{}
	for comp, srcs := range componentFlags {
		var files []*ast.File
		consts := map[string]string{}
		for _, s := range srcs {
			root, ok := r.dirs[s.module]
			if !ok {
				continue
			}
			fs := pkgFiles(filepath.Join(root, filepath.FromSlash(s.dir)))
			stringConsts(fs, consts)
			files = append(files, fs...)
		}
		flags := map[string]flagInfo{}
		deprecated := map[string]bool{}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				name, dep, ok := flagCall(call, consts)
				if !ok {
					return true
				}
				name = normalizeFlag(name)
				if dep {
					deprecated[name] = true
				} else if name != "" {
					flags[name] = flagInfo{}
				}
				return true
			})
		}
		for n := range flags {
			flags[n] = flagInfo{deprecated: deprecated[n]}
		}
		out[comp] = flags
	}
	return out
}

// flagCall recognises fs.XxxVar(&v, "name", ...), fs.Xxx("name", ...), fs.XxxP(..),
// fs.MarkDeprecated("name", ...) and the kubelet's register(global, local, "name").
func flagCall(call *ast.CallExpr, consts map[string]string) (name string, deprecated, ok bool) {
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		m := fn.Sel.Name
		if m == "MarkDeprecated" && len(call.Args) == 2 {
			n, ok := stringLit(call.Args[0], consts)
			return n, true, ok
		}
		// Receivers that are packages of string helpers, not flag sets.
		if x, ok := fn.X.(*ast.Ident); ok && (x.Name == "fmt" || x.Name == "strings" || x.Name == "strconv" || x.Name == "errors" || x.Name == "klog" || x.Name == "sets") {
			return "", false, false
		}
		sm := flagMethod.FindStringSubmatch(m)
		if sm == nil || m == "" || (sm[1] == "" && sm[2] == "") {
			return "", false, false
		}
		idx, min := 0, 3
		if sm[2] == "Var" {
			idx = 1
		}
		if sm[3] == "P" {
			min = 4
		}
		if len(call.Args) < min {
			return "", false, false
		}
		n, ok := stringLit(call.Args[idx], consts)
		if !ok || !flagName.MatchString(n) {
			return "", false, false
		}
		return n, false, true
	case *ast.Ident:
		if (fn.Name == "register" || fn.Name == "registerDeprecated") && len(call.Args) >= 3 {
			n, ok := stringLit(call.Args[2], consts)
			if sel, isSel := call.Args[2].(*ast.SelectorExpr); !ok && isSel {
				// cadvisorflags.HousekeepingInterval (v1.37) names housekeeping_interval.
				n, ok = snake(sel.Sel.Name), true
			}
			if ok && flagName.MatchString(n) {
				return n, false, true
			}
		}
	}
	return "", false, false
}

var flagName = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)

// normalizeFlag applies the components' word-separator normalisation (cliflag's
// WordSepNormalizeFunc): --log_dir and --log-dir are one flag.
func normalizeFlag(n string) string { return strings.ReplaceAll(n, "_", "-") }

// snake turns HousekeepingInterval into housekeeping_interval.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
