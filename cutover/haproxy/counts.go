package haproxy

import (
	"context"
	"fmt"

	"github.com/phoenix-upgrade/phoenix/cutover/timeline"
)

// answers sums a server's answers from its `show stat` row: every HTTP answer class plus
// connection and response errors; failed counts the 5xx answers and the errors.
func (s Stat) answers() (failed, total int64) {
	failed = s.Int("hrsp_5xx") + s.Int("econ") + s.Int("eresp")
	total = s.Int("econ") + s.Int("eresp")
	for _, c := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
		total += s.Int(c)
	}
	return failed, total
}

// TrafficCounts returns the backend's cumulative answers (blue plus green), the failed
// ones, and those green served, for the cutover timeline.
func (r *Router) TrafficCounts(ctx context.Context) (timeline.Counts, error) {
	rows, err := r.Stats(ctx)
	if err != nil {
		return timeline.Counts{}, err
	}
	var c timeline.Counts
	found := 0
	for _, s := range rows {
		switch s["svname"] {
		case r.cfg.BlueServer, r.cfg.GreenServer:
			failed, total := s.answers()
			c.Requests += uint64(total)
			c.Failed += uint64(failed)
			if s["svname"] == r.cfg.GreenServer {
				c.Green += uint64(total)
			}
			found++
		}
	}
	if found != 2 {
		return c, fmt.Errorf("backend %s: `show stat` lacks server %s or %s", r.cfg.Backend, r.cfg.BlueServer, r.cfg.GreenServer)
	}
	c.GreenKnown = true
	return c, nil
}
