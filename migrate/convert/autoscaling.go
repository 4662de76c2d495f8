package convert

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Annotations autoscaling versions without a field for something used to round-trip it
// (kubernetes pkg/apis/autoscaling/annotations.go); v2 has the fields, so they go.
const (
	hpaBehaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior"
)

var hpaRoundTripAnnotations = []string{
	"autoscaling.alpha.kubernetes.io/metrics",
	"autoscaling.alpha.kubernetes.io/current-metrics",
	"autoscaling.alpha.kubernetes.io/conditions",
}

// autoscalingConverters: autoscaling/v2beta1 (1.25) and v2beta2 (1.26)
// HorizontalPodAutoscaler -> autoscaling/v2. v2beta2 has v2's schema; v2beta1 spelled
// metric targets as flat targetAverageUtilization/targetAverageValue/targetValue fields.
// Read from kubernetes pkg/apis/autoscaling/v2beta1/conversion.go (release-1.24).
func autoscalingConverters() []Converter {
	return []Converter{
		rewrite("autoscaling/v2beta1", "autoscaling/v2", hpaV2beta1ToV2, "HorizontalPodAutoscaler"),
		rename("autoscaling/v2beta2", "autoscaling/v2", "HorizontalPodAutoscaler"),
	}
}

func hpaV2beta1ToV2(o *object) error {
	err := forEachMap(o.Object, "spec.metrics", func(i int, m map[string]any) error {
		typ, _ := m["type"].(string)
		key := map[string]string{"Object": "object", "Pods": "pods", "Resource": "resource", "ContainerResource": "containerResource", "External": "external"}[typ]
		src, ok := m[key].(map[string]any)
		if key == "" || !ok {
			return fmt.Errorf("spec.metrics[%d]: type %q without its %q source: fix the metric", i, typ, key)
		}
		m[key] = metricSourceToV2(typ, src)
		return nil
	})
	if err != nil {
		return err
	}
	if n, ok := get(o.Object, "spec.metrics"); ok && len(n.([]any)) > 0 {
		o.info("spec.metrics", "metric targets rewritten to the v2 target structure (type Utilization/Value/AverageValue)")
	}
	ann := o.GetAnnotations()
	if enc, ok := ann[hpaBehaviorAnnotation]; ok {
		var b map[string]any
		if err := json.Unmarshal([]byte(enc), &b); err == nil && len(b) > 0 {
			if _, has := get(o.Object, "spec.behavior"); !has {
				set(o.Object, "spec.behavior", lowerKeys(b))
				o.info("spec.behavior", "moved from the %s annotation, where v2beta1 kept it, to spec.behavior", hpaBehaviorAnnotation)
			}
		} else {
			o.dropped("metadata.annotations."+hpaBehaviorAnnotation, "not a valid behavior, ignored as kubernetes ignores it")
		}
		delete(ann, hpaBehaviorAnnotation)
	}
	for _, a := range hpaRoundTripAnnotations {
		if _, ok := ann[a]; ok {
			delete(ann, a)
			o.dropped("metadata.annotations."+a, "round-trip annotation of autoscaling/v1; autoscaling/v2 has the field")
		}
	}
	setAnnotations(o, ann)
	if _, ok := get(o.Object, "status"); ok {
		del(o.Object, "status")
		o.dropped("status", "v2beta1 status has another shape; the HPA controller on the target rewrites it")
	}
	return nil
}

// metricSourceToV2 rewrites one v2beta1 metric source, as kubernetes' conversion does
// except that an Object metric without targetValue gets no target.value, where kubernetes
// writes "0", which its own validation rejects ("must be positive").
func metricSourceToV2(typ string, in map[string]any) map[string]any {
	out := map[string]any{}
	target := map[string]any{}
	switch typ {
	case "Object":
		if t, ok := in["target"]; ok {
			out["describedObject"] = t
		}
		out["metric"] = metricIdentifier(in["metricName"], in["selector"])
		target["type"] = "Value"
		if av, ok := in["averageValue"]; ok && av != nil {
			target["type"] = "AverageValue"
			target["averageValue"] = av
		}
		if v, ok := in["targetValue"]; ok && v != nil {
			target["value"] = v
		}
	case "Pods":
		out["metric"] = metricIdentifier(in["metricName"], in["selector"])
		target["type"] = "AverageValue"
		target["averageValue"] = quantityOrZero(in["targetAverageValue"])
	case "Resource", "ContainerResource":
		out["name"] = in["name"]
		if c, ok := in["container"]; ok {
			out["container"] = c
		}
		target["type"] = "AverageValue"
		if u, ok := in["targetAverageUtilization"]; ok && u != nil {
			target["type"] = "Utilization"
			target["averageUtilization"] = u
		}
		if v, ok := in["targetAverageValue"]; ok && v != nil {
			target["averageValue"] = v
		}
	case "External":
		out["metric"] = metricIdentifier(in["metricName"], in["metricSelector"])
		target["type"] = "AverageValue"
		if v, ok := in["targetValue"]; ok && v != nil {
			target["type"] = "Value"
			target["value"] = v
		}
		if v, ok := in["targetAverageValue"]; ok && v != nil {
			target["averageValue"] = v
		}
	}
	out["target"] = target
	return out
}

func metricIdentifier(name, selector any) map[string]any {
	m := map[string]any{"name": name}
	if selector != nil {
		m["selector"] = selector
	}
	return m
}

func quantityOrZero(v any) any {
	if v == nil {
		return "0"
	}
	return v
}

// lowerKeys turns the Go field names kubernetes used when it marshalled the internal
// behavior type into the annotation (ScaleUp, StabilizationWindowSeconds) into JSON field
// names (scaleUp, stabilizationWindowSeconds), dropping nulls.
func lowerKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				continue
			}
			r, size := utf8.DecodeRuneInString(k)
			out[string(unicode.ToLower(r))+k[size:]] = lowerKeys(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = lowerKeys(e)
		}
		return out
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case string:
		return strings.Clone(x)
	}
	return v
}
