package images

// The images phoenix ships. Payments, PaymentsWorker and Settle are one binary with three
// entrypoints, so they share a layer.
var (
	// Pause is the pod sandbox; the local nodes' containerd is configured with it as
	// sandbox_image.
	Pause = Spec{
		Ref:        "registry.k8s.io/pause:3.10",
		Package:    ModulePath + "/images/pause",
		Binary:     "/pause",
		Entrypoint: []string{"/pause"},
	}
	// Payments is the sample application's HTTP API.
	Payments = Spec{
		Ref:          "registry.example.com/payments/api:4.2.1",
		Package:      ModulePath + "/images/payments",
		Binary:       "/payments",
		Entrypoint:   []string{"/payments"},
		ExposedPorts: []string{"8080/tcp"},
	}
	// PaymentsWorker is the sample application's background worker.
	PaymentsWorker = Spec{
		Ref:        "registry.example.com/payments/worker:4.2.1",
		Package:    ModulePath + "/images/payments",
		Binary:     "/payments",
		Entrypoint: []string{"/payments", "-worker"},
	}
	// Settle is the sample application's run-once job.
	Settle = Spec{
		Ref:        "registry.example.com/payments/settle:4.2.1",
		Package:    ModulePath + "/images/payments",
		Binary:     "/payments",
		Entrypoint: []string{"/payments", "-worker", "-once"},
	}
)

// All is every image phoenix ships, in the order a node needs them.
var All = []Spec{Pause, Payments, PaymentsWorker, Settle}
