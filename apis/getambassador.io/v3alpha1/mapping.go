package v3alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MappingSpec is what a Mapping routes and how.
type MappingSpec struct {
	AmbassadorID AmbassadorID `json:"ambassador_id,omitempty"`

	// Prefix is matched against the request path: a plain string prefix,
	// the whole path with prefix_exact, or an RE2 expression with
	// prefix_regex.
	// +kubebuilder:validation:Required
	Prefix      string `json:"prefix,omitempty"`
	PrefixRegex *bool  `json:"prefix_regex,omitempty"`
	PrefixExact *bool  `json:"prefix_exact,omitempty"`
	// CaseSensitive path matching; default true.
	CaseSensitive *bool `json:"case_sensitive,omitempty"`

	// Service is "[scheme://]name[.namespace][:port]" or "host:port".
	// +kubebuilder:validation:Required
	Service string `json:"service,omitempty"`

	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	AddRequestHeaders map[string]AddedHeader `json:"add_request_headers,omitempty"`
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	AddResponseHeaders    map[string]AddedHeader `json:"add_response_headers,omitempty"`
	RemoveRequestHeaders  []string               `json:"remove_request_headers,omitempty"`
	RemoveResponseHeaders []string               `json:"remove_response_headers,omitempty"`
	AddLinkerdHeaders     *bool                  `json:"add_linkerd_headers,omitempty"`

	AutoHostRewrite *bool  `json:"auto_host_rewrite,omitempty"`
	HostRewrite     string `json:"host_rewrite,omitempty"`
	// Rewrite replaces the matched prefix; default "/". An empty string
	// turns rewriting off.
	Rewrite      *string   `json:"rewrite,omitempty"`
	RegexRewrite *RegexMap `json:"regex_rewrite,omitempty"`

	// HostRedirect makes the Mapping answer with a redirect to Service
	// instead of forwarding.
	HostRedirect *bool `json:"host_redirect,omitempty"`
	// PathRedirect replaces the path in a redirect (with host_redirect).
	PathRedirect string `json:"path_redirect,omitempty"`
	// PrefixRedirect replaces the matched prefix in a redirect.
	PrefixRedirect string `json:"prefix_redirect,omitempty"`
	// RegexRedirect rewrites the path of a redirect.
	RegexRedirect *RegexMap `json:"regex_redirect,omitempty"`
	// RedirectResponseCode of a redirect; default 301.
	// +kubebuilder:validation:Enum={301,302,303,307,308}
	RedirectResponseCode *int `json:"redirect_response_code,omitempty"`

	DNSType          string            `json:"dns_type,omitempty"`
	Docs             *DocsInfo         `json:"docs,omitempty"`
	EnableIPv4       *bool             `json:"enable_ipv4,omitempty"`
	EnableIPv6       *bool             `json:"enable_ipv6,omitempty"`
	CircuitBreakers  []*CircuitBreaker `json:"circuit_breakers,omitempty"`
	KeepAlive        *KeepAlive        `json:"keepalive,omitempty"`
	CORS             *CORS             `json:"cors,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"retry_policy,omitempty"`
	RespectDNSTTL    *bool             `json:"respect_dns_ttl,omitempty"`
	GRPC             *bool             `json:"grpc,omitempty"`
	Method           string            `json:"method,omitempty"`
	MethodRegex      *bool             `json:"method_regex,omitempty"`
	OutlierDetection string            `json:"outlier_detection,omitempty"`
	Priority         string            `json:"priority,omitempty"`
	Precedence       *int              `json:"precedence,omitempty"`
	ClusterTag       string            `json:"cluster_tag,omitempty"`
	Resolver         string            `json:"resolver,omitempty"`
	Shadow           *bool             `json:"shadow,omitempty"`

	ConnectTimeoutMs               *int64 `json:"connect_timeout_ms,omitempty"`
	ClusterIdleTimeoutMs           *int64 `json:"cluster_idle_timeout_ms,omitempty"`
	ClusterMaxConnectionLifetimeMs *int64 `json:"cluster_max_connection_lifetime_ms,omitempty"`
	// TimeoutMs bounds each request; default 3000, 0 turns it off.
	TimeoutMs     *int64 `json:"timeout_ms,omitempty"`
	IdleTimeoutMs *int64 `json:"idle_timeout_ms,omitempty"`

	// TLS names a TLSContext used to originate TLS to the upstream.
	TLS string `json:"tls,omitempty"`
	// +kubebuilder:validation:MinItems=1
	HealthChecks []HealthCheck `json:"health_checks,omitempty"`

	// UseWebsocket is deprecated: it means allow_upgrade: [websocket].
	UseWebsocket *bool `json:"use_websocket,omitempty"`
	// AllowUpgrade lists protocols (case-insensitive) a request may upgrade
	// to with "Connection: upgrade", e.g. websocket.
	AllowUpgrade []string `json:"allow_upgrade,omitempty"`

	// Weight is the percentage of the traffic of Mappings with the same
	// match that this one gets; unweighted Mappings share the remainder.
	Weight                *int              `json:"weight,omitempty"`
	BypassAuth            *bool             `json:"bypass_auth,omitempty"`
	AuthContextExtensions map[string]string `json:"auth_context_extensions,omitempty"`

	BypassErrorResponseOverrides *bool `json:"bypass_error_response_overrides,omitempty"`
	// +kubebuilder:validation:MinItems=1
	ErrorResponseOverrides []ErrorResponseOverride `json:"error_response_overrides,omitempty"`
	// +kubebuilder:pruning:PreserveUnknownFields
	Modules []runtime.RawExtension `json:"modules,omitempty"`

	// Host is deprecated: an exact match on the request's host, or an RE2
	// expression with host_regex. Hostname wins when both are set.
	Host      string `json:"host,omitempty"`
	HostRegex *bool  `json:"host_regex,omitempty"`
	// Hostname is a DNS glob ("foo.example.com", "*.example.com", "*") the
	// request's host must match; default "*".
	Hostname string `json:"hostname,omitempty"`

	Headers              map[string]string `json:"headers,omitempty"`
	RegexHeaders         map[string]string `json:"regex_headers,omitempty"`
	QueryParameters      map[string]string `json:"query_parameters,omitempty"`
	RegexQueryParameters map[string]string `json:"regex_query_parameters,omitempty"`

	// Labels are rate limiting labels, by domain.
	Labels DomainMap `json:"labels,omitempty"`
	// EnvoyOverride is raw Envoy route configuration; Legate rejects it.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	EnvoyOverride *runtime.RawExtension `json:"envoy_override,omitempty"`
	LoadBalancer  *LoadBalancer         `json:"load_balancer,omitempty"`
	StatsName     string                `json:"stats_name,omitempty"`

	V2ExplicitTLS         *V2ExplicitTLS `json:"v2ExplicitTLS,omitempty"`
	V2BoolHeaders         []string       `json:"v2BoolHeaders,omitempty"`
	V2BoolQueryParameters []string       `json:"v2BoolQueryParameters,omitempty"`
}

// DomainMap maps rate limiting domains to label groups.
type DomainMap map[string]MappingLabelGroupsArray

// MappingLabelGroupsArray is a list of label groups.
type MappingLabelGroupsArray []MappingLabelGroup

// MappingLabelGroup names one group of labels.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type MappingLabelGroup map[string]MappingLabelsArray

// MappingLabelsArray is the labels of one group.
type MappingLabelsArray []MappingLabelSpecifier

// MappingLabelSpecifier is one label; exactly one field is set.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type MappingLabelSpecifier struct {
	SourceCluster      *MappingLabelSourceCluster      `json:"source_cluster,omitempty"`
	DestinationCluster *MappingLabelDestinationCluster `json:"destination_cluster,omitempty"`
	RequestHeaders     *MappingLabelRequestHeaders     `json:"request_headers,omitempty"`
	RemoteAddress      *MappingLabelRemoteAddress      `json:"remote_address,omitempty"`
	GenericKey         *MappingLabelGenericKeyValue    `json:"generic_key,omitempty"`
}

// MappingLabelSourceCluster labels with the Envoy source cluster.
type MappingLabelSourceCluster struct {
	// +kubebuilder:validation:Enum={"source_cluster"}
	// +kubebuilder:validation:Required
	Key string `json:"key"`
}

// MappingLabelDestinationCluster labels with the Envoy destination cluster.
type MappingLabelDestinationCluster struct {
	// +kubebuilder:validation:Enum={"destination_cluster"}
	// +kubebuilder:validation:Required
	Key string `json:"key"`
}

// MappingLabelRemoteAddress labels with the client's address.
type MappingLabelRemoteAddress struct {
	// +kubebuilder:validation:Enum={"remote_address"}
	// +kubebuilder:validation:Required
	Key string `json:"key"`
}

// MappingLabelRequestHeaders takes a label's value from a request header.
type MappingLabelRequestHeaders struct {
	// +kubebuilder:validation:Required
	Key string `json:"key"`
	// +kubebuilder:validation:Required
	HeaderName       string `json:"header_name"`
	OmitIfNotPresent *bool  `json:"omit_if_not_present,omitempty"`
}

// MappingLabelGenericKeyValue is a fixed label; the key defaults to
// "generic_key".
type MappingLabelGenericKeyValue struct {
	Key string `json:"key,omitempty"`
	// +kubebuilder:validation:Required
	Value       string `json:"value"`
	V2Shorthand bool   `json:"v2Shorthand,omitempty"`
}

// MappingStatus is Emissary's status of a Mapping: Running, or Inactive
// with the reason.
type MappingStatus struct {
	// +kubebuilder:validation:Enum={"","Inactive","Running"}
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Mapping routes HTTP requests matching a prefix (and more) to a service.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Source Host",type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name="Source Prefix",type=string,JSONPath=`.spec.prefix`
// +kubebuilder:printcolumn:name="Dest Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`
type Mapping struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MappingSpec    `json:"spec,omitempty"`
	Status *MappingStatus `json:"status,omitempty"`
}

// MappingList is a list of Mappings.
//
// +kubebuilder:object:root=true
type MappingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Mapping `json:"items"`
}
