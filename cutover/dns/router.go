package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

// DefaultTTL is the TTL of the records phoenix writes when the config gives none.
const DefaultTTL = 30

// Router drives one name's address records. See the package documentation for how
// weights become records.
type Router struct {
	cfg         cutover.DNSConfig
	key         tsigKey
	blue, green []net.IP
	client      *mdns.Client
}

var _ cutover.Router = (*Router)(nil)

// New reads the TSIG key and checks the config; it does not contact the server.
func New(cfg cutover.DNSConfig) (*Router, error) {
	if cfg.Server == "" || cfg.Zone == "" || cfg.Name == "" {
		return nil, errors.New("router dns needs --dns-server HOST:PORT, --dns-zone and --dns-name")
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		cfg.Server = net.JoinHostPort(cfg.Server, "53")
	}
	cfg.Zone, cfg.Name = mdns.Fqdn(strings.ToLower(cfg.Zone)), mdns.Fqdn(strings.ToLower(cfg.Name))
	if !mdns.IsSubDomain(cfg.Zone, cfg.Name) {
		return nil, fmt.Errorf("--dns-name %s is not in --dns-zone %s", cfg.Name, cfg.Zone)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	r := &Router{cfg: cfg}
	var err error
	if r.blue, err = parseAddrs("--dns-blue", cfg.BlueAddrs); err != nil {
		return nil, err
	}
	if r.green, err = parseAddrs("--dns-green", cfg.GreenAddrs); err != nil {
		return nil, err
	}
	for _, b := range r.blue {
		for _, g := range r.green {
			if b.Equal(g) {
				return nil, fmt.Errorf("address %s is in both --dns-blue and --dns-green", b)
			}
		}
	}
	if r.key, err = readKeyFile(cfg.TSIGKeyFile); err != nil {
		return nil, err
	}
	r.client = &mdns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{r.key.name: r.key.secret}}
	return r, nil
}

func parseAddrs(flag string, in []string) ([]net.IP, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s needs at least one address", flag)
	}
	var out []net.IP
	for _, s := range in {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return nil, fmt.Errorf("%s: %q is not an IP address", flag, s)
		}
		out = append(out, ip)
	}
	return out, nil
}

// Describe implements cutover.Router.
func (r *Router) Describe() string {
	return fmt.Sprintf("dns %s at %s (zone %s, TTL %ds)", r.cfg.Name, r.cfg.Server, r.cfg.Zone, r.cfg.TTL)
}

// RollbackBound implements cutover.Router: caches may keep an answer for its TTL.
func (r *Router) RollbackBound() time.Duration { return time.Duration(r.cfg.TTL) * time.Second }

// mix returns how many blue and green addresses express green percent.
func mix(green, nBlue, nGreen int) (b, g int) {
	switch green {
	case 0:
		return nBlue, 0
	case 100:
		return 0, nGreen
	}
	best := 2.0
	for bb := 1; bb <= nBlue; bb++ {
		for gg := 1; gg <= nGreen; gg++ {
			d := float64(gg)/float64(bb+gg) - float64(green)/100
			if d < 0 {
				d = -d
			}
			if d < best-1e-9 {
				best, b, g = d, bb, gg
			}
		}
	}
	return b, g
}

// SetWeights implements cutover.Router: one signed update replaces the name's A and
// AAAA RRsets; the primary applies it whole or not at all.
func (r *Router) SetWeights(ctx context.Context, blue, green int) error {
	if err := (cutover.Weights{Blue: blue, Green: green}).Validate(); err != nil {
		return err
	}
	nb, ng := mix(green, len(r.blue), len(r.green))
	addrs := append(append([]net.IP{}, r.blue[:nb]...), r.green[:ng]...)
	m := new(mdns.Msg)
	m.SetUpdate(r.cfg.Zone)
	m.RemoveRRset([]mdns.RR{
		&mdns.A{Hdr: mdns.RR_Header{Name: r.cfg.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET}},
		&mdns.AAAA{Hdr: mdns.RR_Header{Name: r.cfg.Name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET}},
	})
	var rrs []mdns.RR
	for _, ip := range addrs {
		if ip4 := ip.To4(); ip4 != nil {
			rrs = append(rrs, &mdns.A{Hdr: mdns.RR_Header{Name: r.cfg.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: r.cfg.TTL}, A: ip4})
		} else {
			rrs = append(rrs, &mdns.AAAA{Hdr: mdns.RR_Header{Name: r.cfg.Name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: r.cfg.TTL}, AAAA: ip})
		}
	}
	m.Insert(rrs)
	m.SetTsig(r.key.name, r.key.algorithm, 300, time.Now().Unix())
	resp, _, err := r.client.ExchangeContext(ctx, m, r.cfg.Server)
	if err != nil {
		if errors.Is(err, mdns.ErrAuth) || errors.Is(err, mdns.ErrSig) || errors.Is(err, mdns.ErrSecret) || errors.Is(err, mdns.ErrKeyAlg) {
			return fmt.Errorf("DNS update of %s refused by %s: TSIG authentication failed (%v): check the key name and secret in %s against the server's key (the records were not changed)", r.cfg.Name, r.cfg.Server, err, r.cfg.TSIGKeyFile)
		}
		return fmt.Errorf("sending DNS update to %s: %w (the records were not changed)", r.cfg.Server, err)
	}
	if resp.Rcode != mdns.RcodeSuccess {
		hint := ""
		switch resp.Rcode {
		case mdns.RcodeNotAuth:
			hint = fmt.Sprintf(": the server does not accept this key for zone %s (check %s and the zone's allow-update or update-policy)", r.cfg.Zone, r.cfg.TSIGKeyFile)
		case mdns.RcodeRefused:
			hint = ": updates are not allowed for this zone with this key (check allow-update / update-policy)"
		case mdns.RcodeNotZone:
			hint = fmt.Sprintf(": %s is not in zone %s on this server", r.cfg.Name, r.cfg.Zone)
		}
		if t := resp.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
			hint += fmt.Sprintf(" [TSIG error %s]", mdns.RcodeToString[int(t.Error)])
		}
		return fmt.Errorf("DNS update of %s refused by %s: %s%s (the records were not changed)", r.cfg.Name, r.cfg.Server, mdns.RcodeToString[resp.Rcode], hint)
	}
	return nil
}

// Addresses asks the primary for the name's A and AAAA records.
func (r *Router) Addresses(ctx context.Context) ([]net.IP, error) {
	var out []net.IP
	for _, t := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		m := new(mdns.Msg)
		m.SetQuestion(r.cfg.Name, t)
		resp, _, err := (&mdns.Client{Net: "tcp", Timeout: r.client.Timeout}).ExchangeContext(ctx, m, r.cfg.Server)
		if err != nil {
			return nil, fmt.Errorf("asking %s for %s: %w", r.cfg.Server, r.cfg.Name, err)
		}
		if resp.Rcode != mdns.RcodeSuccess && resp.Rcode != mdns.RcodeNameError {
			return nil, fmt.Errorf("asking %s for %s: %s", r.cfg.Server, r.cfg.Name, mdns.RcodeToString[resp.Rcode])
		}
		for _, rr := range resp.Answer {
			switch v := rr.(type) {
			case *mdns.A:
				out = append(out, v.A)
			case *mdns.AAAA:
				out = append(out, v.AAAA)
			}
		}
	}
	return out, nil
}

// Weights implements cutover.Router: the share of green's addresses among the ones
// the primary publishes.
func (r *Router) Weights(ctx context.Context) (cutover.Weights, error) {
	addrs, err := r.Addresses(ctx)
	if err != nil {
		return cutover.Weights{}, err
	}
	if len(addrs) == 0 {
		return cutover.Weights{}, fmt.Errorf("%s has no A or AAAA records on %s", r.cfg.Name, r.cfg.Server)
	}
	var nb, ng int
	for _, a := range addrs {
		switch {
		case contains(r.blue, a):
			nb++
		case contains(r.green, a):
			ng++
		default:
			return cutover.Weights{}, fmt.Errorf("%s has address %s, which is in neither --dns-blue nor --dns-green", r.cfg.Name, a)
		}
	}
	return cutover.Percent(nb, ng)
}

func contains(list []net.IP, ip net.IP) bool {
	for _, x := range list {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}
