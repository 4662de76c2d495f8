// Package timeline records how a cutover went — the router's blue/green weights, the
// request rate and the error rate over time, and marks for steps and rollbacks — and
// draws it as an SVG picture, written next to the cutover report, that operators read to
// trust the shift: the observed split should follow the weights and the error rate
// should stay flat.
//
// It is pure Go with no dependencies outside the standard library. It does not measure
// anything itself: a Sampler polls the functions it is given (the router's Weights and a
// load generator's or load balancer's cumulative counters), and Recorder.Mark notes
// events. It is not a metrics system: samples live in memory for one cutover.
package timeline
