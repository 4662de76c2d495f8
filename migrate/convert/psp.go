package convert

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod Security Admission levels.
const (
	LevelPrivileged = "privileged"
	LevelBaseline   = "baseline"
	LevelRestricted = "restricted"
)

// PSA namespace label keys the pipeline sets from a level.
const (
	PodSecurityEnforceLabel = "pod-security.kubernetes.io/enforce"
	PodSecurityWarnLabel    = "pod-security.kubernetes.io/warn"
)

var (
	baselineCaps      = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	restrictedVolumes = []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
	levelRank         = map[string]int{LevelPrivileged: 0, LevelBaseline: 1, LevelRestricted: 2}
)

// pspMapping accumulates the level a PodSecurityPolicy needs and why it is not faithful.
type pspMapping struct {
	level    string
	faithful bool
	n        noter
}

// atMost lowers the level to l (privileged < baseline < restricted) and says why.
func (m *pspMapping) atMost(l, field, format string, args ...any) {
	if levelRank[l] < levelRank[m.level] {
		m.level = l
	}
	m.n.info(field, "needs %s: "+format, append([]any{l}, args...)...)
}

// unfaithful records something Pod Security Admission cannot reproduce.
func (m *pspMapping) unfaithful(field, format string, args ...any) {
	m.faithful = false
	m.n.lossy(field, format, args...)
}

// PSPToPodSecurity maps a PodSecurityPolicy (extensions/v1beta1 or policy/v1beta1) to the
// most restrictive Pod Security Admission level that still admits every pod the policy
// admitted, following kubernetes.io/docs/reference/access-authn-authz/psp-to-pod-security-standards.
// faithful is false when Pod Security Admission cannot say what the policy said: the policy
// mutated pods (PSA never does, so pods that relied on it must set the fields themselves),
// or it restricted something the chosen level allows. The notes say which, field by field.
func PSPToPodSecurity(psp *unstructured.Unstructured) (level string, faithful bool, notes []Note) {
	m := &pspMapping{level: LevelRestricted, faithful: true, n: noter{object: ObjectName(psp), from: psp.GroupVersionKind().GroupVersion()}}
	spec, _ := getMap(psp.Object, "spec")
	b := func(f string) bool { v, _ := spec[f].(bool); return v }

	for _, f := range []string{"privileged", "hostNetwork", "hostPID", "hostIPC"} {
		if b(f) {
			m.atMost(LevelPrivileged, "spec."+f, "it is true")
		}
	}
	if ports, _ := spec["hostPorts"].([]any); len(ports) > 0 {
		m.atMost(LevelPrivileged, "spec.hostPorts", "it allows host ports")
	}
	vols := stringsOf(spec["volumes"])
	switch {
	case slices.Contains(vols, "*") || slices.Contains(vols, "hostPath"):
		m.atMost(LevelPrivileged, "spec.volumes", "it allows hostPath volumes")
		if paths, _ := spec["allowedHostPaths"].([]any); len(paths) > 0 {
			m.unfaithful("spec.allowedHostPaths", "limits hostPath volumes to some paths; privileged allows every path")
		}
	default:
		var extra []string
		for _, v := range vols {
			if !slices.Contains(restrictedVolumes, v) {
				extra = append(extra, v)
			}
		}
		if len(extra) > 0 {
			m.atMost(LevelBaseline, "spec.volumes", "it allows %s volumes", strings.Join(extra, ", "))
		}
	}
	mapCaps(m, spec)
	mapSELinux(m, spec)
	mapUsers(m, spec)

	switch ape, set := spec["allowPrivilegeEscalation"].(bool); {
	case !set || ape:
		m.atMost(LevelBaseline, "spec.allowPrivilegeEscalation", "it allows privilege escalation")
	default:
		m.unfaithful("spec.allowPrivilegeEscalation", "false: the policy set allowPrivilegeEscalation: false on containers that did not; under Pod Security Admission every container must set it itself")
	}
	if dape, ok := spec["defaultAllowPrivilegeEscalation"].(bool); ok && !dape {
		m.unfaithful("spec.defaultAllowPrivilegeEscalation", "the policy defaulted allowPrivilegeEscalation to false; Pod Security Admission sets no defaults")
	}
	if b("readOnlyRootFilesystem") {
		m.unfaithful("spec.readOnlyRootFilesystem", "the policy required read-only root filesystems; no Pod Security level does")
	}
	if s := stringsOf(spec["allowedUnsafeSysctls"]); len(s) > 0 {
		m.atMost(LevelPrivileged, "spec.allowedUnsafeSysctls", "it allows unsafe sysctls %s", strings.Join(s, ", "))
	}
	if s := stringsOf(spec["forbiddenSysctls"]); len(s) > 0 {
		m.unfaithful("spec.forbiddenSysctls", "the policy forbade sysctls %s; Pod Security levels forbid only unsafe ones", strings.Join(s, ", "))
	}
	for _, t := range stringsOf(spec["allowedProcMountTypes"]) {
		if t != "Default" {
			m.atMost(LevelPrivileged, "spec.allowedProcMountTypes", "it allows procMount %s", t)
		}
	}
	for _, f := range []string{"allowedFlexVolumes", "allowedCSIDrivers"} {
		if l, _ := spec[f].([]any); len(l) > 0 {
			m.unfaithful("spec."+f, "the policy limited which drivers pods may use; Pod Security levels do not")
		}
	}
	if rc, ok := getMap(spec, "runtimeClass"); ok {
		if getString(rc, "defaultRuntimeClassName") != "" {
			m.unfaithful("spec.runtimeClass.defaultRuntimeClassName", "the policy set a default RuntimeClass; Pod Security Admission sets none: set runtimeClassName on the pods")
		}
		if names := stringsOf(rc["allowedRuntimeClassNames"]); len(names) > 0 && !slices.Contains(names, "*") {
			m.unfaithful("spec.runtimeClass.allowedRuntimeClassNames", "the policy limited RuntimeClasses; Pod Security levels do not")
		}
	}
	mapProfiles(m, psp.GetAnnotations())

	to := PodSecurityEnforceLabel + "=" + m.level
	for i := range m.n.notes {
		m.n.notes[i].To = to
	}
	return m.level, m.faithful, m.n.notes
}

func normCap(c string) string { return strings.TrimPrefix(strings.ToUpper(c), "CAP_") }

func mapCaps(m *pspMapping, spec map[string]any) {
	for _, f := range []string{"allowedCapabilities", "defaultAddCapabilities"} {
		for _, c := range stringsOf(spec[f]) {
			switch nc := normCap(c); {
			case nc == "*" || !slices.Contains(baselineCaps, nc):
				m.atMost(LevelPrivileged, "spec."+f, "it allows capability %s", c)
			case nc != "NET_BIND_SERVICE":
				m.atMost(LevelBaseline, "spec."+f, "it allows capability %s", c)
			}
		}
	}
	if add := stringsOf(spec["defaultAddCapabilities"]); len(add) > 0 {
		m.unfaithful("spec.defaultAddCapabilities", "the policy added %s to every container; Pod Security Admission adds nothing: add them to the containers' securityContext.capabilities", strings.Join(add, ", "))
	}
	drop := stringsOf(spec["requiredDropCapabilities"])
	if !slices.ContainsFunc(drop, func(c string) bool { return normCap(c) == "ALL" }) {
		m.atMost(LevelBaseline, "spec.requiredDropCapabilities", "it does not require dropping ALL")
	}
	if len(drop) > 0 {
		m.unfaithful("spec.requiredDropCapabilities", "the policy dropped %s from containers that did not; under Pod Security Admission containers must drop them themselves (restricted requires drop: [ALL])", strings.Join(drop, ", "))
	}
}

func mapSELinux(m *pspMapping, spec map[string]any) {
	se, _ := getMap(spec, "seLinux")
	switch rule := getString(se, "rule"); rule {
	case "MustRunAs":
		opts, _ := getMap(se, "seLinuxOptions")
		typ := getString(opts, "type")
		if getString(opts, "user") != "" || getString(opts, "role") != "" ||
			(typ != "" && !slices.Contains([]string{"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, typ)) {
			m.atMost(LevelPrivileged, "spec.seLinux", "it assigns an SELinux user, role or type outside container_t, container_init_t, container_kvm_t, container_engine_t")
		}
		if len(opts) > 0 {
			m.unfaithful("spec.seLinux.seLinuxOptions", "the policy assigned SELinux options to pods; Pod Security Admission assigns none: set them on the pods")
		}
	default:
		m.atMost(LevelPrivileged, "spec.seLinux", "rule %s lets pods choose any SELinux user, role and type (if no pod in the namespace sets seLinuxOptions, baseline or restricted admit the same pods)", dash(rule))
	}
}

func mapUsers(m *pspMapping, spec map[string]any) {
	ru, _ := getMap(spec, "runAsUser")
	switch rule := getString(ru, "rule"); rule {
	case "MustRunAsNonRoot":
		m.unfaithful("spec.runAsUser", "MustRunAsNonRoot set runAsNonRoot: true on pods that did not; under restricted every pod must set it itself")
	case "MustRunAs":
		m.atMost(LevelBaseline, "spec.runAsUser", "restricted requires rule MustRunAsNonRoot, not MustRunAs")
		m.unfaithful("spec.runAsUser", "MustRunAs assigned user IDs from its ranges; Pod Security Admission assigns none and does not limit the range")
	default:
		m.atMost(LevelBaseline, "spec.runAsUser", "rule %s lets pods run as root", dash(rule))
	}
	for _, f := range []string{"runAsGroup", "supplementalGroups", "fsGroup"} {
		if rule := getString(spec, f+".rule"); rule == "MustRunAs" || rule == "MayRunAs" {
			m.unfaithful("spec."+f, "rule %s assigned or limited group IDs; Pod Security Admission does neither", rule)
		}
	}
}

// mapProfiles maps the seccomp and AppArmor annotations of a PodSecurityPolicy.
func mapProfiles(m *pspMapping, ann map[string]string) {
	const (
		seccompAllowed  = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
		seccompDefault  = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
		apparmorAllowed = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
		apparmorDefault = "apparmor.security.beta.kubernetes.io/defaultProfileName"
	)
	confined := func(p string) bool {
		return p == "runtime/default" || p == "docker/default" || strings.HasPrefix(p, "localhost/")
	}
	check := func(key string, restrictedNeedsIt bool) {
		list, ok := ann[key]
		if !ok {
			if restrictedNeedsIt {
				m.atMost(LevelBaseline, "metadata.annotations."+key, "unset, so pods ran without a seccomp profile; restricted requires RuntimeDefault or Localhost")
			}
			return
		}
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			switch {
			case p == "" && restrictedNeedsIt:
				m.atMost(LevelBaseline, "metadata.annotations."+key, "it allows pods without a profile")
			case p != "" && !confined(p):
				m.atMost(LevelPrivileged, "metadata.annotations."+key, "it allows profile %s", p)
			}
		}
	}
	check(seccompAllowed, true)
	check(apparmorAllowed, false)
	for _, key := range []string{seccompDefault, apparmorDefault} {
		if v := ann[key]; v != "" {
			m.unfaithful("metadata.annotations."+key, "the policy gave pods profile %s by default; Pod Security Admission sets no profile: set it in the pods' securityContext", v)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// PodSecurityLabels returns the namespace labels for a level: enforce it, and warn at
// restricted when the level is looser, so the operator sees what would tighten it.
func PodSecurityLabels(level string) (map[string]string, error) {
	if _, ok := levelRank[level]; !ok {
		return nil, fmt.Errorf("unknown Pod Security level %q: use privileged, baseline or restricted", level)
	}
	return map[string]string{PodSecurityEnforceLabel: level, PodSecurityWarnLabel: LevelRestricted}, nil
}
