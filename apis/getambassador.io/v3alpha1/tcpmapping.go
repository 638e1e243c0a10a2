package v3alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TCPMappingSpec forwards TCP connections on a port to a service.
type TCPMappingSpec struct {
	AmbassadorID AmbassadorID `json:"ambassador_id,omitempty"`
	// +kubebuilder:validation:Required
	Port int `json:"port,omitempty"`
	// Host is an SNI name: with it, the port terminates TLS and routes by SNI.
	Host    string `json:"host,omitempty"`
	Address string `json:"address,omitempty"`
	// +kubebuilder:validation:Required
	Service         string           `json:"service,omitempty"`
	EnableIPv4      *bool            `json:"enable_ipv4,omitempty"`
	EnableIPv6      *bool            `json:"enable_ipv6,omitempty"`
	CircuitBreakers []CircuitBreaker `json:"circuit_breakers,omitempty"`
	IdleTimeoutMs   string           `json:"idle_timeout_ms,omitempty"`
	Resolver        string           `json:"resolver,omitempty"`
	TLS             string           `json:"tls,omitempty"`
	Weight          *int             `json:"weight,omitempty"`
	ClusterTag      string           `json:"cluster_tag,omitempty"`
	StatsName       string           `json:"stats_name,omitempty"`
	V2ExplicitTLS   *V2ExplicitTLS   `json:"v2ExplicitTLS,omitempty"`
}

// TCPMapping forwards TCP connections.
//
// +kubebuilder:object:root=true
type TCPMapping struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TCPMappingSpec `json:"spec,omitempty"`
}

// TCPMappingList is a list of TCPMappings.
//
// +kubebuilder:object:root=true
type TCPMappingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TCPMapping `json:"items"`
}
