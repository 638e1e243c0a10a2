// Package golden holds what the translators' golden tests share: reading
// multi-document YAML into typed objects, and comparing an output with its
// testdata/*.out.yaml file (or rewriting it with -update). It is imported
// by tests only.
package golden

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Decoder decodes the kinds addToScheme registers (a translator's
// AddToScheme).
func Decoder(addToScheme func(*runtime.Scheme) error) runtime.Decoder {
	s := runtime.NewScheme()
	if err := addToScheme(s); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}

// DecodeObjects reads multi-document YAML into objects. It returns the
// objects it could decode and the first error (fuzz tests keep going with
// what decoded; golden tests fail on the error).
func DecodeObjects(dec runtime.Decoder, data []byte) ([]client.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []client.Object
	var firstErr error
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(withoutComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err == nil {
			co, ok := obj.(client.Object)
			if ok {
				out = append(out, co)
				continue
			}
			err = fmt.Errorf("%T is not an object", obj)
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("document %d: %w", i, err)
		}
	}
	return out, firstErr
}

func withoutComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Check compares got with the file at path, or rewrites the file when
// update is set. A difference fails tb with the lines that differ.
func Check(tb testing.TB, path string, got []byte, update bool) {
	tb.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (run with -update to accept):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
		}
		if b.Len() > 4000 {
			b.WriteString("...\n")
			break
		}
	}
	return b.String()
}
