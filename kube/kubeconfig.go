package kube

import (
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminKubeconfig builds a kubeconfig with a client certificate for one cluster, its
// context named after the cluster.
func AdminKubeconfig(name, server string, caPEM, certPEM, keyPEM []byte) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	user := name + "-admin"
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	return cfg
}
