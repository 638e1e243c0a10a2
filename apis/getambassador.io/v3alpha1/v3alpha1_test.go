package v3alpha1_test

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"sigs.k8s.io/yaml"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
)

// TestGeneratedFilesUpToDate regenerates the deepcopy code and the CRDs into
// a temporary folder and fails if they differ from the checked-in files
// (hack/generate.sh --check runs controller-gen, about a second once built).
func TestGeneratedFilesUpToDate(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	cmd := exec.Command("bash", filepath.Join(root, "hack", "generate.sh"), "--check")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generated files are stale or generation failed (run hack/generate.sh): %v\n%s", err, out)
	}
}

func TestAmbassadorIDMatches(t *testing.T) {
	tests := []struct {
		id   v3.AmbassadorID
		inst string
		want bool
	}{
		{nil, "default", true},
		{nil, "blue", false},
		{v3.AmbassadorID{"blue"}, "blue", true},
		{v3.AmbassadorID{"blue"}, "default", false},
		{v3.AmbassadorID{"green", "blue"}, "blue", true},
		{v3.AmbassadorID{"_automatic_"}, "blue", true},
		{v3.AmbassadorID{"default"}, "default", true},
	}
	for _, tc := range tests {
		if got := tc.id.Matches(tc.inst); got != tc.want {
			t.Errorf("%v.Matches(%q) = %v, want %v", tc.id, tc.inst, got, tc.want)
		}
	}
}

func TestAddedHeaderForms(t *testing.T) {
	const doc = `
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: m, namespace: default}
spec:
  prefix: /
  service: quote
  add_request_headers:
    x-plain: This is a test header
    x-object: {value: v, append: false}
    x-empty: null
`
	var m v3.Mapping
	if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	f := false
	want := map[string]v3.AddedHeader{
		"x-plain":  {Value: "This is a test header", V2Representation: "string"},
		"x-object": {Value: "v", Append: &f},
		"x-empty":  {V2Representation: "null"},
	}
	if !reflect.DeepEqual(m.Spec.AddRequestHeaders, want) {
		t.Fatalf("add_request_headers = %+v, want %+v", m.Spec.AddRequestHeaders, want)
	}
	// Each form is written back the way it was read.
	out, err := yaml.Marshal(m.Spec.AddRequestHeaders)
	if err != nil {
		t.Fatal(err)
	}
	const wantOut = "x-empty: null\nx-object:\n  append: false\n  value: v\nx-plain: This is a test header\n"
	if string(out) != wantOut {
		t.Errorf("marshalled:\n%s\nwant:\n%s", out, wantOut)
	}
	var bad v3.Mapping
	if err := yaml.Unmarshal([]byte("spec: {add_request_headers: {x: [1]}}"), &bad); err == nil {
		t.Error("a list as header value decoded without error")
	}
}

func TestDeepCopyIsIndependent(t *testing.T) {
	w := 10
	m := &v3.Mapping{Spec: v3.MappingSpec{
		Prefix: "/", Service: "a", Weight: &w,
		Headers:           map[string]string{"x": "1"},
		AddRequestHeaders: map[string]v3.AddedHeader{"h": {Value: "v"}},
		AmbassadorID:      v3.AmbassadorID{"blue"},
	}}
	c := m.DeepCopy()
	*c.Spec.Weight = 20
	c.Spec.Headers["x"] = "2"
	c.Spec.AddRequestHeaders["h"] = v3.AddedHeader{Value: "w"}
	c.Spec.AmbassadorID[0] = "green"
	if *m.Spec.Weight != 10 || m.Spec.Headers["x"] != "1" || m.Spec.AddRequestHeaders["h"].Value != "v" || m.Spec.AmbassadorID[0] != "blue" {
		t.Errorf("changing the copy changed the original: %+v", m.Spec)
	}
}

// TestStringListForms reads CORS lists in both of Emissary's forms: a YAML
// list, and one comma-separated string (kept whole; readers split it).
func TestStringListForms(t *testing.T) {
	var c v3.CORS
	if err := yaml.Unmarshal([]byte("origins: http://a.example,http://b.example\nmethods: [GET, POST]\nheaders: null\n"), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Origins, v3.StringList{"http://a.example,http://b.example"}) {
		t.Errorf("origins = %q", c.Origins)
	}
	if !reflect.DeepEqual(c.Methods, v3.StringList{"GET", "POST"}) {
		t.Errorf("methods = %q", c.Methods)
	}
	if c.Headers != nil {
		t.Errorf("headers = %q, want none", c.Headers)
	}
	if err := yaml.Unmarshal([]byte("origins: {a: b}\n"), &c); err == nil {
		t.Errorf("an object decoded as a string list")
	}
}
