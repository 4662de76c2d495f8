// Package haproxy is the cutover router for HAProxy: it sets the weights of a blue and a
// green server in one backend through HAProxy's runtime API (a unix socket or TCP,
// `set weight`, `set server ... state`), reads them back with `show servers state`,
// persists them into the `server-state-file` so that a reload (with
// `load-server-state-from-file`) does not undo a cutover, and offers a gate on green's
// 5xx rate from `show stat`.
//
// It does not write haproxy.cfg or reload HAProxy; the operator owns both.
package haproxy
