package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/state"
)

// artifactPath is where an object's YAML goes: <dir>/<NN-level>/<namespace>_<kind.group>_<name>.yaml,
// so `kubectl apply -R -f DIR` and a reader see the levels in order.
func artifactPath(dir string, level int, ref Ref) string {
	ns := ref.Namespace
	if ns == "" {
		ns = "_cluster"
	}
	kind := strings.ToLower(ref.Kind)
	if ref.Group != "" {
		kind += "." + ref.Group
	}
	name := strings.NewReplacer("/", "_", ":", "_").Replace(ref.Name)
	return filepath.Join(dir, fmt.Sprintf("%02d-%s", level, LevelName(level)), ns+"_"+kind+"_"+name+".yaml")
}

// export writes every object that will be applied (sanitized and converted: exactly what
// green receives) as YAML, Secrets with mode 0600, and plan.txt describing every object.
func export(dir string, items []*item) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating artifact directory %s: %w", dir, err)
	}
	var plan strings.Builder
	plan.WriteString("# phoenix migration plan: what will be applied to green, level by level.\n")
	plan.WriteString("# Secret values are in the 0600 files only, never in this plan.\n")
	last := -1
	for _, it := range items {
		ref := it.ref()
		if it.level != last {
			fmt.Fprintf(&plan, "\n%02d %s\n", it.level, LevelName(it.level))
			last = it.level
		}
		switch {
		case it.skip != "":
			fmt.Fprintf(&plan, "  skip     %s  (%s)\n", it.readRef, it.skip)
			continue
		case it.failed != "":
			fmt.Fprintf(&plan, "  FAIL     %s  (%s)\n", it.readRef, Scrub(it.failed, it.obj))
			continue
		}
		verb, via := "apply  ", ""
		if it.from != it.obj.GetAPIVersion() {
			verb = "convert"
			via = fmt.Sprintf("  %s -> %s", it.from, it.obj.GetAPIVersion())
			if it.offline {
				via += " (offline converter)"
			} else {
				via += " (read from blue in the new version)"
			}
		}
		fmt.Fprintf(&plan, "  %s  %s%s\n", verb, ref, via)
		for _, n := range it.notes {
			fmt.Fprintf(&plan, "             note: %s\n", Scrub(n, it.obj))
		}
		data, err := yaml.Marshal(it.obj.Object)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", ref, err)
		}
		mode := os.FileMode(0o644)
		if IsSecret(it.obj) {
			mode = 0o600
		}
		if err := writeArtifact(artifactPath(dir, it.level, ref), data, mode); err != nil {
			return err
		}
	}
	return state.WriteFileAtomic(filepath.Join(dir, "plan.txt"), []byte(plan.String()), 0o644)
}

// writeArtifact writes one artifact. Artifacts are a reviewable copy, rebuilt by every run,
// so they are not fsynced (the journal is what a resume relies on).
func writeArtifact(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("writing artifact: %w", err)
	}
	if err := f.Chmod(mode); err != nil { // an existing file keeps its mode otherwise
		_ = f.Close()
		return fmt.Errorf("writing artifact: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing artifact: %w", err)
	}
	return f.Close()
}
