package app

import (
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/dns"
	"github.com/phoenix-upgrade/phoenix/cutover/gateway"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// routerFlags are the router flags shared by cutover and rollback; unset ones come from
// the journal.
type routerFlags struct {
	kind                                string
	hp                                  cutover.HAProxyConfig
	dns                                 cutover.DNSConfig
	gwCluster, gwRoute, gwBlue, gwGreen string
}

func (f *routerFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.kind, "router", "", "traffic router: haproxy, dns or gateway (stored for the next run)")
	fs.StringVar(&f.hp.Socket, "haproxy-socket", "", "HAProxy runtime API: unix socket path or tcp://HOST:PORT (level admin)")
	fs.StringVar(&f.hp.Backend, "haproxy-backend", "", "HAProxy backend holding the blue and green servers")
	fs.StringVar(&f.hp.BlueServer, "blue-server", "blue", "HAProxy server that leads to blue")
	fs.StringVar(&f.hp.GreenServer, "green-server", "green", "HAProxy server that leads to green")
	fs.StringVar(&f.hp.StateFile, "haproxy-state-file", "", "HAProxy's server-state-file, rewritten after each change so a reload keeps the weights")
	fs.StringVar(&f.dns.Server, "dns-server", "", "DNS primary accepting RFC 2136 updates, HOST:PORT")
	fs.StringVar(&f.dns.Zone, "dns-zone", "", "zone to update, e.g. example.com")
	fs.StringVar(&f.dns.Name, "dns-name", "", "entry name whose A/AAAA records carry the split, e.g. shop.example.com")
	fs.Uint32Var(&f.dns.TTL, "dns-ttl", dns.DefaultTTL, "TTL of the records written, in seconds (the rollback bound)")
	fs.StringSliceVar(&f.dns.BlueAddrs, "dns-blue", nil, "blue's addresses (comma-separated)")
	fs.StringSliceVar(&f.dns.GreenAddrs, "dns-green", nil, "green's addresses (comma-separated)")
	fs.StringVar(&f.dns.TSIGKeyFile, "dns-tsig-key-file", "", "BIND key file with the TSIG key (tsig-keygen output)")
	fs.StringVar(&f.gwCluster, "gateway-cluster", "", "workspace cluster holding the HTTPRoute (default: the blue cluster)")
	fs.StringVar(&f.gwRoute, "gateway-route", "", "HTTPRoute as NAMESPACE/NAME")
	fs.StringVar(&f.gwBlue, "gateway-blue-backend", "", "backendRef (Service) name that leads to blue")
	fs.StringVar(&f.gwGreen, "gateway-green-backend", "", "backendRef (Service) name that leads to green")
}

// resolve merges the flags the user set over the stored config.
func (f *routerFlags) resolve(fs *pflag.FlagSet, ws *state.Workspace, stored *cutover.RouterConfig) (cutover.RouterConfig, error) {
	var c cutover.RouterConfig
	if stored != nil {
		c = *stored
	}
	kind := f.kind
	if kind == "" {
		kind = c.Kind
	}
	if kind != c.Kind {
		c = cutover.RouterConfig{Kind: kind}
	}
	set := func(name string, dst *string, v string) {
		if fs.Changed(name) || *dst == "" {
			*dst = v
		}
	}
	switch kind {
	case cutover.RouterHAProxy:
		if c.HAProxy == nil {
			c.HAProxy = &cutover.HAProxyConfig{}
		}
		h := c.HAProxy
		set("haproxy-socket", &h.Socket, f.hp.Socket)
		set("haproxy-backend", &h.Backend, f.hp.Backend)
		set("blue-server", &h.BlueServer, f.hp.BlueServer)
		set("green-server", &h.GreenServer, f.hp.GreenServer)
		set("haproxy-state-file", &h.StateFile, f.hp.StateFile)
		if h.Backend != "" {
			// Refused here, before anything reaches the socket or the journal: a name
			// with ';' or a space would be a second runtime API command.
			if err := haproxy.ValidateConfig(*h); err != nil {
				return c, usageError("%v", err)
			}
		}
	case cutover.RouterDNS:
		if c.DNS == nil {
			c.DNS = &cutover.DNSConfig{}
		}
		d := c.DNS
		set("dns-server", &d.Server, f.dns.Server)
		set("dns-zone", &d.Zone, f.dns.Zone)
		set("dns-name", &d.Name, f.dns.Name)
		set("dns-tsig-key-file", &d.TSIGKeyFile, f.dns.TSIGKeyFile)
		if fs.Changed("dns-ttl") || d.TTL == 0 {
			d.TTL = f.dns.TTL
		}
		if fs.Changed("dns-blue") || len(d.BlueAddrs) == 0 {
			d.BlueAddrs = f.dns.BlueAddrs
		}
		if fs.Changed("dns-green") || len(d.GreenAddrs) == 0 {
			d.GreenAddrs = f.dns.GreenAddrs
		}
	case cutover.RouterGateway:
		if c.Gateway == nil {
			c.Gateway = &cutover.GatewayConfig{}
		}
		gw := c.Gateway
		if f.gwRoute != "" {
			ns, name, ok := strings.Cut(f.gwRoute, "/")
			if !ok || ns == "" || name == "" {
				return c, usageError("--gateway-route %q: use NAMESPACE/NAME", f.gwRoute)
			}
			gw.Namespace, gw.Route = ns, name
		}
		set("gateway-blue-backend", &gw.BlueBackend, f.gwBlue)
		set("gateway-green-backend", &gw.GreenBackend, f.gwGreen)
		set("gateway-cluster", &gw.Cluster, f.gwCluster)
		if gw.Cluster == "" {
			if blue, err := ws.ClusterByRole(state.RoleBlue); err == nil {
				gw.Cluster = blue.Name
			}
		}
	}
	if err := c.Validate(); err != nil {
		return c, usageError("%v", err)
	}
	return c, nil
}

// openRouter builds the router a config describes.
func openRouter(ws *state.Workspace, c cutover.RouterConfig) (cutover.Router, error) {
	switch c.Kind {
	case cutover.RouterHAProxy:
		return haproxy.New(*c.HAProxy)
	case cutover.RouterDNS:
		return dns.New(*c.DNS)
	case cutover.RouterGateway:
		cfg, err := kube.ClusterConfig(ws, c.Gateway.Cluster)
		if err != nil {
			return nil, err
		}
		return gateway.New(*c.Gateway, cfg)
	}
	return nil, c.Validate()
}

// openWorkloads returns the CronJob/Job swap over the blue and green clusters, or nil
// (with a notice) when they are not both registered.
func openWorkloads(g *Global, ws *state.Workspace) (cutover.Workloads, error) {
	blue, errB := ws.ClusterByRole(state.RoleBlue)
	green, errG := ws.ClusterByRole(state.RoleGreen)
	if errB != nil || errG != nil {
		g.Progress("No blue and green clusters registered: CronJobs and Jobs are not swapped.")
		return nil, nil
	}
	var clients [2]dynamic.Interface
	for i, name := range []string{blue.Name, green.Name} {
		cfg, err := kube.ClusterConfig(ws, name)
		if err != nil {
			return nil, err
		}
		if clients[i], err = dynamic.NewForConfig(cfg); err != nil {
			return nil, err
		}
	}
	return &cutover.KubeWorkloads{Blue: clients[0], Green: clients[1]}, nil
}

// openGates builds the gates a plan configures.
func openGates(gc cutover.GatesConfig, router cutover.Router, rc cutover.RouterConfig) []cutover.Gate {
	var gates []cutover.Gate
	for _, u := range gc.Probes {
		gates = append(gates, &cutover.HTTPProbe{URL: u, Requests: gc.ProbeRequests, SuccessRate: gc.ProbeSuccessRate, Timeout: time.Duration(gc.ProbeTimeout)})
	}
	if hp, ok := router.(*haproxy.Router); ok && gc.Max5xxRate > 0 {
		gates = append(gates, &haproxy.ErrorRateGate{Router: hp, Server: rc.HAProxy.GreenServer, MaxRate: gc.Max5xxRate, MinRequests: gc.MinRequests})
	}
	return gates
}
