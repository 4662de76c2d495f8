package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// EnvHome names the environment variable that overrides the workspace location.
const EnvHome = "PHOENIX_HOME"

// Roles a cluster plays in a blue-green upgrade.
const (
	RoleBlue  = "blue"
	RoleGreen = "green"
)

// ErrNotFound is returned when a named cluster is not in the workspace.
var ErrNotFound = errors.New("not found")

// Cluster is one cluster phoenix knows about.
type Cluster struct {
	Name     string `json:"name"`
	Role     string `json:"role,omitempty"`
	Provider string `json:"provider"`
	Version  string `json:"version,omitempty"`
	// Managed is true when phoenix created the cluster and may delete it.
	Managed bool `json:"managed"`
	// Context is the kubeconfig context phoenix uses for this cluster.
	Context string    `json:"context,omitempty"`
	Server  string    `json:"server,omitempty"`
	Created time.Time `json:"created"`
	// Provider-specific details (ports, pids, binary source, ...). Never secrets.
	Details map[string]string `json:"details,omitempty"`
}

// Workspace is phoenix's directory on disk.
type Workspace struct {
	Root string
}

// DefaultRoot is $PHOENIX_HOME, or ~/.phoenix.
func DefaultRoot() string {
	if v := os.Getenv(EnvHome); v != "" {
		return v
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".phoenix"
	}
	return filepath.Join(home, ".phoenix")
}

// Open opens (and creates when missing) the workspace at root; "" means DefaultRoot.
func Open(root string) (*Workspace, error) {
	if root == "" {
		root = DefaultRoot()
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, "clusters"), 0o700); err != nil {
		return nil, fmt.Errorf("creating workspace %s (set --workspace or %s to a writable directory): %w", abs, EnvHome, err)
	}
	return &Workspace{Root: abs}, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidateName checks a cluster name: a DNS label (lowercase letters, digits, '-').
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid cluster name %q: use lowercase letters, digits and '-', at most 63 characters, e.g. green", name)
	}
	return nil
}

// Path joins elements under the workspace root.
func (w *Workspace) Path(elem ...string) string {
	return filepath.Join(append([]string{w.Root}, elem...)...)
}

// ClusterDir is the directory of one cluster: cluster.json, kubeconfig, and whatever the
// provider keeps (PKI, logs, pids).
func (w *Workspace) ClusterDir(name string) string { return w.Path("clusters", name) }

// KubeconfigPath is where the cluster's kubeconfig lives (mode 0600).
func (w *Workspace) KubeconfigPath(name string) string {
	return filepath.Join(w.ClusterDir(name), "kubeconfig")
}

func (w *Workspace) clusterFile(name string) string {
	return filepath.Join(w.ClusterDir(name), "cluster.json")
}

// SaveCluster records c, and its kubeconfig when kubeconfig is not nil.
func (w *Workspace) SaveCluster(c Cluster, kubeconfig []byte) error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if err := os.MkdirAll(w.ClusterDir(c.Name), 0o700); err != nil {
		return err
	}
	if kubeconfig != nil {
		if err := WriteFileAtomic(w.KubeconfigPath(c.Name), kubeconfig, 0o600); err != nil {
			return err
		}
	}
	return WriteJSONAtomic(w.clusterFile(c.Name), c, 0o600)
}

// Cluster returns the named cluster, or an error wrapping ErrNotFound. A name that is
// not a valid cluster name (../../x) is refused before any path is built from it.
func (w *Workspace) Cluster(name string) (Cluster, error) {
	var c Cluster
	if err := ValidateName(name); err != nil {
		return c, err
	}
	if err := ReadJSON(w.clusterFile(name), &c); err != nil {
		if os.IsNotExist(err) {
			return c, fmt.Errorf("cluster %q %w in workspace %s (see `phoenix clusters`)", name, ErrNotFound, w.Root)
		}
		return c, err
	}
	if c.Name != name {
		return Cluster{}, fmt.Errorf("%s names cluster %q, not %q: the record was edited or moved; fix or remove it", w.clusterFile(name), c.Name, name)
	}
	return c, nil
}

// HasCluster reports whether a cluster record exists under name.
func (w *Workspace) HasCluster(name string) bool {
	if ValidateName(name) != nil {
		return false
	}
	_, err := os.Stat(w.clusterFile(name))
	return err == nil
}

// Clusters lists every cluster in the workspace, sorted by name.
func (w *Workspace) Clusters() ([]Cluster, error) {
	entries, err := os.ReadDir(w.Path("clusters"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []Cluster
	for _, e := range entries {
		if !e.IsDir() || !w.HasCluster(e.Name()) {
			continue
		}
		c, err := w.Cluster(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Kubeconfig returns the stored kubeconfig of a cluster.
func (w *Workspace) Kubeconfig(name string) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(w.KubeconfigPath(name))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("cluster %q has no kubeconfig in %s: %w", name, w.Root, ErrNotFound)
		}
		return nil, err
	}
	return data, nil
}

// RemoveCluster forgets a cluster: its record, kubeconfig and provider files.
func (w *Workspace) RemoveCluster(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return os.RemoveAll(w.ClusterDir(name))
}

// ClusterByRole returns the cluster recorded with the given role; it is an error when
// none or several have it.
func (w *Workspace) ClusterByRole(role string) (Cluster, error) {
	all, err := w.Clusters()
	if err != nil {
		return Cluster{}, err
	}
	var found []Cluster
	for _, c := range all {
		if c.Role == role {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Cluster{}, fmt.Errorf("no %s cluster in the workspace: register one with `phoenix clusters add NAME --role %s` or name it explicitly: %w", role, role, ErrNotFound)
	default:
		return Cluster{}, fmt.Errorf("%d clusters have role %s: name one explicitly", len(found), role)
	}
}
