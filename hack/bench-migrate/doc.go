// Package benchmigrate measures moving N mixed objects from a local v1.24.17 blue to a
// local v1.37.2 green: phoenix migrate (defaults, and tuned), kubectl apply
// --server-side of the same exported directory, and a raw ceiling of many concurrent
// server-side applies without client throttling. Run it with hack/bench-migrate.sh.
package benchmigrate
