// Package dns is the cutover router for DNS: it rewrites the A/AAAA records of one entry
// name with RFC 2136 dynamic updates signed with TSIG (github.com/miekg/dns), as BIND and
// most primaries accept them.
//
// Semantics. DNS has no weights; phoenix expresses a split as the mix of addresses in
// the entry name's RRset. Blue has a pool of addresses (its ingress load balancers), green
// another. Green 0% publishes blue's pool only, green 100% green's pool only; in between
// phoenix picks b blue and g green addresses (1 <= b <= blue's pool, 1 <= g <= green's
// pool) whose share g/(b+g) is closest to the weight. Resolvers rotate the answers, so
// clients spread over the addresses roughly evenly. With one address per side every
// intermediate step is 50/50; more addresses give finer steps. Weights reads the RRset
// back from the primary and reports the share it really publishes.
//
// Rollback bound: caches may keep the previous answer for up to the TTL phoenix writes
// (--dns-ttl); RollbackBound reports it. Keep it short (30s) before a cutover.
//
// It does not manage zones, keys or the primary; the TSIG secret is read from a BIND key
// file and never logged.
package dns
