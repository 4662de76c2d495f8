// Package cutover shifts traffic from blue to green in gated steps and points it back.
//
// It holds the Router interface (set the blue/green weights, read them back) that the
// routers in the subpackages implement (haproxy, dns, gateway), the step plan, the gates
// that decide whether a step may stay (HTTP probe success rate, and whatever a router
// adds, such as HAProxy's 5xx rate), the analysis that judges their measurements in the
// manner of Argo Rollouts (failure limit, inconclusive measurements pause the cutover),
// rollback, the swap of CronJobs and Jobs from blue to green, and the journal in the
// workspace (cutover/state.json) that lets an interrupted cutover be resumed or rolled
// back from another shell. With a final delta (FinalDeltaHook, run before the last step)
// it scales blue's Deployments and StatefulSets to zero while package volumes moves the
// volume data once more, and gives them their replicas back on failure or rollback: the
// one write to blue's workloads, made only as this explicit cutover step.
//
// It does not prove parity (package verify does, and writes verify/latest.json, which
// cutover reads through VerifyRecord) and it does not move objects (package migrate).
package cutover
