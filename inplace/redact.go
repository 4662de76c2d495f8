package inplace

import "regexp"

// Redacted replaces every secret Redact removes.
const Redacted = "<redacted>"

var secretPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// kubeadm bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}
	{regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`), Redacted},
	// flags and config fields that carry secrets: --token X, --certificate-key X,
	// certificateKey: X, token: X, password=X, ...
	{regexp.MustCompile(`(?i)(--(?:token|certificate-key|discovery-token|tls-bootstrap-token|password)[= ]+)(\S+)`), "${1}" + Redacted},
	{regexp.MustCompile(`(?i)\b((?:certificateKey|token|password|passwd|secret|client-key-data|token-secret)\s*[:=]\s*)("?)[^\s"]+("?)`), "${1}${2}" + Redacted + "${3}"},
	// PEM private keys
	{regexp.MustCompile(`(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----`), "-----BEGIN PRIVATE KEY-----" + Redacted + "-----END PRIVATE KEY-----"},
}

// Redact removes secrets from a command or its output: kubeadm join tokens, certificate
// keys, passwords, private keys. Everything phoenix journals, logs or returns in an error
// passes through it.
func Redact(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}
