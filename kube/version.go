package kube

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is a Kubernetes release version vMAJOR.MINOR.PATCH. Patch is -1 when only a
// minor was given (v1.37).
type Version struct {
	Major, Minor, Patch int
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$`)

// ParseVersion parses "v1.37.2", "1.37.2", "v1.37" (Patch -1) or a server's gitVersion
// such as "v1.24.17-eks-1234" (the suffix is ignored).
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("invalid Kubernetes version %q: want vMAJOR.MINOR.PATCH, e.g. v1.37.2", s)
	}
	v := Version{Patch: -1}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	if v.Major != 1 {
		return Version{}, fmt.Errorf("unsupported Kubernetes version %q: phoenix knows 1.x releases only", s)
	}
	return v, nil
}

// ParseExactVersion is ParseVersion that also requires a patch number.
func ParseExactVersion(s string) (Version, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return v, err
	}
	if v.Patch < 0 {
		return v, fmt.Errorf("version %q has no patch number: give a full release, e.g. v%d.%d.0", s, v.Major, v.Minor)
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants in code and tests.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String renders v1.37.2, or v1.37 when there is no patch.
func (v Version) String() string {
	if v.Patch < 0 {
		return fmt.Sprintf("v%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// MinorString renders v1.37.
func (v Version) MinorString() string { return fmt.Sprintf("v%d.%d", v.Major, v.Minor) }

// Compare returns -1, 0 or 1. A missing patch compares as 0.
func (v Version) Compare(o Version) int {
	cmp := func(a, b int) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	if c := cmp(v.Major, o.Major); c != 0 {
		return c
	}
	if c := cmp(v.Minor, o.Minor); c != 0 {
		return c
	}
	return cmp(max(v.Patch, 0), max(o.Patch, 0))
}

// Less reports v < o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// AtLeastMinor reports whether v's minor release is at or after 1.minor.
func (v Version) AtLeastMinor(minor int) bool {
	return v.Major > 1 || (v.Major == 1 && v.Minor >= minor)
}
