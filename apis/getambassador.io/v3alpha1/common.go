package v3alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AmbassadorID lists the Emissary installations a resource belongs to. An
// empty list means ["default"]; the ID "_automatic_" matches every
// installation.
type AmbassadorID []string

// Matches reports whether a resource with this ID belongs to the
// installation whose ID is id.
func (a AmbassadorID) Matches(id string) bool {
	if len(a) == 0 {
		return id == "default"
	}
	for _, x := range a {
		if x == id || x == "_automatic_" {
			return true
		}
	}
	return false
}

// AddedHeader is one header a Mapping adds. Emissary's documentation writes
// it either as a plain string (the value, appended) or as {value, append};
// both decode here. The CRD schema therefore leaves its shape open.
type AddedHeader struct {
	Value string `json:"value,omitempty"`
	// Append adds the header next to any of the same name; false replaces
	// them. Unset means true, as in Envoy.
	Append *bool `json:"append,omitempty"`
	// +kubebuilder:validation:Enum={"","string","null"}
	V2Representation string `json:"v2Representation,omitempty"`
}

// UnmarshalJSON accepts a string, null, or an object.
func (h *AddedHeader) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*h = AddedHeader{V2Representation: "null"}
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("added header: %w", err)
		}
		*h = AddedHeader{Value: s, V2Representation: "string"}
		return nil
	}
	type plain AddedHeader // without this method, to avoid recursion
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("added header: want a string or {value, append}: %w", err)
	}
	*h = AddedHeader(p)
	return nil
}

// MarshalJSON writes the form the header was read in.
func (h AddedHeader) MarshalJSON() ([]byte, error) {
	switch {
	case h.V2Representation == "string" && h.Append == nil:
		return json.Marshal(h.Value)
	case h.V2Representation == "null" && h.Value == "" && h.Append == nil:
		return []byte("null"), nil
	}
	type plain AddedHeader
	return json.Marshal(plain(h))
}

// RegexMap is a regular expression and what its matches are replaced with.
type RegexMap struct {
	Pattern      string `json:"pattern,omitempty"`
	Substitution string `json:"substitution,omitempty"`
}

// DocsInfo tells the diagnostics and developer portal where a service's
// documentation is.
type DocsInfo struct {
	Path        string `json:"path,omitempty"`
	URL         string `json:"url,omitempty"`
	Ignored     *bool  `json:"ignored,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	TimeoutMs   *int64 `json:"timeout_ms,omitempty"`
}

// KeepAlive is TCP keepalive on upstream connections.
type KeepAlive struct {
	Probes   *int `json:"probes,omitempty"`
	IdleTime *int `json:"idle_time,omitempty"`
	Interval *int `json:"interval,omitempty"`
}

// StringList is a list that Emissary lets one write either as a YAML list
// or as a single comma-separated string ("POST, GET"). A string decodes
// into a list of that one string; readers split it at commas.
type StringList []string

// UnmarshalJSON accepts a string, null, or a list of strings.
func (l *StringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*l = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("string list: %w", err)
		}
		*l = StringList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = list
	return nil
}

// CORS is a cross-origin resource sharing policy. Its lists may each be
// a YAML list or one comma-separated string, hence their open schema.
type CORS struct {
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Origins StringList `json:"origins,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Methods StringList `json:"methods,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Headers     StringList `json:"headers,omitempty"`
	Credentials *bool      `json:"credentials,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	ExposedHeaders StringList `json:"exposed_headers,omitempty"`
	MaxAge         string     `json:"max_age,omitempty"`

	V2CommaSeparatedOrigins bool `json:"v2CommaSeparatedOrigins,omitempty"`
}

// RetryPolicy says when and how often a request is retried.
type RetryPolicy struct {
	// +kubebuilder:validation:Enum={"5xx","gateway-error","connect-failure","retriable-4xx","refused-stream","retriable-status-codes"}
	RetryOn       string `json:"retry_on,omitempty"`
	NumRetries    *int   `json:"num_retries,omitempty"`
	PerTryTimeout string `json:"per_try_timeout,omitempty"`
}

// LoadBalancer picks the upstream endpoint for each request.
type LoadBalancer struct {
	// +kubebuilder:validation:Enum={"round_robin","ring_hash","maglev","least_request"}
	// +kubebuilder:validation:Required
	Policy   string              `json:"policy,omitempty"`
	Cookie   *LoadBalancerCookie `json:"cookie,omitempty"`
	Header   string              `json:"header,omitempty"`
	SourceIP *bool               `json:"source_ip,omitempty"`
}

// LoadBalancerCookie is the cookie sticky sessions hash on.
type LoadBalancerCookie struct {
	// +kubebuilder:validation:Required
	Name string `json:"name,omitempty"`
	Path string `json:"path,omitempty"`
	TTL  string `json:"ttl,omitempty"`
}

// CircuitBreaker limits the load sent to an upstream.
type CircuitBreaker struct {
	// +kubebuilder:validation:Enum={"default","high"}
	Priority           string `json:"priority,omitempty"`
	MaxConnections     *int   `json:"max_connections,omitempty"`
	MaxPendingRequests *int   `json:"max_pending_requests,omitempty"`
	MaxRequests        *int   `json:"max_requests,omitempty"`
	MaxRetries         *int   `json:"max_retries,omitempty"`
}

// ErrorResponseTextFormatSource names a file holding a response body.
type ErrorResponseTextFormatSource struct {
	Filename string `json:"filename"`
}

// ErrorResponseOverrideBody is the body that replaces an error response.
type ErrorResponseOverrideBody struct {
	TextFormat       *string                        `json:"text_format,omitempty"`
	JSONFormat       map[string]string              `json:"json_format,omitempty"`
	TextFormatSource *ErrorResponseTextFormatSource `json:"text_format_source,omitempty"`
	ContentType      string                         `json:"content_type,omitempty"`
}

// ErrorResponseOverride replaces the body of responses with one status.
type ErrorResponseOverride struct {
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=400
	// +kubebuilder:validation:Maximum=599
	OnStatusCode int `json:"on_status_code,omitempty"`
	// +kubebuilder:validation:Required
	Body ErrorResponseOverrideBody `json:"body,omitempty"`
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	Min int `json:"min,omitempty"`
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	Max int `json:"max,omitempty"`
}

// HealthCheck is an active health check of a Mapping's upstream.
type HealthCheck struct {
	Timeout            *metav1.Duration `json:"timeout,omitempty"`
	Interval           *metav1.Duration `json:"interval,omitempty"`
	UnhealthyThreshold *int             `json:"unhealthy_threshold,omitempty"`
	HealthyThreshold   *int             `json:"healthy_threshold,omitempty"`
	// +kubebuilder:validation:Required
	HealthCheckLocation HealthCheckLocation `json:"health_check,omitempty"`
}

// HealthCheckLocation is where a health check request goes: HTTP or gRPC.
type HealthCheckLocation struct {
	HTTP *HTTPHealthCheck `json:"http,omitempty"`
	GRPC *GRPCHealthCheck `json:"grpc,omitempty"`
}

// HTTPHealthCheck is an HTTP health check request.
type HTTPHealthCheck struct {
	// +kubebuilder:validation:Required
	Path     string `json:"path,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	AddRequestHeaders    map[string]AddedHeader `json:"add_request_headers,omitempty"`
	RemoveRequestHeaders []string               `json:"remove_request_headers,omitempty"`
	ExpectedStatuses     []StatusRange          `json:"expected_statuses,omitempty"`
}

// GRPCHealthCheck is a gRPC health check request.
type GRPCHealthCheck struct {
	// +kubebuilder:validation:Required
	UpstreamName string `json:"upstream_name,omitempty"`
	Authority    string `json:"authority,omitempty"`
}

// V2ExplicitTLS records how a resource converted from getambassador.io/v2
// spelled its TLS settings.
type V2ExplicitTLS struct {
	// +kubebuilder:validation:Enum={"","null","bool:true","bool:false","string"}
	TLS string `json:"tls,omitempty"`
	// +kubebuilder:validation:Pattern="^([hH][tT][tT][pP][sS]?://)?$"
	ServiceScheme *string `json:"serviceScheme,omitempty"`
}
