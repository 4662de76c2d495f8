package haproxy

import (
	"errors"
	"fmt"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

// ValidateName checks an HAProxy identifier (a backend or server name) against HAProxy's
// own rule: letters, digits, '-', '_', '.' and ':', at least one of them. Anything else
// (a space, ';', '/', a newline) would be read by the runtime API as a second word or a
// second command, so such a name is refused before it is sent or stored.
func ValidateName(what, name string) error {
	if name == "" {
		return fmt.Errorf("haproxy %s name is empty", what)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' {
			continue
		}
		return fmt.Errorf("haproxy %s name %q is not a valid HAProxy identifier: character %q at byte %d; use only letters, digits, '-', '_', '.' and ':' (as in haproxy.cfg)", what, name, c, i)
	}
	return nil
}

// ValidateConfig checks the names of cfg; empty server names are left to the defaults.
func ValidateConfig(cfg cutover.HAProxyConfig) error {
	errs := []error{ValidateName("backend", cfg.Backend)}
	for _, s := range []struct{ what, name string }{{"blue server", cfg.BlueServer}, {"green server", cfg.GreenServer}} {
		if s.name != "" {
			errs = append(errs, ValidateName(s.what, s.name))
		}
	}
	return errors.Join(errs...)
}
