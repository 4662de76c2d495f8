package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"sigs.k8s.io/yaml"
)

// artifactPath is where an object's YAML goes: <dir>/<NN-level>/<namespace>_<kind.group>_<name>.yaml,
// so `kubectl apply -R -f DIR` and a reader see the levels in order. Every component is
// encoded by pathComponent, so no name can add a separator or a dot-dot and no two
// objects share a file.
func artifactPath(dir string, level int, ref Ref) string {
	ns := "%cluster" // '%' never survives pathComponent, so no namespace encodes to this
	if ref.Namespace != "" {
		ns = pathComponent(ref.Namespace)
	}
	kind := strings.ToLower(ref.Kind)
	if ref.Group != "" {
		kind += "." + ref.Group
	}
	return filepath.Join(dir, fmt.Sprintf("%02d-%s", level, LevelName(level)), ns+"_"+pathComponent(kind)+"_"+pathComponent(ref.Name)+".yaml")
}

// pathComponent encodes s for one file name: lowercase letters, digits, '-' and '.' stay
// (a leading '.' does not), every other byte becomes %XX. The encoding is one to one
// ("system:x" is system%3Ax, "system_x" system%5Fx), contains no '/' or '_' (the field
// separator), and never is "." or "..". Names too long for a file name keep a prefix and
// a hash of the whole.
func pathComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' && i > 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	out := b.String()
	if out == "" {
		return "%"
	}
	if len(out) > 80 {
		sum := sha256.Sum256([]byte(s))
		out = out[:40] + "%~" + hex.EncodeToString(sum[:16])
	}
	return out
}

// export writes every object that will be applied (sanitized and converted: exactly what
// green receives) as YAML, Secrets with mode 0600, and plan.txt describing every object.
func export(dir string, items []*item) error {
	if err := prepareArtifactDir(dir); err != nil {
		return err
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
		mode := os.FileMode(0o644) // readable only through the 0700 directory
		if IsSecret(it.obj) {
			mode = 0o600
		}
		if err := writeArtifact(artifactPath(dir, it.level, ref), data, mode); err != nil {
			return err
		}
	}
	return writeArtifact(filepath.Join(dir, "plan.txt"), []byte(plan.String()), 0o644)
}

// artifactMarker marks a directory phoenix created for artifacts.
const artifactMarker = ".phoenix-artifacts"

// prepareArtifactDir makes dir ready for a fresh export: created 0700 with a marker when
// missing; otherwise it must be one phoenix made (the marker), owned by this user and
// writable by nobody else, and what an earlier export left is removed (RemoveAll does
// not follow symlinks). Files are then created with O_EXCL|O_NOFOLLOW: nothing planted
// in the directory can redirect a write.
func prepareArtifactDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("creating artifact directory %s: %w", dir, err)
		}
		return writeArtifact(filepath.Join(dir, artifactMarker), []byte("created by phoenix for migration artifacts\n"), 0o644)
	case err != nil:
		return fmt.Errorf("artifact directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--artifacts %s is not a directory (a symlink or a file): give a new path, phoenix creates it", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm()&0o022 != 0 || ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("--artifacts %s is writable by others or not yours (mode %v): Secrets are written there, so phoenix refuses it; give a new path, phoenix creates it 0700", dir, fi.Mode().Perm())
	}
	if m, err := os.Lstat(filepath.Join(dir, artifactMarker)); err != nil || !m.Mode().IsRegular() {
		return fmt.Errorf("--artifacts %s was not created by phoenix: give a new path (phoenix creates it 0700), so nothing phoenix writes lands in a directory it does not control", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("artifact directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == artifactMarker {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clearing the previous export in %s: %w", dir, err)
		}
	}
	return os.Chmod(dir, 0o700)
}

// writeArtifact writes one artifact. Artifacts are a reviewable copy, rebuilt by every run,
// so they are not fsynced (the journal is what a resume relies on).
func writeArtifact(path string, data []byte, mode os.FileMode) error {
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return fmt.Errorf("writing artifact: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing artifact: %w", err)
	}
	return f.Close()
}

// removeSecretArtifacts removes the Secret files export wrote, so no plaintext Secret
// outlives the run; it returns how many it removed.
func removeSecretArtifacts(dir string, items []*item) (int, error) {
	n := 0
	var errs []error
	for _, it := range items {
		if it.skip != "" || it.failed != "" || it.obj == nil || !IsSecret(it.obj) {
			continue
		}
		err := os.Remove(artifactPath(dir, it.level, it.ref()))
		switch {
		case err == nil:
			n++
		case !errors.Is(err, os.ErrNotExist):
			errs = append(errs, fmt.Errorf("removing a Secret artifact: %w", err))
		}
	}
	return n, errors.Join(errs...)
}
