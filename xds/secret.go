package xds

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/legateproxy/legate/translators/ir"
)

// buildSecret makes the SDS Secret for s: a certificate with its key, or,
// for a Secret that holds only a CA bundle, a validation context. An SDS
// Secret holds one of the two; when the IR Secret holds both, the
// certificate is what a listener names it for, so it wins.
func buildSecret(s *ir.Secret) (*tlsv3.Secret, error) {
	switch {
	case len(s.Certificate) > 0:
		if len(s.PrivateKey) == 0 {
			return nil, fmt.Errorf("certificate without a private key")
		}
		return &tlsv3.Secret{Name: s.Name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inlineBytes(s.Certificate),
			PrivateKey:       inlineBytes(s.PrivateKey),
		}}}, nil
	case len(s.CA) > 0:
		return &tlsv3.Secret{Name: s.Name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inlineBytes(s.CA),
		}}}, nil
	default:
		return nil, fmt.Errorf("neither a certificate nor a CA bundle")
	}
}

func inlineBytes(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: append([]byte(nil), b...)}}
}
