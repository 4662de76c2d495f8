package convert

import (
	"fmt"
	"strings"
)

// crdConverters: apiextensions.k8s.io/v1beta1 CustomResourceDefinition -> v1 (removed in
// 1.22). Read from apiextensions-apiserver pkg/apis/apiextensions/v1/conversion.go (the
// top-level fields move into every version), v1beta1/defaults.go, and validation.go (what
// v1 requires on create: a structural schema per version, preserveUnknownFields false).
func crdConverters() []Converter {
	return []Converter{
		rewrite("apiextensions.k8s.io/v1beta1", "apiextensions.k8s.io/v1", crdToV1, "CustomResourceDefinition"),
	}
}

func crdToV1(o *object) error {
	spec, ok := getMap(o.Object, "spec")
	if !ok {
		return fmt.Errorf("spec is missing")
	}
	versions, _ := getSlice(spec, "versions")
	if version, _ := spec["version"].(string); len(versions) == 0 {
		if version == "" {
			return fmt.Errorf("spec.version and spec.versions are both empty: name at least one version")
		}
		versions = []any{map[string]any{"name": version, "served": true, "storage": true}}
		o.info("spec.versions", "built from spec.version %q (served, storage)", version)
	}
	delete(spec, "version")
	spec["versions"] = versions

	for _, f := range []string{"validation", "subresources", "additionalPrinterColumns", "selectableFields"} {
		v, ok := spec[f]
		delete(spec, f)
		if !ok || v == nil {
			continue
		}
		to := map[string]string{"validation": "schema"}[f]
		if to == "" {
			to = f
		}
		for _, vv := range versions {
			if vm, ok := vv.(map[string]any); ok {
				if _, has := vm[to]; !has {
					vm[to] = deepCopyJSON(v)
				}
			}
		}
		o.info("spec."+f, "moved into every entry of spec.versions[*].%s (v1 has no top-level %s)", to, f)
	}

	if _, ok := spec["scope"]; !ok {
		spec["scope"] = "Namespaced"
		o.defaulted("spec.scope", "was unset: v1beta1 defaults to Namespaced, v1 requires it; wrote Namespaced")
	}
	if err := crdConversionToV1(o, spec); err != nil {
		return err
	}

	preserve := true
	if p, ok := spec["preserveUnknownFields"].(bool); ok {
		preserve = p
	}
	delete(spec, "preserveUnknownFields")

	var problems []string
	for i, vv := range versions {
		vm, ok := vv.(map[string]any)
		if !ok {
			continue
		}
		name, _ := vm["name"].(string)
		at := fmt.Sprintf("spec.versions[%d](%s)", i, name)
		renamePrinterColumns(vm)
		schema, ok := getMap(vm, "schema.openAPIV3Schema")
		if !ok {
			set(vm, "schema.openAPIV3Schema", map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true})
			o.defaulted(at+".schema", "had no schema and v1 requires one: wrote {type: object, x-kubernetes-preserve-unknown-fields: true}, which accepts and keeps anything, as before")
			continue
		}
		fixes, bad := structural(schema, at+".schema.openAPIV3Schema", true)
		for _, f := range fixes {
			o.defaulted(at+".schema", "%s", f)
		}
		problems = append(problems, bad...)
		if preserve {
			if n := preserveUnknown(schema); n > 0 {
				o.defaulted(at+".schema", "preserveUnknownFields was true (the v1beta1 default) and must be false in v1, where fields missing from the schema are pruned: set x-kubernetes-preserve-unknown-fields: true on %d object node(s) so stored custom resources keep every field; remove it where pruning is wanted", n)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the schema is not structural, which apiextensions.k8s.io/v1 requires: %s; fix the schema (kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema) and convert again", strings.Join(problems, "; "))
	}
	return nil
}

// crdConversionToV1 moves webhookClientConfig and conversionReviewVersions under
// spec.conversion.webhook.
func crdConversionToV1(o *object, spec map[string]any) error {
	conv, ok := getMap(spec, "conversion")
	if !ok {
		return nil
	}
	strategy, _ := conv["strategy"].(string)
	cc, hasCC := conv["webhookClientConfig"]
	rv, hasRV := conv["conversionReviewVersions"]
	delete(conv, "webhookClientConfig")
	delete(conv, "conversionReviewVersions")
	if strategy != "Webhook" {
		if hasCC || hasRV {
			o.dropped("spec.conversion", "webhookClientConfig and conversionReviewVersions dropped: strategy is %q, not Webhook", strategy)
		}
		return nil
	}
	if !hasCC {
		return fmt.Errorf("spec.conversion.strategy is Webhook but webhookClientConfig is unset: set it")
	}
	wh := map[string]any{"clientConfig": cc}
	if !hasRV || len(stringsOf(rv)) == 0 {
		rv = anyStrings("v1beta1")
		o.defaulted("spec.conversion.webhook.conversionReviewVersions", "was unset: v1beta1 defaults to [v1beta1], v1 requires it; wrote [v1beta1]")
	}
	wh["conversionReviewVersions"] = rv
	conv["webhook"] = wh
	o.info("spec.conversion.webhook", "webhookClientConfig and conversionReviewVersions moved under spec.conversion.webhook (clientConfig)")
	return nil
}

func renamePrinterColumns(version map[string]any) {
	cols, _ := version["additionalPrinterColumns"].([]any)
	for _, c := range cols {
		if cm, ok := c.(map[string]any); ok {
			if v, ok := cm["JSONPath"]; ok {
				cm["jsonPath"] = v
				delete(cm, "JSONPath")
			}
		}
	}
}

// structural fixes what it safely can of the structural-schema rules (a missing type where
// properties or items make it obvious, uniqueItems which v1 forbids) and lists the rest.
// It walks properties, items and additionalProperties; value validations (anyOf, allOf,
// oneOf, not) are left to the apiserver.
func structural(s map[string]any, at string, root bool) (fixes, problems []string) {
	typ, _ := s["type"].(string)
	_, hasProps := s["properties"]
	_, hasItems := s["items"]
	intOrString, _ := s["x-kubernetes-int-or-string"].(bool)
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	switch {
	case typ != "":
	case hasProps:
		s["type"] = "object"
		fixes = append(fixes, fmt.Sprintf("%s had properties but no type: wrote type: object (v1 requires a type)", at))
	case hasItems:
		s["type"] = "array"
		fixes = append(fixes, fmt.Sprintf("%s had items but no type: wrote type: array (v1 requires a type)", at))
	case root:
		s["type"] = "object"
		fixes = append(fixes, fmt.Sprintf("%s had no type: wrote type: object (v1 requires it at the root)", at))
	case !intOrString && !preserve:
		problems = append(problems, at+" has no type")
	}
	if u, _ := s["uniqueItems"].(bool); u {
		delete(s, "uniqueItems")
		fixes = append(fixes, fmt.Sprintf("%s: removed uniqueItems: true, which v1 forbids (the apiserver no longer checks list items for uniqueness)", at))
	}
	if root {
		if t, _ := s["type"].(string); t != "object" {
			problems = append(problems, at+" must have type object at the root")
		}
		if _, ok := s["additionalProperties"]; ok {
			problems = append(problems, at+" must not use additionalProperties at the root")
		}
		if md, ok := getMap(s, "properties.metadata"); ok {
			for k := range md {
				if k != "type" && k != "properties" {
					problems = append(problems, at+".properties.metadata may only restrict name and generateName")
					break
				}
			}
			if mp, ok := getMap(md, "properties"); ok {
				for k := range mp {
					if k != "name" && k != "generateName" {
						problems = append(problems, at+".properties.metadata may only restrict name and generateName")
						break
					}
				}
			}
		}
	}
	if hasProps {
		if _, ok := s["additionalProperties"]; ok {
			problems = append(problems, at+" sets both properties and additionalProperties")
		}
	}
	if t, _ := s["type"].(string); t == "array" && !hasItems {
		problems = append(problems, at+" is an array without items")
	}
	props, _ := s["properties"].(map[string]any)
	for _, k := range sortedKeys(props) {
		if ps, ok := props[k].(map[string]any); ok {
			f, p := structural(ps, at+".properties."+k, false)
			fixes, problems = append(fixes, f...), append(problems, p...)
		}
	}
	if it, ok := s["items"].(map[string]any); ok {
		f, p := structural(it, at+".items", false)
		fixes, problems = append(fixes, f...), append(problems, p...)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		f, p := structural(ap, at+".additionalProperties", false)
		fixes, problems = append(fixes, f...), append(problems, p...)
	}
	return fixes, problems
}

// preserveUnknown sets x-kubernetes-preserve-unknown-fields: true on every object node
// that does not set it (either way) and returns how many it changed.
func preserveUnknown(s map[string]any) int {
	n := 0
	if t, _ := s["type"].(string); t == "object" {
		if _, set := s["x-kubernetes-preserve-unknown-fields"]; !set {
			if _, isMap := s["additionalProperties"]; !isMap {
				s["x-kubernetes-preserve-unknown-fields"] = true
				n++
			}
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, k := range sortedKeys(props) {
			if ps, ok := props[k].(map[string]any); ok && k != "metadata" {
				n += preserveUnknown(ps)
			}
		}
	}
	if it, ok := s["items"].(map[string]any); ok {
		n += preserveUnknown(it)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		n += preserveUnknown(ap)
	}
	return n
}
