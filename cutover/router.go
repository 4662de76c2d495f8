package cutover

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Router moves traffic between blue and green. Weights are percentages: blue+green = 100.
//
// Implementations leave the weights where they were when they return an error.
type Router interface {
	// SetWeights sends blue percent of new requests to blue and green percent to green.
	SetWeights(ctx context.Context, blue, green int) error
	// Weights reads back the weights the router applies now (which may be coarser than
	// the ones asked for, see the dns router).
	Weights(ctx context.Context) (Weights, error)
	// Describe names the router and what it drives, for logs and status.
	Describe() string
	// RollbackBound is how long clients may still reach green after a rollback returned
	// (a DNS TTL); zero when the router applies weights to the next request.
	RollbackBound() time.Duration
}

// Weights is a traffic split in percent.
type Weights struct {
	Blue  int `json:"blue"`
	Green int `json:"green"`
}

// AllBlue is where a rollback points traffic.
var AllBlue = Weights{Blue: 100, Green: 0}

// ErrOutOfRange is wrapped by errors about weights outside 0-100 or not adding up to 100.
var ErrOutOfRange = errors.New("weight out of range")

// Validate checks that both weights are in 0-100 and add up to 100.
func (w Weights) Validate() error {
	if w.Blue < 0 || w.Blue > 100 || w.Green < 0 || w.Green > 100 {
		return fmt.Errorf("weights blue %d / green %d: %w: each must be 0-100 percent", w.Blue, w.Green, ErrOutOfRange)
	}
	if w.Blue+w.Green != 100 {
		return fmt.Errorf("weights blue %d / green %d: %w: they must add up to 100 percent", w.Blue, w.Green, ErrOutOfRange)
	}
	return nil
}

func (w Weights) String() string { return fmt.Sprintf("blue %d%% / green %d%%", w.Blue, w.Green) }

// Percent turns two raw weights (as a load balancer keeps them) into percentages that
// add up to 100, rounding green to the nearest percent. Both zero is an error: nothing
// would receive traffic.
func Percent(blue, green int) (Weights, error) {
	if blue < 0 || green < 0 {
		return Weights{}, fmt.Errorf("negative weight blue %d / green %d", blue, green)
	}
	if blue+green == 0 {
		return Weights{}, errors.New("both blue and green have weight 0: no traffic is served; set weights with `phoenix rollback` or `phoenix cutover`")
	}
	g := (green*100 + (blue+green)/2) / (blue + green)
	return Weights{Blue: 100 - g, Green: g}, nil
}
