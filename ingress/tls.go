package ingress

import (
	"fmt"

	"github.com/legateproxy/legate/translators"
)

// collectTLS records, for each valid spec.tls entry of one Ingress, the
// certificate its hosts are served with on HTTPS.
func (t *translation) collectTLS(st *ingressState) {
	ing := st.ing
	for i, entry := range ing.Spec.TLS {
		field := fmt.Sprintf("spec.tls[%d]", i)
		hosts := entry.Hosts
		hostsField := field + ".hosts"
		if len(hosts) == 0 {
			// No hosts: the certificate serves every host of the rules
			// (rules without a host cannot be selected by SNI).
			for _, r := range ing.Spec.Rules {
				if r.Host != "" {
					hosts = append(hosts, r.Host)
				}
			}
			hostsField = ""
		}
		var valid []string
		for j, h := range hosts {
			if err := validateHost(h); err != nil {
				f := fmt.Sprintf("%s[%d]", hostsField, j)
				if hostsField == "" {
					continue // reported on the rule already
				}
				st.problem(errSev, f, "InvalidHost", "%v; it is not served over HTTPS", err)
				continue
			}
			valid = append(valid, h)
		}
		if len(valid) == 0 {
			continue
		}
		secretField := field + ".secretName"
		if entry.SecretName == "" {
			st.problem(errSev, secretField, "InvalidCertificate",
				"no secretName: TLS without a certificate is not supported; hosts %v are not served over HTTPS", valid)
			continue
		}
		secret, err := t.secret(ing.Namespace, entry.SecretName)
		if err != nil {
			st.problem(errSev, secretField, "InvalidCertificate", "%v; hosts %v are not served over HTTPS", err, valid)
			continue
		}
		for _, h := range valid {
			st.addVHost(h)
			if prev, ok := t.tlsHosts[h]; ok {
				if prev.secret != secret {
					st.problem(warnSev, secretField, "TLSConflict",
						"host %s is already served with Secret %s of Ingress %s; that certificate is used", h, prev.secret, prev.owner)
				}
				continue
			}
			t.tlsHosts[h] = &tlsHost{secret: secret, owner: ing.Namespace + "/" + ing.Name}
		}
	}
}

// secret loads the TLS Secret namespace/name into t.secrets and returns its
// IR name.
func (t *translation) secret(namespace, name string) (string, error) {
	irName := namespace + "/" + name
	if _, ok := t.secrets[irName]; !ok {
		s, err := translators.TLSSecret(t.in, Name, namespace, name)
		if err != nil {
			return "", err
		}
		t.secrets[irName] = s
	}
	return irName, nil
}
