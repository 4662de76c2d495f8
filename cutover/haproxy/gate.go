package haproxy

import (
	"context"
	"fmt"
	"sync"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

// ErrorRateGate measures the share of failed answers from one server (green) between
// two measurements, from `show stat`: failures are hrsp_5xx plus econ (connection
// errors) plus eresp (response errors); the total is every hrsp_* plus econ and eresp.
// Fewer than MinRequests in the window make the measurement inconclusive; the first
// measurement only takes the baseline and is inconclusive too.
type ErrorRateGate struct {
	Router      *Router
	Server      string
	MaxRate     float64
	MinRequests int

	mu       sync.Mutex
	baseline *counters
}

var _ cutover.Gate = (*ErrorRateGate)(nil)

type counters struct{ failed, total int64 }

// Name implements cutover.Gate.
func (g *ErrorRateGate) Name() string { return "haproxy 5xx rate of " + g.Server }

// Measure implements cutover.Gate.
func (g *ErrorRateGate) Measure(ctx context.Context) cutover.Measurement {
	rows, err := g.Router.Stats(ctx)
	if err != nil {
		return cutover.Measurement{Outcome: cutover.Errored, Message: err.Error()}
	}
	var cur *counters
	for _, s := range rows {
		if s["svname"] == g.Server {
			failed, total := s.answers()
			cur = &counters{failed: failed, total: total}
		}
	}
	if cur == nil {
		return cutover.Measurement{Outcome: cutover.Errored, Message: fmt.Sprintf("no server %s in `show stat`", g.Server)}
	}
	g.mu.Lock()
	prev := g.baseline
	g.baseline = cur
	g.mu.Unlock()
	if prev == nil || cur.total < prev.total {
		return cutover.Measurement{Outcome: cutover.Inconclusive, Message: "baseline taken"}
	}
	failed, total := cur.failed-prev.failed, cur.total-prev.total
	if total < int64(g.MinRequests) || total == 0 {
		return cutover.Measurement{Outcome: cutover.Inconclusive, Message: fmt.Sprintf("%d request(s) on %s since the last measurement, fewer than %d", total, g.Server, g.MinRequests)}
	}
	rate := float64(failed) / float64(total)
	m := cutover.Measurement{Value: rate, Message: fmt.Sprintf("%d of %d answers from %s failed (%.2f%%, limit %.2f%%)", failed, total, g.Server, rate*100, g.MaxRate*100)}
	if rate > g.MaxRate {
		m.Outcome = cutover.Failed
	} else {
		m.Outcome = cutover.Passed
	}
	return m
}
