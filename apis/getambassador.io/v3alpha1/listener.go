package v3alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ProtocolStackElement is one layer of a Listener's protocol stack.
//
// +kubebuilder:validation:Enum=HTTP;PROXY;TLS;TCP;UDP
type ProtocolStackElement string

// ProtocolType names a well-known protocol stack.
//
// +kubebuilder:validation:Enum=HTTP;HTTPS;HTTPPROXY;HTTPSPROXY;TCP;TLS;UDP
type ProtocolType string

// SecurityModelType says how a Listener decides whether a request is secure.
//
// +kubebuilder:validation:Enum=XFP;SECURE;INSECURE
type SecurityModelType string

// NamespaceFromType says which namespaces a Listener takes Hosts from.
//
// +kubebuilder:validation:Enum=SELF;ALL;SELECTOR
type NamespaceFromType string

// NamespaceBindingType picks the namespaces of the Hosts a Listener serves.
type NamespaceBindingType struct {
	From NamespaceFromType `json:"from,omitempty"`
}

// HostBindingType picks the Hosts a Listener serves.
type HostBindingType struct {
	Namespace NamespaceBindingType  `json:"namespace"`
	Selector  *metav1.LabelSelector `json:"selector,omitempty"`
}

// ListenerSpec is a port Emissary listens on and what it speaks there.
type ListenerSpec struct {
	AmbassadorID AmbassadorID `json:"ambassador_id,omitempty"`
	// Port is the network port; one Listener per port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:validation:Required
	Port int32 `json:"port"`
	// Protocol is a shorthand for a stack; exactly one of protocol and
	// protocolStack is set.
	Protocol      ProtocolType           `json:"protocol,omitempty"`
	ProtocolStack []ProtocolStackElement `json:"protocolStack,omitempty"`
	// +kubebuilder:validation:Required
	SecurityModel SecurityModelType `json:"securityModel"`
	StatsPrefix   string            `json:"statsPrefix,omitempty"`
	// L7Depth is how many layer 7 load balancers are in front of Envoy.
	L7Depth int32 `json:"l7Depth,omitempty"`
	// +kubebuilder:validation:Minimum=1
	HTTP2MaxConcurrentStreams *uint32 `json:"http2MaxConcurrentStreams,omitempty"`
	// +kubebuilder:validation:Required
	HostBinding HostBindingType `json:"hostBinding"`
}

// Listener is a port Emissary listens on.
//
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="Port",type=string,JSONPath=`.spec.port`
// +kubebuilder:printcolumn:name="Protocol",type=string,JSONPath=`.spec.protocol`
// +kubebuilder:printcolumn:name="Stack",type=string,JSONPath=`.spec.protocolStack`
// +kubebuilder:printcolumn:name="StatsPrefix",type=string,JSONPath=`.spec.statsPrefix`
// +kubebuilder:printcolumn:name="Security",type=string,JSONPath=`.spec.securityModel`
// +kubebuilder:printcolumn:name="L7Depth",type=string,JSONPath=`.spec.l7Depth`
type Listener struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ListenerSpec `json:"spec,omitempty"`
}

// ListenerList is a list of Listeners.
//
// +kubebuilder:object:root=true
type ListenerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Listener `json:"items"`
}
