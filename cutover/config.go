package cutover

import (
	"encoding/json"
	"fmt"
	"time"
)

// Router kinds.
const (
	RouterHAProxy = "haproxy"
	RouterDNS     = "dns"
	RouterGateway = "gateway"
)

// RouterConfig is what it takes to reach a router again; it is stored in the journal so
// that a second `phoenix cutover` or `phoenix rollback` needs no router flags. It never
// holds secrets: the DNS TSIG key is referenced by file.
type RouterConfig struct {
	Kind    string         `json:"kind"`
	HAProxy *HAProxyConfig `json:"haproxy,omitempty"`
	DNS     *DNSConfig     `json:"dns,omitempty"`
	Gateway *GatewayConfig `json:"gateway,omitempty"`
}

// HAProxyConfig drives one HAProxy backend with a blue and a green server.
type HAProxyConfig struct {
	// Socket is the runtime API address: a unix socket path, or tcp://host:port.
	Socket      string `json:"socket"`
	Backend     string `json:"backend"`
	BlueServer  string `json:"blueServer"`
	GreenServer string `json:"greenServer"`
	// StateFile, when set, is the file named by haproxy's `server-state-file`; phoenix
	// rewrites it (from `show servers state`) after every change so that a reload,
	// with `load-server-state-from-file`, keeps the weights.
	StateFile string `json:"stateFile,omitempty"`
}

// DNSConfig drives the A records of one name through RFC 2136 updates signed with TSIG.
type DNSConfig struct {
	// Server is the primary that accepts updates, host:port.
	Server string `json:"server"`
	// Zone is the zone to update, e.g. example.com.
	Zone string `json:"zone"`
	// Name is the entry name whose A records carry the split, e.g. app.example.com.
	Name string `json:"name"`
	// TTL of the records phoenix writes, in seconds; it bounds how long clients may keep
	// the previous answer after a rollback.
	TTL        uint32   `json:"ttl"`
	BlueAddrs  []string `json:"blueAddrs"`
	GreenAddrs []string `json:"greenAddrs"`
	// TSIGKeyFile is a BIND key file (`key "name" { algorithm ...; secret "...";};`), as
	// tsig-keygen writes it. The secret stays in that file.
	TSIGKeyFile string `json:"tsigKeyFile"`
}

// GatewayConfig drives the backendRef weights of one Gateway API HTTPRoute.
type GatewayConfig struct {
	// Cluster is the workspace cluster that holds the HTTPRoute.
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Route     string `json:"route"`
	// BlueBackend and GreenBackend are the names of the backendRefs (Services) that lead
	// to blue and to green; every rule that references both is changed.
	BlueBackend  string `json:"blueBackend"`
	GreenBackend string `json:"greenBackend"`
}

// Validate checks that the fields the kind needs are set.
func (c RouterConfig) Validate() error {
	switch c.Kind {
	case RouterHAProxy:
		h := c.HAProxy
		if h == nil || h.Socket == "" || h.Backend == "" || h.BlueServer == "" || h.GreenServer == "" {
			return fmt.Errorf("router haproxy needs --haproxy-socket and --haproxy-backend (and --blue-server/--green-server unless they are blue and green)")
		}
	case RouterDNS:
		d := c.DNS
		if d == nil || d.Server == "" || d.Zone == "" || d.Name == "" || d.TSIGKeyFile == "" || len(d.BlueAddrs) == 0 || len(d.GreenAddrs) == 0 {
			return fmt.Errorf("router dns needs --dns-server, --dns-zone, --dns-name, --dns-tsig-key-file, --dns-blue and --dns-green")
		}
	case RouterGateway:
		gw := c.Gateway
		if gw == nil || gw.Cluster == "" || gw.Namespace == "" || gw.Route == "" || gw.BlueBackend == "" || gw.GreenBackend == "" {
			return fmt.Errorf("router gateway needs --gateway-route NAMESPACE/NAME, --gateway-blue-backend and --gateway-green-backend (and --gateway-cluster unless the route is on blue)")
		}
	case "":
		return fmt.Errorf("no router configured: pass --router haproxy|dns|gateway with its flags (they are stored for the next run)")
	default:
		return fmt.Errorf("unknown router %q: use haproxy, dns or gateway", c.Kind)
	}
	return nil
}

// Plan is a cutover's steps, timing and gates; it is stored so that a resumed cutover
// follows the same plan.
type Plan struct {
	// Steps are green's weights in percent, ascending, ending at 100.
	Steps    []int       `json:"steps"`
	Interval Duration    `json:"interval"`
	Gates    GatesConfig `json:"gates"`
	// FinalDelta moves the volumes once more at the last step, once green's claim users
	// are stopped, traffic is at green 100% and blue's in-flight requests drained
	// (Options.FinalDelta, FinalDeltaHook).
	FinalDelta bool `json:"finalDelta,omitempty"`
	// DiscardGreenWrites accepts that the final delta replaces green's claims, and with
	// them what green wrote at the steps before the last (--discard-green-writes).
	DiscardGreenWrites bool `json:"discardGreenWrites,omitempty"`
	// DrainTimeout bounds the wait for blue's in-flight requests after the last switch,
	// before a final delta stops blue's writers (default DefaultDrainTimeout).
	DrainTimeout Duration `json:"drainTimeout,omitempty"`
}

// DefaultDrainTimeout bounds the wait for blue's in-flight requests before a final delta.
const DefaultDrainTimeout = time.Minute

// GatesConfig configures the gates and the analysis of their measurements.
type GatesConfig struct {
	// Probes are URLs of green's entry point; each measurement sends ProbeRequests GETs
	// and passes when at least ProbeSuccessRate of them answer 2xx or 3xx.
	Probes           []string `json:"probes,omitempty"`
	ProbeRequests    int      `json:"probeRequests"`
	ProbeSuccessRate float64  `json:"probeSuccessRate"`
	ProbeTimeout     Duration `json:"probeTimeout"`
	// Max5xxRate is the highest share of 5xx answers from green's server in HAProxy's
	// `show stat` between two measurements (haproxy router only; 0 disables the gate).
	Max5xxRate float64 `json:"max5xxRate"`
	// MinRequests is the number of requests green must have served between two
	// measurements for the 5xx rate to count; fewer make the measurement inconclusive.
	MinRequests int `json:"minRequests"`
	// GateInterval is the time between two measurements during a step's interval.
	GateInterval Duration `json:"gateInterval"`
	// FailureLimit: a step fails when more measurements than this failed (Argo's
	// failureLimit; 0 means the first failure rolls back).
	FailureLimit int `json:"failureLimit"`
	// InconclusiveLimit: the cutover pauses, holding its weights, when more measurements
	// than this were inconclusive.
	InconclusiveLimit int `json:"inconclusiveLimit"`
	// ConsecutiveErrorLimit: a step fails when more measurements than this in a row
	// could not be taken at all.
	ConsecutiveErrorLimit int `json:"consecutiveErrorLimit"`
}

// DefaultGates are the gate settings when no flag says otherwise.
func DefaultGates() GatesConfig {
	return GatesConfig{
		ProbeRequests: 10, ProbeSuccessRate: 0.95, ProbeTimeout: Duration(5 * time.Second),
		Max5xxRate: 0.01, MinRequests: 20, GateInterval: Duration(10 * time.Second),
		FailureLimit: 0, InconclusiveLimit: 2, ConsecutiveErrorLimit: 4,
	}
}

// ValidateSteps checks steps: each 1-100, strictly ascending, the last one 100.
func ValidateSteps(steps []int) error {
	if len(steps) == 0 {
		return fmt.Errorf("no steps: give green's weights in percent, e.g. --steps 10,50,100")
	}
	prev := 0
	for _, s := range steps {
		if s < 1 || s > 100 {
			return fmt.Errorf("step %d: %w: steps are green's share in percent, 1-100", s, ErrOutOfRange)
		}
		if s <= prev {
			return fmt.Errorf("steps %v must rise strictly, e.g. 10,50,100", steps)
		}
		prev = s
	}
	if prev != 100 {
		return fmt.Errorf("steps %v must end at 100 (green takes all traffic at the last step)", steps)
	}
	return nil
}

// Duration is a time.Duration that reads and writes as "30s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration %s: use a string such as \"30s\"", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
