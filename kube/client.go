package kube

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Bulk throttling: client-go's default of 5 QPS / burst 10 makes bulk tools crawl.
const (
	DefaultQPS   = 200
	DefaultBurst = 400
)

// Throttle sets client-side rate limits on cfg. qps <= 0 disables client throttling.
func Throttle(cfg *rest.Config, qps float32, burst int) *rest.Config {
	if qps <= 0 {
		cfg.QPS = -1
		cfg.RateLimiter = nil
		return cfg
	}
	cfg.QPS = qps
	cfg.Burst = burst
	return cfg
}

// ConfigFromFlags builds a REST config from kubectl-style flags. It reports a kubeconfig
// that does not parse and a context that does not exist with what to do.
func ConfigFromFlags(flags *genericclioptions.ConfigFlags) (*rest.Config, error) {
	if flags.Context != nil && *flags.Context != "" {
		raw, err := flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, fmt.Errorf("reading kubeconfig: %w (check --kubeconfig or $KUBECONFIG)", err)
		}
		if _, ok := raw.Contexts[*flags.Context]; !ok {
			return nil, fmt.Errorf("context %q does not exist in the kubeconfig (list them with `kubectl config get-contexts`)", *flags.Context)
		}
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("building client config: %w (check --kubeconfig, --context or $KUBECONFIG)", err)
	}
	return cfg, nil
}

// ConfigFromKubeconfig builds a REST config from kubeconfig bytes and an optional context.
func ConfigFromKubeconfig(data []byte, context string) (*rest.Config, error) {
	cc, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig does not parse: %w", err)
	}
	if context != "" {
		if _, ok := cc.Contexts[context]; !ok {
			return nil, fmt.Errorf("context %q does not exist in the kubeconfig", context)
		}
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*cc, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// ClusterConfig builds a REST config for a cluster registered in the workspace.
func ClusterConfig(ws *state.Workspace, name string) (*rest.Config, error) {
	c, err := ws.Cluster(name)
	if err != nil {
		return nil, err
	}
	data, err := ws.Kubeconfig(name)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromKubeconfig(data, c.Context)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	return cfg, nil
}

// LoadKubeconfigFile reads a kubeconfig file and checks that it parses and names ctx
// (when given); it returns the minified kubeconfig for that context, ready to store.
func LoadKubeconfigFile(path, ctx string) ([]byte, string, error) {
	if path == "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		raw, err := rules.Load()
		if err != nil {
			return nil, "", fmt.Errorf("reading kubeconfig: %w (pass --kubeconfig)", err)
		}
		return minify(raw, ctx)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading kubeconfig: %w", err)
	}
	cc, err := clientcmd.Load(data)
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s does not parse: %w", path, err)
	}
	return minify(cc, ctx)
}

func minify(cc *clientcmdapi.Config, ctx string) ([]byte, string, error) {
	if ctx == "" {
		ctx = cc.CurrentContext
	}
	if ctx == "" {
		return nil, "", fmt.Errorf("kubeconfig has no current context: pass --context")
	}
	if _, ok := cc.Contexts[ctx]; !ok {
		return nil, "", fmt.Errorf("context %q does not exist in the kubeconfig (list them with `kubectl config get-contexts`)", ctx)
	}
	cp := cc.DeepCopy()
	cp.CurrentContext = ctx
	if err := clientcmdapi.MinifyConfig(cp); err != nil {
		return nil, "", err
	}
	if err := clientcmdapi.FlattenConfig(cp); err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	data, err := clientcmd.Write(*cp)
	return data, ctx, err
}

// Clients bundles the clients most phoenix operations need.
type Clients struct {
	Config    *rest.Config
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
}

// NewClients builds typed, dynamic and discovery clients for cfg.
func NewClients(cfg *rest.Config) (*Clients, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Config: cfg, Kube: k, Dynamic: d, Discovery: disc}, nil
}
