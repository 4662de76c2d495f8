// Package app holds phoenix's cobra commands. Each command turns flags into options and
// makes one library call; rendering (-o table|json|yaml) happens here, never in the
// libraries. Run returns errors; only Main exits the process.
package app
