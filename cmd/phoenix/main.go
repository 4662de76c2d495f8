// Command phoenix upgrades Kubernetes clusters the blue-green way.
package main

import "github.com/phoenix-upgrade/phoenix/cmd/phoenix/app"

func main() { app.Main() }
