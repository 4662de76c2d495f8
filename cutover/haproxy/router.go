package haproxy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/state"
)

// MaxWeight is the largest weight HAProxy accepts for a server.
const MaxWeight = 256

// Router drives one backend's blue and green servers. Percentages map to HAProxy
// weights one to one (green 10% = weight 10 on green, 90 on blue); with `balance
// roundrobin` (or any dynamic algorithm) the change applies to the next request.
type Router struct {
	cfg cutover.HAProxyConfig
	c   *client
}

var _ cutover.Router = (*Router)(nil)

// New returns a router for cfg; it does not connect until asked to.
func New(cfg cutover.HAProxyConfig) (*Router, error) {
	c, err := newClient(cfg.Socket)
	if err != nil {
		return nil, err
	}
	if cfg.Backend == "" {
		return nil, fmt.Errorf("no haproxy backend: pass --haproxy-backend NAME (the backend holding the blue and green servers)")
	}
	if cfg.BlueServer == "" {
		cfg.BlueServer = "blue"
	}
	if cfg.GreenServer == "" {
		cfg.GreenServer = "green"
	}
	if err := ValidateConfig(cfg); err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, c: c}, nil
}

// Describe implements cutover.Router.
func (r *Router) Describe() string {
	return fmt.Sprintf("haproxy %s backend %s (blue %s, green %s)", r.c, r.cfg.Backend, r.cfg.BlueServer, r.cfg.GreenServer)
}

// RollbackBound implements cutover.Router: HAProxy balances every request anew.
func (r *Router) RollbackBound() time.Duration { return 0 }

// Servers returns the backend's servers from `show servers state`.
func (r *Router) Servers(ctx context.Context) ([]ServerState, error) {
	out, err := r.c.do(ctx, "show servers state "+r.cfg.Backend)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.TrimSpace(out), "Can't find backend") {
		return nil, fmt.Errorf("haproxy has no backend %q (check --haproxy-backend against haproxy.cfg)", r.cfg.Backend)
	}
	return parseServersState(out)
}

// pair returns blue's and green's state, or an error naming what is missing.
func (r *Router) pair(ctx context.Context) (blue, green ServerState, err error) {
	all, err := r.Servers(ctx)
	if err != nil {
		return blue, green, err
	}
	var names []string
	found := 0
	for _, s := range all {
		names = append(names, s.Name)
		switch s.Name {
		case r.cfg.BlueServer:
			blue, found = s, found|1
		case r.cfg.GreenServer:
			green, found = s, found|2
		}
	}
	for bit, name := range map[int]string{1: r.cfg.BlueServer, 2: r.cfg.GreenServer} {
		if found&bit == 0 {
			return blue, green, fmt.Errorf("haproxy backend %s has no server %q (it has: %s): check --blue-server/--green-server", r.cfg.Backend, name, strings.Join(names, ", "))
		}
	}
	return blue, green, nil
}

// Weights implements cutover.Router: the effective weights (a server in maintenance or
// drain, or down, counts as 0) as percentages.
func (r *Router) Weights(ctx context.Context) (cutover.Weights, error) {
	blue, green, err := r.pair(ctx)
	if err != nil {
		return cutover.Weights{}, err
	}
	w, err := cutover.Percent(blue.EffectiveWeight(), green.EffectiveWeight())
	if err != nil {
		return w, fmt.Errorf("haproxy backend %s: %w", r.cfg.Backend, err)
	}
	return w, nil
}

// SetWeights implements cutover.Router. Both servers are checked first; both weights
// change in one runtime API request, the rising one first; a server given traffic is
// taken out of maintenance or drain. On any error the previous weights are restored.
func (r *Router) SetWeights(ctx context.Context, blue, green int) error {
	if err := (cutover.Weights{Blue: blue, Green: green}).Validate(); err != nil {
		return err
	}
	return r.setRaw(ctx, blue, green)
}

// SetServerWeights sets raw HAProxy weights (0-256) on blue and green.
func (r *Router) SetServerWeights(ctx context.Context, blue, green int) error {
	for _, w := range []int{blue, green} {
		if w < 0 || w > MaxWeight {
			return fmt.Errorf("haproxy weight %d: %w: HAProxy accepts 0-%d", w, cutover.ErrOutOfRange, MaxWeight)
		}
	}
	return r.setRaw(ctx, blue, green)
}

func (r *Router) setRaw(ctx context.Context, blue, green int) error {
	b, g, err := r.pair(ctx)
	if err != nil {
		return err
	}
	be := r.cfg.Backend
	set := func(s ServerState, w int) []string {
		cmds := []string{fmt.Sprintf("set weight %s/%s %d", be, s.Name, w)}
		if w > 0 && s.AdminState&(adminForcedMaint|adminForcedDrain) != 0 {
			cmds = append(cmds, fmt.Sprintf("set server %s/%s state ready", be, s.Name))
		}
		return cmds
	}
	var cmds []string
	if green > g.Weight {
		cmds = append(set(g, green), set(b, blue)...)
	} else {
		cmds = append(set(b, blue), set(g, green)...)
	}
	if err := r.c.command(ctx, cmds...); err != nil {
		r.restore(ctx, b, g)
		return fmt.Errorf("setting weights on %s: %w", r.Describe(), err)
	}
	if err := r.SaveState(ctx); err != nil {
		r.restore(ctx, b, g)
		return err
	}
	return nil
}

// restore puts back the weights read before a failed change (best effort: the error
// that caused it is what the caller reports).
func (r *Router) restore(ctx context.Context, b, g ServerState) {
	ctx = context.WithoutCancel(ctx)
	_ = r.c.command(ctx,
		fmt.Sprintf("set weight %s/%s %d", r.cfg.Backend, b.Name, b.Weight),
		fmt.Sprintf("set weight %s/%s %d", r.cfg.Backend, g.Name, g.Weight))
}

// SetState sets a server's administrative state: ready, drain or maint.
func (r *Router) SetState(ctx context.Context, server, st string) error {
	switch st {
	case "ready", "drain", "maint":
	default:
		return fmt.Errorf("server state %q: use ready, drain or maint", st)
	}
	if err := ValidateName("server", server); err != nil {
		return err
	}
	if _, _, err := r.pair(ctx); err != nil {
		return err
	}
	if err := r.c.command(ctx, fmt.Sprintf("set server %s/%s state %s", r.cfg.Backend, server, st)); err != nil {
		return err
	}
	return r.SaveState(ctx)
}

// SaveState writes `show servers state` (all backends, as HAProxy expects for a global
// server-state-file) to the configured state file, atomically. Without a state file
// it does nothing.
func (r *Router) SaveState(ctx context.Context) error {
	if r.cfg.StateFile == "" {
		return nil
	}
	out, err := r.c.do(ctx, "show servers state")
	if err != nil {
		return err
	}
	if _, err := parseServersState(out); err != nil {
		return err
	}
	if err := state.WriteFileAtomic(r.cfg.StateFile, []byte(strings.TrimRight(out, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("saving haproxy server state for reloads (--haproxy-state-file): %w", err)
	}
	return nil
}

// Stats returns the `show stat` rows of the backend (its servers and BACKEND).
func (r *Router) Stats(ctx context.Context) ([]Stat, error) {
	out, err := r.c.do(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	rows, err := parseStat(out)
	if err != nil {
		return nil, err
	}
	var mine []Stat
	for _, s := range rows {
		if s["pxname"] == r.cfg.Backend {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("haproxy has no backend %q in `show stat` (check --haproxy-backend)", r.cfg.Backend)
	}
	return mine, nil
}

// GreenServer is the name of green's server.
func (r *Router) GreenServer() string { return r.cfg.GreenServer }

var _ cutover.Drainer = (*Router)(nil)

// BlueInFlight implements cutover.Drainer: blue's server's current sessions (`scur` in
// `show stat`), the requests it has not answered yet.
func (r *Router) BlueInFlight(ctx context.Context) (int, error) {
	rows, err := r.Stats(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range rows {
		if s["svname"] == r.cfg.BlueServer {
			return int(s.Int("scur")), nil
		}
	}
	return 0, fmt.Errorf("backend %s: `show stat` lacks server %s", r.cfg.Backend, r.cfg.BlueServer)
}
