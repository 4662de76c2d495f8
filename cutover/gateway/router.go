package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

// Router drives one HTTPRoute.
type Router struct {
	cfg    cutover.GatewayConfig
	client gwclient.Interface
}

var _ cutover.Router = (*Router)(nil)

// New returns a router for the route named in cfg on the cluster rc points at.
func New(cfg cutover.GatewayConfig, rc *rest.Config) (*Router, error) {
	c, err := gwclient.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("building Gateway API client: %w", err)
	}
	return NewForClient(cfg, c), nil
}

// NewForClient returns a router using client.
func NewForClient(cfg cutover.GatewayConfig, client gwclient.Interface) *Router {
	return &Router{cfg: cfg, client: client}
}

// Describe implements cutover.Router.
func (r *Router) Describe() string {
	return fmt.Sprintf("gateway HTTPRoute %s/%s on %s (blue %s, green %s)", r.cfg.Namespace, r.cfg.Route, r.cfg.Cluster, r.cfg.BlueBackend, r.cfg.GreenBackend)
}

// RollbackBound implements cutover.Router; see the package documentation.
func (r *Router) RollbackBound() time.Duration { return 0 }

func (r *Router) get(ctx context.Context) (*gwapiv1.HTTPRoute, error) {
	rt, err := r.client.GatewayV1().HTTPRoutes(r.cfg.Namespace).Get(ctx, r.cfg.Route, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("HTTPRoute %s/%s not found on cluster %s: check --gateway-route, and that the Gateway API CRDs are installed there: %w", r.cfg.Namespace, r.cfg.Route, r.cfg.Cluster, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading HTTPRoute %s/%s: %w", r.cfg.Namespace, r.cfg.Route, err)
	}
	return rt, nil
}

// refs finds, in each rule referencing both backends, the indexes of blue's and green's
// backendRefs.
type refPair struct{ rule, blue, green int }

func (r *Router) pairs(rt *gwapiv1.HTTPRoute) ([]refPair, error) {
	var out []refPair
	var seen []string
	for i, rule := range rt.Spec.Rules {
		p := refPair{rule: i, blue: -1, green: -1}
		for j, ref := range rule.BackendRefs {
			if ref.Kind != nil && *ref.Kind != "Service" {
				continue
			}
			seen = append(seen, string(ref.Name))
			switch string(ref.Name) {
			case r.cfg.BlueBackend:
				p.blue = j
			case r.cfg.GreenBackend:
				p.green = j
			}
		}
		if p.blue >= 0 && p.green >= 0 {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("HTTPRoute %s/%s has no rule with both backendRefs %s and %s (it references: %s): add green's Service with weight 0 next to blue's, or fix --gateway-blue-backend/--gateway-green-backend",
			r.cfg.Namespace, r.cfg.Route, r.cfg.BlueBackend, r.cfg.GreenBackend, strings.Join(seen, ", "))
	}
	return out, nil
}

// weightOf is a backendRef's weight; the API's default is 1.
func weightOf(w *int32) int {
	if w == nil {
		return 1
	}
	return int(*w)
}

// Weights implements cutover.Router: the weights of the first rule that references both.
func (r *Router) Weights(ctx context.Context) (cutover.Weights, error) {
	rt, err := r.get(ctx)
	if err != nil {
		return cutover.Weights{}, err
	}
	ps, err := r.pairs(rt)
	if err != nil {
		return cutover.Weights{}, err
	}
	refs := rt.Spec.Rules[ps[0].rule].BackendRefs
	return cutover.Percent(weightOf(refs[ps[0].blue].Weight), weightOf(refs[ps[0].green].Weight))
}

// SetWeights implements cutover.Router: one update of the route, retried on conflict.
func (r *Router) SetWeights(ctx context.Context, blue, green int) error {
	if err := (cutover.Weights{Blue: blue, Green: green}).Validate(); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rt, err := r.get(ctx)
		if err != nil {
			return err
		}
		ps, err := r.pairs(rt)
		if err != nil {
			return err
		}
		b, g := int32(blue), int32(green)
		for _, p := range ps {
			refs := rt.Spec.Rules[p.rule].BackendRefs
			refs[p.blue].Weight, refs[p.green].Weight = &b, &g
		}
		_, err = r.client.GatewayV1().HTTPRoutes(r.cfg.Namespace).Update(ctx, rt, metav1.UpdateOptions{FieldManager: "phoenix"})
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("updating HTTPRoute %s/%s: %w", r.cfg.Namespace, r.cfg.Route, err)
		}
		return err
	})
}
