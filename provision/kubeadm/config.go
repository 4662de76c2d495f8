package kubeadm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// kubeadmConfig renders the InitConfiguration and ClusterConfiguration of the first
// control plane. certKey encrypts the control-plane certificates uploaded for joining
// control planes: it is a secret and travels only on the command's stdin.
func kubeadmConfig(v kube.Version, node, endpoint, podSubnet, certKey string) string {
	api := "kubeadm.k8s.io/v1beta3"
	if v.AtLeastMinor(31) {
		api = "kubeadm.k8s.io/v1beta4"
	}
	return fmt.Sprintf(`apiVersion: %[1]s
kind: InitConfiguration
certificateKey: %[2]s
nodeRegistration:
  name: %[3]s
---
apiVersion: %[1]s
kind: ClusterConfiguration
kubernetesVersion: %[4]s
controlPlaneEndpoint: %[5]s
networking:
  podSubnet: %[6]s
`, api, certKey, node, v, endpoint, podSubnet)
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
