package convert

import "fmt"

// ingressClassAnnotation is the annotation that named an Ingress's class before
// spec.ingressClassName (1.18); networking.k8s.io/v1 rejects an Ingress that sets both.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

// networkingConverters: extensions/v1beta1 NetworkPolicy -> networking.k8s.io/v1 (1.16),
// extensions/v1beta1 Ingress -> networking.k8s.io/v1beta1 -> networking.k8s.io/v1 (1.22),
// IngressClass v1beta1 -> v1 (1.22), and the off-by-default betas IPAddress and ServiceCIDR.
// Read from kubernetes pkg/apis/{extensions,networking}/v1beta1/conversion.go.
func networkingConverters(c Choices) []Converter {
	return []Converter{
		// NetworkPolicy has the same fields and defaults (policyTypes, protocol TCP).
		rename("extensions/v1beta1", "networking.k8s.io/v1", "NetworkPolicy"),
		// extensions/v1beta1 and networking.k8s.io/v1beta1 Ingress are the same type.
		rename("extensions/v1beta1", "networking.k8s.io/v1beta1", "Ingress"),
		rewrite("networking.k8s.io/v1beta1", "networking.k8s.io/v1", func(o *object) error { return ingressToV1(o, c.IngressClass) }, "Ingress"),
		rename("networking.k8s.io/v1beta1", "networking.k8s.io/v1", "IngressClass", "IPAddress", "ServiceCIDR"),
	}
}

func ingressToV1(o *object, class IngressClassChoice) error {
	spec, _ := getMap(o.Object, "spec")
	if spec == nil {
		return nil
	}
	if b, ok := getMap(spec, "backend"); ok {
		nb, err := ingressBackendToV1(b)
		if err != nil {
			return fmt.Errorf("spec.backend: %w", err)
		}
		delete(spec, "backend")
		spec["defaultBackend"] = nb
		o.info("spec.defaultBackend", "spec.backend was renamed spec.defaultBackend")
	} else {
		delete(spec, "backend")
	}
	defaultedPaths := 0
	err := forEachMap(spec, "rules", func(i int, rule map[string]any) error {
		return forEachMap(rule, "http.paths", func(j int, p map[string]any) error {
			if b, ok := getMap(p, "backend"); ok {
				nb, err := ingressBackendToV1(b)
				if err != nil {
					return fmt.Errorf("spec.rules[%d].http.paths[%d].backend: %w", i, j, err)
				}
				p["backend"] = nb
			}
			if getString(p, "pathType") == "" {
				p["pathType"] = "ImplementationSpecific"
				defaultedPaths++
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if defaultedPaths > 0 {
		o.defaulted("spec.rules[*].http.paths[*].pathType", "unset on %d path(s): networking.k8s.io/v1 requires it; wrote ImplementationSpecific, the v1beta1 default (the controller decides how the path matches; Prefix or Exact make it portable)", defaultedPaths)
	}
	ann := o.GetAnnotations()
	if name, ok := ann[ingressClassAnnotation]; ok {
		switch {
		case getString(spec, "ingressClassName") == "" && class != IngressClassField:
			// The apiserver's conversion keeps the annotation; v1 accepts it alone.
			o.info("metadata.annotations."+ingressClassAnnotation, "kept (%q), as the apiserver's conversion does; the choice --ingress-class=field moves it into spec.ingressClassName", name)
			return nil
		case getString(spec, "ingressClassName") == "" && name != "":
			class := name
			spec["ingressClassName"] = class
			o.defaulted("spec.ingressClassName", "set from the deprecated %s annotation (%q), which was removed: an IngressClass named %q must exist on the target, with the controller that served this class", ingressClassAnnotation, class, class)
		default:
			o.dropped("metadata.annotations."+ingressClassAnnotation, "removed: spec.ingressClassName is set and networking.k8s.io/v1 rejects an Ingress that sets both")
		}
		delete(ann, ingressClassAnnotation)
		setAnnotations(o, ann)
	}
	return nil
}

// ingressBackendToV1 turns serviceName/servicePort into service.name and port.number or
// port.name; a resource backend is kept as it is.
func ingressBackendToV1(b map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if r, ok := b["resource"]; ok && r != nil {
		out["resource"] = r
	}
	name, _ := b["serviceName"].(string)
	portV, hasPort := b["servicePort"]
	if name == "" && !hasPort {
		return out, nil
	}
	port := map[string]any{}
	switch p := portV.(type) {
	case string:
		port["name"] = p
	case nil:
	default:
		n, ok := int64Of(p)
		if !ok {
			return nil, fmt.Errorf("servicePort %v is neither a port number nor a port name", portV)
		}
		port["number"] = n
	}
	svc := map[string]any{"name": name}
	if len(port) > 0 {
		svc["port"] = port
	}
	out["service"] = svc
	return out, nil
}
