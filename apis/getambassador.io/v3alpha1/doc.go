// Package v3alpha1 holds the Go types of Emissary-ingress's
// getambassador.io/v3alpha1 resources that Legate reads: Mapping, Host,
// Listener, TLSContext, Module and TCPMapping.
//
// Field names (snake_case where Emissary spells them so), optionality and
// the enumerations of the OpenAPI schema follow Emissary's v3alpha1 CRDs, so
// that existing resources decode unchanged. The CRD YAML in the chart is
// generated from these types (hack/generate.sh), as is the deepcopy code.
//
// Where Legate's schema is looser than Emissary's it says so on the field:
// add_request_headers / add_response_headers accept both the string and the
// {value, append} forms that Emissary's documentation shows.
//
// +kubebuilder:object:generate=true
// +groupName=getambassador.io
package v3alpha1
