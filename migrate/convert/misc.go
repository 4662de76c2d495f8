package convert

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

// flowcontrol v1beta3's annotation that says a nominalConcurrencyShares of 0 means 0
// (k8s.io/api/flowcontrol/v1beta3 PriorityLevelPreserveZeroConcurrencySharesKey).
const preserveZeroSharesAnnotation = "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares"

// Well-known signers (k8s.io/api/certificates/v1beta1).
const (
	signerKubeletClient  = "kubernetes.io/kube-apiserver-client-kubelet"
	signerKubeletServing = "kubernetes.io/kubelet-serving"
	signerLegacyUnknown  = "kubernetes.io/legacy-unknown"
)

// miscConverters: node.k8s.io v1alpha1 RuntimeClass -> v1beta1, flowcontrol
// PriorityLevelConfiguration v1beta2 -> v1beta3 -> v1, discovery.k8s.io/v1beta1
// EndpointSlice -> v1, certificates.k8s.io/v1beta1 CSR -> v1. Read from kubernetes
// pkg/apis/{node/v1alpha1,flowcontrol/v1beta2,flowcontrol/v1beta3,discovery/v1beta1,
// certificates/v1beta1}/{conversion,defaults}.go.
func miscConverters() []Converter {
	return []Converter{
		rewrite("node.k8s.io/v1alpha1", "node.k8s.io/v1beta1", runtimeClassFromV1alpha1, "RuntimeClass"),
		rewrite("flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1beta3", plcV1beta2ToV1beta3, "PriorityLevelConfiguration"),
		rewrite("flowcontrol.apiserver.k8s.io/v1beta3", "flowcontrol.apiserver.k8s.io/v1", plcV1beta3ToV1, "PriorityLevelConfiguration"),
		rewrite("discovery.k8s.io/v1beta1", "discovery.k8s.io/v1", endpointSliceToV1, "EndpointSlice"),
		rewrite("certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", csrToV1, "CertificateSigningRequest"),
	}
}

// runtimeClassFromV1alpha1 flattens spec: spec.runtimeHandler becomes handler.
func runtimeClassFromV1alpha1(o *object) error {
	spec, _ := getMap(o.Object, "spec")
	delete(o.Object, "spec")
	h, _ := spec["runtimeHandler"].(string)
	if h == "" {
		return fmt.Errorf("spec.runtimeHandler is empty: set the name of the CRI handler")
	}
	o.Object["handler"] = h
	for _, f := range []string{"overhead", "scheduling"} {
		if v, ok := spec[f]; ok && v != nil {
			o.Object[f] = v
		}
	}
	o.info("handler", "spec.runtimeHandler moved to handler, and spec.overhead/spec.scheduling to the top level (v1beta1 has no spec)")
	return nil
}

func plcV1beta2ToV1beta3(o *object) error {
	if move(o.Object, "spec.limited.assuredConcurrencyShares", "spec.limited.nominalConcurrencyShares") {
		o.info("spec.limited.nominalConcurrencyShares", "renamed from assuredConcurrencyShares")
	}
	return nil
}

// plcV1beta3ToV1: in v1beta3 a nominalConcurrencyShares of 0 means the default 30 unless
// the preserve-zero annotation is set; in v1 an explicit 0 means zero seats.
func plcV1beta3ToV1(o *object) error {
	ann := o.GetAnnotations()
	_, keepZero := ann[preserveZeroSharesAnnotation]
	if keepZero {
		delete(ann, preserveZeroSharesAnnotation)
		setAnnotations(o, ann)
		o.info("metadata.annotations."+preserveZeroSharesAnnotation, "removed: v1 keeps an explicit nominalConcurrencyShares of 0 without it")
	}
	v, ok := get(o.Object, "spec.limited.nominalConcurrencyShares")
	if !ok {
		return nil
	}
	if n, isNum := int64Of(v); isNum && n == 0 && !keepZero {
		set(o.Object, "spec.limited.nominalConcurrencyShares", int64(30))
		o.defaulted("spec.limited.nominalConcurrencyShares", "was 0, which v1beta3 read as the default 30, while v1 reads 0 as no seats of its own; wrote 30")
	}
	return nil
}

// endpointSliceToV1 splits endpoints[*].topology into zone, nodeName and deprecatedTopology.
func endpointSliceToV1(o *object) error {
	moved, kept := 0, 0
	err := forEachMap(o.Object, "endpoints", func(_ int, ep map[string]any) error {
		topo, ok := ep["topology"].(map[string]any)
		delete(ep, "topology")
		if !ok {
			return nil
		}
		moved++
		rest := map[string]any{}
		for k, v := range topo {
			rest[k] = v
		}
		if z, ok := rest["topology.kubernetes.io/zone"]; ok {
			ep["zone"] = z
			delete(rest, "topology.kubernetes.io/zone")
		}
		if h, ok := rest["kubernetes.io/hostname"]; ok {
			if nn, _ := ep["nodeName"].(string); nn != "" && nn == h {
				delete(rest, "kubernetes.io/hostname")
			}
		}
		if len(rest) > 0 {
			ep["deprecatedTopology"] = rest
			kept++
		}
		return nil
	})
	if moved > 0 {
		o.info("endpoints[*].topology", "split into zone (topology.kubernetes.io/zone), nodeName and deprecatedTopology on %d endpoint(s)", moved)
	}
	if kept > 0 {
		o.lossy("endpoints[*].deprecatedTopology", "kept on %d endpoint(s) as kubernetes converts it, but a discovery.k8s.io/v1 apiserver drops deprecatedTopology when the object is written; only zone and nodeName survive", kept)
	}
	return err
}

// csrToV1: v1 requires signerName (and rejects legacy-unknown) and usages.
func csrToV1(o *object) error {
	spec, ok := getMap(o.Object, "spec")
	if !ok {
		return fmt.Errorf("spec is missing")
	}
	if _, ok := spec["usages"]; !ok {
		spec["usages"] = anyStrings("digital signature", "key encipherment")
		o.defaulted("spec.usages", "was unset: v1beta1 defaults to [digital signature, key encipherment], v1 requires it; wrote those")
	}
	signer, _ := spec["signerName"].(string)
	if signer == "" {
		signer = defaultSigner(spec)
		if signer != signerLegacyUnknown {
			spec["signerName"] = signer
			o.defaulted("spec.signerName", "was unset: v1beta1 derived it from the request, v1 requires it; wrote %s", signer)
		}
	}
	if signer == signerLegacyUnknown {
		return fmt.Errorf("spec.signerName is (or defaults to) %s, which certificates.k8s.io/v1 does not accept: set the signer that should sign it, or let the requester create a new CSR on the target", signerLegacyUnknown)
	}
	return nil
}

// defaultSigner reproduces v1beta1's signerName defaulting: kubelet client and serving
// certificates are recognized from the request, anything else is legacy-unknown.
func defaultSigner(spec map[string]any) string {
	req, _ := spec["request"].(string)
	der, err := base64.StdEncoding.DecodeString(req)
	if err != nil {
		return signerLegacyUnknown
	}
	block, _ := pem.Decode(der)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return signerLegacyUnknown
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return signerLegacyUnknown
	}
	usages := stringsOf(spec["usages"])
	slices.Sort(usages)
	is := func(want ...string) bool { slices.Sort(want); return slices.Equal(usages, want) }
	node := slices.Equal(csr.Subject.Organization, []string{"system:nodes"}) && strings.HasPrefix(csr.Subject.CommonName, "system:node:")
	if !node || len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return signerLegacyUnknown
	}
	switch {
	case len(csr.DNSNames) == 0 && len(csr.IPAddresses) == 0 &&
		(is("digital signature", "key encipherment", "client auth") || is("digital signature", "client auth")):
		return signerKubeletClient
	case (len(csr.DNSNames) > 0 || len(csr.IPAddresses) > 0) &&
		(is("digital signature", "key encipherment", "server auth") || is("digital signature", "server auth")):
		return signerKubeletServing
	}
	return signerLegacyUnknown
}
