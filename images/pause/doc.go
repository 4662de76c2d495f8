// Command pause is the pod sandbox of phoenix's local nodes (image registry.k8s.io/pause:3.10):
// PID 1 of every pod, it holds the pod's namespaces open, reaps orphaned children, and exits
// 0 on SIGINT or SIGTERM. It does nothing else.
package main
