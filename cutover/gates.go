package cutover

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Outcome of one measurement, as in Argo Rollouts' analysis.
type Outcome string

// Measurement outcomes.
const (
	Passed       Outcome = "Passed"
	Failed       Outcome = "Failed"
	Inconclusive Outcome = "Inconclusive"
	// Errored: the measurement could not be taken (the gate's source is unreachable).
	Errored Outcome = "Error"
)

// Measurement is what one look at a gate found.
type Measurement struct {
	Outcome Outcome `json:"outcome"`
	// Value is the measured rate (success rate, 5xx rate), when there is one.
	Value   float64 `json:"value"`
	Message string  `json:"message"`
}

// Gate is a health signal taken before each step and repeatedly during its interval.
type Gate interface {
	Name() string
	// Measure takes one measurement. Gates that compare counters (rates between two
	// looks) return Inconclusive on their first call, when they only take a baseline.
	Measure(ctx context.Context) Measurement
}

// HTTPProbe is a gate that sends Requests GETs to URL and passes when at least
// SuccessRate of them answer 2xx or 3xx within Timeout. Connection errors count as
// failed requests: green unreachable is a failure, not an inconclusive measurement.
type HTTPProbe struct {
	URL         string
	Requests    int
	SuccessRate float64
	Timeout     time.Duration
	Client      *http.Client
}

var _ Gate = (*HTTPProbe)(nil)

// Name names the gate after its URL.
func (p *HTTPProbe) Name() string { return "probe " + p.URL }

// Measure sends the requests one after another.
func (p *HTTPProbe) Measure(ctx context.Context) Measurement {
	n := p.Requests
	if n <= 0 {
		n = 10
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: p.Timeout}
		if p.Timeout <= 0 {
			client.Timeout = 5 * time.Second
		}
	}
	ok := 0
	lastErr := ""
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return Measurement{Outcome: Inconclusive, Message: "interrupted"}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
		if err != nil {
			return Measurement{Outcome: Errored, Message: fmt.Sprintf("bad probe URL: %v", err)}
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err.Error()
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 400 {
			ok++
		} else {
			lastErr = resp.Status
		}
	}
	rate := float64(ok) / float64(n)
	m := Measurement{Value: rate, Message: fmt.Sprintf("%d/%d requests succeeded", ok, n)}
	if lastErr != "" {
		m.Message += " (last failure: " + lastErr + ")"
	}
	if rate >= p.SuccessRate {
		m.Outcome = Passed
	} else {
		m.Outcome = Failed
		m.Message = fmt.Sprintf("success rate %.1f%% below %.1f%%: %s", rate*100, p.SuccessRate*100, m.Message)
	}
	return m
}

// analysis counts the measurements of one step against the limits.
type analysis struct {
	cfg          GatesConfig
	failed       int
	inconclusive int
	errorsInRow  map[string]int
}

// verdict of an analysis after a measurement.
type verdict int

const (
	keepGoing verdict = iota
	rollBack
	pause
)

func newAnalysis(cfg GatesConfig) *analysis {
	return &analysis{cfg: cfg, errorsInRow: map[string]int{}}
}

// add counts one measurement of gate and says what the cutover must do.
func (a *analysis) add(gate string, m Measurement) (verdict, string) {
	if m.Outcome != Errored {
		a.errorsInRow[gate] = 0
	}
	switch m.Outcome {
	case Failed:
		a.failed++
		if a.failed > a.cfg.FailureLimit {
			return rollBack, fmt.Sprintf("gate %s failed %d time(s) (failure limit %d): %s", gate, a.failed, a.cfg.FailureLimit, m.Message)
		}
	case Inconclusive:
		a.inconclusive++
		if a.inconclusive > a.cfg.InconclusiveLimit {
			return pause, fmt.Sprintf("gate %s inconclusive %d time(s) (limit %d): %s", gate, a.inconclusive, a.cfg.InconclusiveLimit, m.Message)
		}
	case Errored:
		a.errorsInRow[gate]++
		if a.errorsInRow[gate] > a.cfg.ConsecutiveErrorLimit {
			return rollBack, fmt.Sprintf("gate %s could not be measured %d times in a row (limit %d): %s", gate, a.errorsInRow[gate], a.cfg.ConsecutiveErrorLimit, m.Message)
		}
	}
	return keepGoing, ""
}
