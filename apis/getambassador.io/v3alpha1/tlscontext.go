package v3alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TLSContextSpec is a set of TLS settings: for terminating TLS for hosts,
// or, named by a Mapping's tls, for originating it.
type TLSContextSpec struct {
	AmbassadorID    AmbassadorID `json:"ambassador_id,omitempty"`
	Hosts           []string     `json:"hosts,omitempty"`
	Secret          string       `json:"secret,omitempty"`
	CertChainFile   string       `json:"cert_chain_file,omitempty"`
	PrivateKeyFile  string       `json:"private_key_file,omitempty"`
	CASecret        string       `json:"ca_secret,omitempty"`
	CACertChainFile string       `json:"cacert_chain_file,omitempty"`
	CRLSecret       string       `json:"crl_secret,omitempty"`
	ALPNProtocols   string       `json:"alpn_protocols,omitempty"`
	CertRequired    *bool        `json:"cert_required,omitempty"`
	// +kubebuilder:validation:Enum={"v1.0","v1.1","v1.2","v1.3"}
	MinTLSVersion string `json:"min_tls_version,omitempty"`
	// +kubebuilder:validation:Enum={"v1.0","v1.1","v1.2","v1.3"}
	MaxTLSVersion         string   `json:"max_tls_version,omitempty"`
	CipherSuites          []string `json:"cipher_suites,omitempty"`
	ECDHCurves            []string `json:"ecdh_curves,omitempty"`
	SecretNamespacing     *bool    `json:"secret_namespacing,omitempty"`
	RedirectCleartextFrom *int     `json:"redirect_cleartext_from,omitempty"`
	SNI                   string   `json:"sni,omitempty"`
}

// TLSContext is a named set of TLS settings.
//
// +kubebuilder:object:root=true
type TLSContext struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TLSContextSpec `json:"spec,omitempty"`
}

// TLSContextList is a list of TLSContexts.
//
// +kubebuilder:object:root=true
type TLSContextList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TLSContext `json:"items"`
}
