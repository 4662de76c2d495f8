package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module images builds from.
const ModulePath = "github.com/phoenix-upgrade/phoenix"

// Environment variables that override Options defaults.
const (
	// EnvSource is the phoenix checkout to build images from.
	EnvSource = "PHOENIX_SOURCE"
	// EnvCache is phoenix's cache root; images live in its "images" subfolder.
	EnvCache = "PHOENIX_CACHE"
)

// defaultCacheDir is $PHOENIX_CACHE/images, or the user cache directory's phoenix/images.
func defaultCacheDir() (string, error) {
	if v := os.Getenv(EnvCache); v != "" {
		return filepath.Join(v, "images"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache directory: %w (set %s)", err, EnvCache)
	}
	return filepath.Join(d, "phoenix", "images"), nil
}

// FindSource returns the root of the phoenix module to build from: $PHOENIX_SOURCE if set
// (which must be a phoenix checkout), else the nearest directory at or above cwd whose
// go.mod declares the phoenix module.
func FindSource(cwd string) (string, error) {
	if v := os.Getenv(EnvSource); v != "" {
		ok, err := isPhoenixModule(v)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvSource, v, err)
		}
		if !ok {
			return "", fmt.Errorf("%s=%s is not a phoenix checkout (its go.mod must declare module %s): point it at the repository root", EnvSource, v, ModulePath)
		}
		return filepath.Abs(v)
	}
	dir, err := filepath.Abs(cwd)
	if err != nil {
		return "", fmt.Errorf("finding the phoenix source: %w", err)
	}
	for {
		ok, err := isPhoenixModule(dir)
		if err != nil {
			return "", err
		}
		if ok {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no phoenix source found at or above %s: run from a phoenix checkout or set %s to one", cwd, EnvSource)
		}
		dir = parent
	}
}

// isPhoenixModule reports whether dir/go.mod declares ModulePath.
func isPhoenixModule(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading go.mod: %w", err)
	}
	return modulePath(data) == ModulePath, nil
}

// modulePath is the module line of a go.mod file ("" if there is none).
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		return strings.Trim(strings.TrimSpace(rest), `"`+"`")
	}
	return ""
}
