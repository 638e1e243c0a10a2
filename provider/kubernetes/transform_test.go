package kubernetes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The informers' transform drops managed fields and the last-applied
// annotation (often larger than the object itself) and keeps every other
// annotation, which translators read.
func TestStripBulkKeepsWhatTranslatorsRead(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "default",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"v1","kind":"Service"}`,
			"getambassador.io/config":          "x",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
	}}
	out, err := stripBulk(svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if len(got.ManagedFields) != 0 {
		t.Errorf("managed fields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied annotation kept")
	}
	if got.Annotations["getambassador.io/config"] != "x" || got.Name != "web" {
		t.Errorf("stripped too much: %+v", got.ObjectMeta)
	}
	// Something that is not an object passes through untouched.
	if v, err := stripBulk("tombstone"); err != nil || v != "tombstone" {
		t.Errorf("stripBulk(string) = %v, %v", v, err)
	}
}
