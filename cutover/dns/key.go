package dns

import (
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"

	mdns "github.com/miekg/dns"
)

// tsigKey is a TSIG key read from a BIND key file.
type tsigKey struct {
	name, algorithm, secret string
}

var (
	keyNameRE   = regexp.MustCompile(`key\s+"?([A-Za-z0-9._-]+)"?\s*\{`)
	keyAlgRE    = regexp.MustCompile(`algorithm\s+"?([A-Za-z0-9-]+)"?\s*;`)
	keySecretRE = regexp.MustCompile(`secret\s+"([A-Za-z0-9+/=]+)"\s*;`)
)

var algorithms = map[string]string{
	"hmac-sha1": mdns.HmacSHA1, "hmac-sha224": mdns.HmacSHA224, "hmac-sha256": mdns.HmacSHA256,
	"hmac-sha384": mdns.HmacSHA384, "hmac-sha512": mdns.HmacSHA512, "hmac-md5": mdns.HmacMD5,
}

// readKeyFile parses the first key of a BIND key file, as tsig-keygen writes it.
// Errors name the file, never the secret.
func readKeyFile(path string) (tsigKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tsigKey{}, fmt.Errorf("reading TSIG key file (--dns-tsig-key-file): %w", err)
	}
	s := string(data)
	name, alg, sec := keyNameRE.FindStringSubmatch(s), keyAlgRE.FindStringSubmatch(s), keySecretRE.FindStringSubmatch(s)
	if name == nil || alg == nil || sec == nil {
		return tsigKey{}, fmt.Errorf("%s is not a BIND key file: want `key \"NAME\" { algorithm hmac-sha256; secret \"BASE64\"; };` (make one with tsig-keygen)", path)
	}
	a, ok := algorithms[strings.ToLower(alg[1])]
	if !ok {
		return tsigKey{}, fmt.Errorf("%s: TSIG algorithm %q is not supported: use hmac-sha256", path, alg[1])
	}
	if _, err := base64.StdEncoding.DecodeString(sec[1]); err != nil {
		return tsigKey{}, fmt.Errorf("%s: the secret is not valid base64", path)
	}
	return tsigKey{name: mdns.Fqdn(strings.ToLower(name[1])), algorithm: a, secret: sec[1]}, nil
}
