package emissary

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// findTLSContext looks a TLSContext up by name: in ns first, then in any
// namespace when the name is unique there (Emissary's names are global).
func (tr *translation) findTLSContext(ns, name string) *v3.TLSContext {
	var found []*v3.TLSContext
	for _, c := range tr.tlsContexts {
		if c.Name != name {
			continue
		}
		if c.Namespace == ns {
			return c
		}
		found = append(found, c)
	}
	if len(found) == 1 {
		return found[0]
	}
	return nil
}

// secretRef resolves a TLSContext's secret name: "name.namespace" names
// another namespace unless secret_namespacing is false, as in Emissary.
func secretRef(ctx *v3.TLSContext, name string) (string, string) {
	if ctx.Spec.SecretNamespacing == nil || *ctx.Spec.SecretNamespacing {
		if i := strings.LastIndex(name, "."); i > 0 && i < len(name)-1 {
			return name[i+1:], name[:i]
		}
	}
	return ctx.Namespace, name
}

// certSecret loads a certificate Secret into the fragment and returns its
// IR name.
func (tr *translation) certSecret(ns, name string) (string, error) {
	s, err := translators.TLSSecret(tr.in, Name, ns, name)
	if err != nil {
		return "", err
	}
	tr.secrets[s.Name] = s
	return s.Name, nil
}

// caSecret loads the CA bundle of a Secret (ca.crt, else tls.crt, which
// is where Emissary reads ca_secret from) into the fragment as
// "<namespace>/<name>/ca" and returns that name.
func (tr *translation) caSecret(ns, name string) (string, error) {
	irName := ns + "/" + name + "/ca"
	sec := tr.in.Secret(ns, name)
	if sec == nil {
		return "", fmt.Errorf("secret %s/%s does not exist", ns, name)
	}
	ca := secretBytes(sec, "ca.crt")
	if len(ca) == 0 {
		ca = secretBytes(sec, corev1.TLSCertKey)
	}
	if len(ca) == 0 || !strings.Contains(string(ca), "-----BEGIN CERTIFICATE-----") {
		return "", fmt.Errorf("secret %s/%s holds no PEM CA certificate in ca.crt or tls.crt", ns, name)
	}
	tr.secrets[irName] = &ir.Secret{
		Name: irName, Source: ir.Source{Translator: Name, Kind: "Secret", Namespace: ns, Name: name}, CA: ca,
	}
	return irName, nil
}

func secretBytes(s *corev1.Secret, key string) []byte {
	if v, ok := s.Data[key]; ok {
		return v
	}
	if v, ok := s.StringData[key]; ok {
		return []byte(v)
	}
	return nil
}

// tlsVersion turns Emissary's "v1.2" into the IR's "1.2".
func tlsVersion(v string) (string, bool) {
	switch v {
	case "":
		return "", true
	case "v1.0", "v1.1", "v1.2", "v1.3":
		return v[1:], true
	}
	return "", false
}

// splitList reads Emissary's comma-separated lists.
func splitList(items ...string) []string {
	var out []string
	for _, it := range items {
		for _, p := range strings.Split(it, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// originationTLS is the upstream TLS of a Mapping that asks for it (an
// https:// service or tls naming a TLSContext); ok is false, with a
// Warning, when it cannot be built, and the Mapping's share answers 503
// rather than go out unencrypted.
func (tr *translation) originationTLS(m problems, ns, tlsName string) (*ir.UpstreamTLS, bool) {
	out := &ir.UpstreamTLS{}
	if tlsName == "" {
		// https:// alone: Emissary originates TLS without verifying the
		// service's certificate.
		return out, true
	}
	fail := func(format string, args ...any) (*ir.UpstreamTLS, bool) {
		m.warn("spec.tls", "InvalidTLSContext", format+"; rather than send requests unencrypted, this Mapping's share answers 503", args...)
		return nil, false
	}
	ctx := tr.findTLSContext(ns, tlsName)
	if ctx == nil {
		return fail("TLSContext %q does not exist", tlsName)
	}
	tr.usedContext(ctx)
	cs := &ctx.Spec
	if cs.SNI != "" {
		sni := strings.ToLower(cs.SNI)
		if err := ir.ValidateHostname(sni); err != nil || strings.Contains(sni, "*") {
			return fail("TLSContext %s/%s: sni %q is not a DNS name", ctx.Namespace, ctx.Name, cs.SNI)
		}
		out.SNI = sni
	}
	if cs.Secret != "" {
		ns, name := secretRef(ctx, cs.Secret)
		n, err := tr.certSecret(ns, name)
		if err != nil {
			return fail("TLSContext %s/%s: client certificate: %v", ctx.Namespace, ctx.Name, err)
		}
		out.ClientCertSecret = n
	}
	if cs.CASecret != "" {
		ns, name := secretRef(ctx, cs.CASecret)
		n, err := tr.caSecret(ns, name)
		if err != nil {
			return fail("TLSContext %s/%s: ca_secret: %v", ctx.Namespace, ctx.Name, err)
		}
		out.CASecret = n
	}
	var ok bool
	if out.MinVersion, ok = tlsVersion(cs.MinTLSVersion); !ok {
		return fail("TLSContext %s/%s: min_tls_version %q is not v1.0-v1.3", ctx.Namespace, ctx.Name, cs.MinTLSVersion)
	}
	if out.MaxVersion, ok = tlsVersion(cs.MaxTLSVersion); !ok {
		return fail("TLSContext %s/%s: max_tls_version %q is not v1.0-v1.3", ctx.Namespace, ctx.Name, cs.MaxTLSVersion)
	}
	out.ALPN = splitList(cs.ALPNProtocols)
	for _, f := range []struct{ name, v string }{
		{"cert_chain_file", cs.CertChainFile}, {"private_key_file", cs.PrivateKeyFile},
		{"cacert_chain_file", cs.CACertChainFile}, {"crl_secret", cs.CRLSecret},
	} {
		if f.v != "" {
			m.warn("spec.tls", "NotSupported", "TLSContext %s/%s: %s is not supported (Legate reads certificates from Secrets) and is ignored", ctx.Namespace, ctx.Name, f.name)
		}
	}
	return out, true
}

// cors translates a Mapping's cors into the IR's policy. Lists may also be
// written as comma-separated strings, as Emissary allows.
func (m *mapping) cors(c *v3.CORS) *ir.CORS {
	out := &ir.CORS{
		AllowOrigins:     splitList(c.Origins...),
		AllowMethods:     splitList(c.Methods...),
		AllowHeaders:     splitList(c.Headers...),
		ExposeHeaders:    splitList(c.ExposedHeaders...),
		AllowCredentials: c.Credentials != nil && *c.Credentials,
	}
	for _, o := range out.AllowOrigins {
		if err := ir.ValidateCORSOrigin(o); err != nil {
			m.reject("spec.cors.origins", "InvalidCORS", "%v", err)
		}
	}
	for _, h := range slices.Concat(out.AllowMethods, out.AllowHeaders, out.ExposeHeaders) {
		if h != "*" && !validToken(h) {
			m.reject("spec.cors", "InvalidCORS", "%q is not a valid method or header name", h)
		}
	}
	if c.MaxAge != "" {
		var secs int64
		if _, err := fmt.Sscanf(c.MaxAge, "%d", &secs); err != nil || secs < 0 || fmt.Sprint(secs) != strings.TrimSpace(c.MaxAge) {
			m.reject("spec.cors.max_age", "InvalidCORS", "max_age %q is not a whole number of seconds", c.MaxAge)
		} else {
			out.MaxAge = timeSeconds(secs)
		}
	}
	return out
}
