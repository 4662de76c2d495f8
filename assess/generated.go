package assess

import (
	"encoding/json"
	"fmt"
)

// Generated is what hack/gen-knowledge extracts from the Kubernetes source of the last patch
// of every minor release (data/generated.json). Versions in From, To, RemovedIn and LockedIn
// are minors ("v1.24"); Releases names the exact module versions read.
type Generated struct {
	Releases            []GenRelease         `json:"releases"`
	FeatureGates        []GenGate            `json:"featureGates"`
	KubeadmFeatureGates []GenGate            `json:"kubeadmFeatureGates"`
	Flags               []GenFlag            `json:"flags"`
	ConfigAPIs          []GenConfigAPI       `json:"configAPIs"`
	ServedAPIs          []GenServedAPI       `json:"servedAPIs"`
	KubeadmDefaults     []GenKubeadmDefaults `json:"kubeadmDefaults"`
}

// GenRelease is one release read: the k8s.io/kubernetes version and the staging modules'
// versions (the same patch where the proxy serves it, else the newest lower patch served).
type GenRelease struct {
	Minor   string            `json:"minor"`
	Version string            `json:"version"`
	Modules map[string]string `json:"modules,omitempty"`
}

// GenGate is a feature gate: its specs over the releases that know it, where it was defined
// ("kubernetes", "apiserver", "component-base", "kubeadm", ...), the first release that no
// longer knows it and the first release that refuses a value other than its default.
type GenGate struct {
	Name      string     `json:"name"`
	Origin    string     `json:"origin"`
	Spans     []GateSpan `json:"spans"`
	RemovedIn string     `json:"removedIn,omitempty"`
	LockedIn  string     `json:"lockedIn,omitempty"`
}

// GateSpan is a run of releases over which a gate's spec is the same.
type GateSpan struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Stage   string `json:"stage"`
	Default bool   `json:"default"`
	Locked  bool   `json:"locked,omitempty"`
}

// Last returns the gate's last span.
func (g GenGate) Last() GateSpan { return g.Spans[len(g.Spans)-1] }

// GenFlag is a command-line flag of a component over a run of releases (a flag that comes back
// after a gap has two entries). DeprecatedIn is the first release that marks it deprecated.
type GenFlag struct {
	Component    string `json:"component"`
	Flag         string `json:"flag"`
	From         string `json:"from"`
	To           string `json:"to"`
	DeprecatedIn string `json:"deprecatedIn,omitempty"`
	RemovedIn    string `json:"removedIn,omitempty"`
}

// GenConfigAPI is a configuration-file API group/version (kubelet, kube-proxy, scheduler,
// audit, kubeadm, apiserver) over a run of releases.
type GenConfigAPI struct {
	APIVersion string `json:"apiVersion"`
	Path       string `json:"path"`
	From       string `json:"from"`
	To         string `json:"to"`
	RemovedIn  string `json:"removedIn,omitempty"`
}

// GenServedAPI is a resource of a group/version the kube-apiserver serves by default over a
// run of releases (storage registered and the version or resource enabled by default).
type GenServedAPI struct {
	APIVersion string `json:"apiVersion"`
	Resource   string `json:"resource"`
	From       string `json:"from"`
	To         string `json:"to"`
	RemovedIn  string `json:"removedIn,omitempty"`
}

// GenKubeadmDefaults are kubeadm's image versions of one release.
type GenKubeadmDefaults struct {
	Minor   string `json:"minor"`
	Pause   string `json:"pause"`
	CoreDNS string `json:"coreDNS"`
	Etcd    string `json:"etcd"`
}

// LoadGenerated parses the embedded data/generated.json.
func LoadGenerated() (*Generated, error) {
	data, err := dataFS.ReadFile("data/generated.json")
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	var g Generated
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("knowledge base data/generated.json: %w", err)
	}
	return &g, nil
}

// Newest returns the newest minor the generated data covers.
func (g *Generated) Newest() string {
	if len(g.Releases) == 0 {
		return ""
	}
	return g.Releases[len(g.Releases)-1].Minor
}
