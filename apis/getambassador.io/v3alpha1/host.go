package v3alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostSpec is a hostname Emissary serves, with its TLS and request policy.
type HostSpec struct {
	AmbassadorID AmbassadorID `json:"ambassador_id,omitempty"`
	// Hostname is a DNS glob the Host serves.
	Hostname string `json:"hostname,omitempty"`
	// Selector is deprecated: use mappingSelector.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// MappingSelector picks the Mappings this Host serves (AND-ed with the
	// Mappings' hostname matching this Host's hostname).
	MappingSelector *metav1.LabelSelector `json:"mappingSelector,omitempty"`
	// AcmeProvider configures automatic certificates (not supported by
	// Legate).
	AcmeProvider *ACMEProviderSpec `json:"acmeProvider,omitempty"`
	// TLSSecret is the Secret holding the Host's certificate; none means no
	// TLS for this Host.
	TLSSecret     *corev1.SecretReference `json:"tlsSecret,omitempty"`
	RequestPolicy *RequestPolicy          `json:"requestPolicy,omitempty"`
	PreviewURL    *PreviewURLSpec         `json:"previewUrl,omitempty"`
	// TLSContext names a TLSContext in the Host's namespace; not valid
	// together with tls.
	TLSContext *corev1.LocalObjectReference `json:"tlsContext,omitempty"`
	// TLS settings; not valid together with tlsContext.
	TLS *TLSConfig `json:"tls,omitempty"`
}

// ACMEProviderSpec says whom to ask for certificates.
type ACMEProviderSpec struct {
	Authority        string                       `json:"authority,omitempty"`
	Email            string                       `json:"email,omitempty"`
	PrivateKeySecret *corev1.LocalObjectReference `json:"privateKeySecret,omitempty"`
	Registration     string                       `json:"registration,omitempty"`
}

// RequestPolicy says what to do with requests.
type RequestPolicy struct {
	Insecure InsecureRequestPolicy `json:"insecure,omitempty"`
}

// InsecureRequestPolicy says what to do with cleartext requests.
type InsecureRequestPolicy struct {
	// +kubebuilder:validation:Enum={"Redirect","Reject","Route"}
	Action         string `json:"action,omitempty"`
	AdditionalPort *int   `json:"additionalPort,omitempty"`
}

// PreviewURLSpec configures Service Preview URLs.
type PreviewURLSpec struct {
	Enabled *bool          `json:"enabled,omitempty"`
	Type    PreviewURLType `json:"type,omitempty"`
}

// PreviewURLType is the kind of preview URL.
//
// +kubebuilder:validation:Enum={"Path"}
type PreviewURLType string

// TLSConfig is a Host's inline TLS settings.
type TLSConfig struct {
	CertChainFile         string   `json:"cert_chain_file,omitempty"`
	PrivateKeyFile        string   `json:"private_key_file,omitempty"`
	CASecret              string   `json:"ca_secret,omitempty"`
	CACertChainFile       string   `json:"cacert_chain_file,omitempty"`
	CRLSecret             string   `json:"crl_secret,omitempty"`
	ALPNProtocols         string   `json:"alpn_protocols,omitempty"`
	CertRequired          *bool    `json:"cert_required,omitempty"`
	MinTLSVersion         string   `json:"min_tls_version,omitempty"`
	MaxTLSVersion         string   `json:"max_tls_version,omitempty"`
	CipherSuites          []string `json:"cipher_suites,omitempty"`
	ECDHCurves            []string `json:"ecdh_curves,omitempty"`
	RedirectCleartextFrom *int     `json:"redirect_cleartext_from,omitempty"`
	SNI                   string   `json:"sni,omitempty"`
}

// HostState is where a Host is in its life.
//
// +kubebuilder:validation:Enum={"Initial","Pending","Ready","Error"}
type HostState string

// HostPhase is a step of obtaining a certificate.
//
// +kubebuilder:validation:Enum={"NA","DefaultsFilled","ACMEUserPrivateKeyCreated","ACMEUserRegistered","ACMECertificateChallenge"}
type HostPhase string

// HostTLSCertificateSource says where a Host's certificate comes from.
//
// +kubebuilder:validation:Enum={"Unknown","None","Other","ACME"}
type HostTLSCertificateSource string

// HostStatus is Emissary's status of a Host.
type HostStatus struct {
	TLSCertificateSource HostTLSCertificateSource `json:"tlsCertificateSource,omitempty"`
	State                HostState                `json:"state,omitempty"`
	PhaseCompleted       HostPhase                `json:"phaseCompleted,omitempty"`
	PhasePending         HostPhase                `json:"phasePending,omitempty"`
	ErrorReason          string                   `json:"errorReason,omitempty"`
	ErrorTimestamp       *metav1.Time             `json:"errorTimestamp,omitempty"`
	ErrorBackoff         *metav1.Duration         `json:"errorBackoff,omitempty"`
}

// Host is a hostname Emissary serves.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Hostname",type=string,JSONPath=`.spec.hostname`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Phase Completed",type=string,JSONPath=`.status.phaseCompleted`
// +kubebuilder:printcolumn:name="Phase Pending",type=string,JSONPath=`.status.phasePending`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Host struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HostSpec   `json:"spec,omitempty"`
	Status HostStatus `json:"status,omitempty"`
}

// HostList is a list of Hosts.
//
// +kubebuilder:object:root=true
type HostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Host `json:"items"`
}
