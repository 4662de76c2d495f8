// Package gateway is the cutover router for the Gateway API: it sets the weights of two
// backendRefs (blue's and green's Services) in every rule of one HTTPRoute that
// references both, with optimistic concurrency (an update based on the resourceVersion
// read, retried on conflict), and reads them back. It uses the typed clients of
// sigs.k8s.io/gateway-api.
//
// Traffic follows once the Gateway's controller has programmed the change; phoenix cannot
// see that, so RollbackBound is zero and the route's status is the operator's to watch.
// It does not create routes or Gateways.
package gateway
