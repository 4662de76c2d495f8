// Command payments is the sample application phoenix's end-to-end scenarios migrate: one
// binary behind the payments/api, payments/worker and payments/settle images.
//
// By default it serves HTTP on $PORT (8080): GET / answers "payments-api NODE POD" with an
// X-Served-By header naming the node (NODE_NAME and POD_NAME come from the downward API),
// and GET /healthz answers "ok". On SIGTERM it fails /healthz with 503 for $DRAIN_SECONDS
// (5) while still serving, then shuts down gracefully and exits 0.
//
// With -worker (or MODE=worker) it logs a line every 10 seconds until SIGTERM; with -worker
// -once it logs one line and exits 0. With -webhook it is an admission webhook backend that
// allows every request (POST /validate, TLS on $PORT, default 8443, with the certificate in
// $TLS_CERT_FILE/$TLS_KEY_FILE, default /tls/tls.crt and /tls/tls.key), listening only after
// $START_DELAY_SECONDS: a backend that starts slowly.
package main
