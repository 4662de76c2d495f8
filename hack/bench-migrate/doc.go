// Package benchmigrate measures moving N mixed objects from a local v1.24.17 blue to a
// local v1.37.2 green, in one run and against the same green: phoenix migrate with no
// flags, a raw ceiling of concurrent server-side applies without client throttling (in
// rounds that alternate their order), optionally an older phoenix build, and kubectl
// apply --server-side of the same exported directory. Run it with hack/bench-migrate.sh.
package benchmigrate
