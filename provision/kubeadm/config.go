package kubeadm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
)

// The kubeadm configuration types phoenix writes, with only the fields it sets. They are
// marshalled, never formatted as text, so no value can add a field or a document
// (go.yaml.in/yaml/v3 keeps the fields in the order kubeadm's documentation shows).
type initConfiguration struct {
	APIVersion       string           `yaml:"apiVersion"`
	Kind             string           `yaml:"kind"`
	CertificateKey   string           `yaml:"certificateKey"`
	NodeRegistration nodeRegistration `yaml:"nodeRegistration"`
}

type nodeRegistration struct {
	Name string `yaml:"name"`
}

type clusterConfiguration struct {
	APIVersion           string     `yaml:"apiVersion"`
	Kind                 string     `yaml:"kind"`
	KubernetesVersion    string     `yaml:"kubernetesVersion"`
	ControlPlaneEndpoint string     `yaml:"controlPlaneEndpoint"`
	Networking           networking `yaml:"networking"`
}

type networking struct {
	PodSubnet string `yaml:"podSubnet"`
}

// kubeadmConfig renders the InitConfiguration and ClusterConfiguration of the first
// control plane. certKey encrypts the control-plane certificates uploaded for joining
// control planes: it is a secret and travels only on the command's stdin.
func kubeadmConfig(v kube.Version, node, endpoint, podSubnet, certKey string) (string, error) {
	api := "kubeadm.k8s.io/v1beta3"
	if v.AtLeastMinor(31) {
		api = "kubeadm.k8s.io/v1beta4"
	}
	docs := []any{
		initConfiguration{APIVersion: api, Kind: "InitConfiguration", CertificateKey: certKey, NodeRegistration: nodeRegistration{Name: node}},
		clusterConfiguration{APIVersion: api, Kind: "ClusterConfiguration", KubernetesVersion: v.String(),
			ControlPlaneEndpoint: endpoint, Networking: networking{PodSubnet: podSubnet}},
	}
	var out []byte
	for i, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			return "", fmt.Errorf("encoding the kubeadm configuration: %w", err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, data...)
	}
	return string(out), nil
}

// newCertificateKey returns 32 random bytes hex-encoded, the form kubeadm wants.
func newCertificateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// defaultEndpoint is the first control plane's host with the API port.
func defaultEndpoint(sshAddress string) string {
	host, _, err := net.SplitHostPort(sshAddress)
	if err != nil {
		host = sshAddress
	}
	return net.JoinHostPort(host, "6443")
}

// validate checks the options that reach a host's commands or the kubeadm
// configuration.
func (o Options) validate() error {
	if err := inplace.ValidateRevision(o.Revision); err != nil {
		return fmt.Errorf("--package-revision: %w", err)
	}
	if _, _, err := net.ParseCIDR(o.PodSubnet); err != nil {
		return fmt.Errorf("pod subnet %q is not a CIDR (e.g. %s): %w", o.PodSubnet, DefaultPodSubnet, err)
	}
	if o.ControlPlaneEndpoint != "" {
		if err := inplace.ValidateAddress(o.ControlPlaneEndpoint); err != nil {
			return fmt.Errorf("control-plane endpoint: %w", err)
		}
	}
	return nil
}

// joinArgv parses the `kubeadm join ...` line printed by `kubeadm token create
// --print-join-command` into its words, each checked, so that they are quoted like any
// other argument rather than run as a shell line.
func joinArgv(line string) ([]string, error) {
	words := strings.Fields(line)
	if len(words) < 3 || words[0] != "kubeadm" || words[1] != "join" {
		return nil, fmt.Errorf("not a kubeadm join command: %s", inplace.Redact(line))
	}
	for _, w := range words {
		for _, r := range w {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == ':' || r == '=' || r == '_' || r == '[' || r == ']') {
				return nil, fmt.Errorf("the join command holds an unexpected character %s: %s", strconv.QuoteRune(r), inplace.Redact(line))
			}
		}
	}
	return words, nil
}
