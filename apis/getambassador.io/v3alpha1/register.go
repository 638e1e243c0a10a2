package v3alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "getambassador.io", Version: "v3alpha1"}

var (
	// SchemeBuilder registers every kind of this package.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds every kind of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Mapping{}, &MappingList{},
		&Host{}, &HostList{},
		&Listener{}, &ListenerList{},
		&TLSContext{}, &TLSContextList{},
		&Module{}, &ModuleList{},
		&TCPMapping{}, &TCPMappingList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
