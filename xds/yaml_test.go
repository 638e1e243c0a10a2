package xds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// TestJSONToYAMLMatchesLibrary checks that jsonToYAML writes what
// sigs.k8s.io/yaml's JSONToYAML writes, on the Envoy resources of every
// build golden case and on JSON made to hit the number and string rules.
func TestJSONToYAMLMatchesLibrary(t *testing.T) {
	var docs [][]byte
	for _, name := range goldenCases(t) {
		res, err := Build(loadCase(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range append(asMessages(res.Listeners), append(asMessages(decodedAll(res.Routes)), append(asMessages(decodedAll(res.Clusters)), append(asMessages(decodedAll(res.Endpoints)), asMessages(res.Secrets)...)...)...)...) {
			j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, j)
		}
	}
	goldenDocs := len(docs)
	if len(docs) < 100 {
		t.Fatalf("only %d resources from the build cases; the comparison would prove little", len(docs))
	}
	scalars := []string{
		`0`, `-0`, `1`, `-1`, `0.5`, `1.0`, `1e+06`, `1E-7`, `-2.5e10`, `9223372036854775807`, `9223372036854775808`,
		`18446744073709551615`, `18446744073709551616`, `1e400`, `-1e400`, `123456789.123456789`, `true`, `false`, `null`,
		`""`, `" "`, `"a b"`, `"yes"`, `"no"`, `"on"`, `"off"`, `"~"`, `"null"`, `"true"`, `"1"`, `"0x1F"`, `"1e3"`, `"0o17"`,
		`"1:20"`, `"- a"`, `"a: b"`, `"a #b"`, `"#"`, `"&a"`, `"*a"`, `"!a"`, `"|"`, `">"`, `"%"`, `"@"`, `"` + "`" + `"`,
		`"a\nb"`, `"a\n"`, `"\ta"`, `"a\u0000b"`, `"\u00e9t\u00e9"`, `"\u2028"`, `"[a]"`, `"{a}"`, `"a,b"`, `"'q'"`, `"\"q\""`,
		`"^/foo/(.*)$"`, `"` + strings.Repeat("long words ", 12) + `"`, `"` + strings.Repeat("x", 120) + `"`, `"=="`,
		`"2001:db8::1"`, `"10.0.0.1:80"`, `"*.example.com"`, `"/a/b?c=d&e"`, `[]`, `{}`, `[[]]`, `[{}]`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		scalars = append(scalars, randomString(r))
	}
	for range 3000 {
		docs = append(docs, []byte(randomJSON(r, scalars, 4)))
	}
	for _, s := range scalars {
		docs = append(docs, []byte(`{"k":`+s+`}`), []byte(`[`+s+`]`))
	}
	fallbacks := 0
	for i, j := range docs {
		want, werr := yaml.JSONToYAML(j)
		got, gerr := jsonToYAML(j)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%s: library error %v, ours %v", j, werr, gerr)
		}
		if string(got) != string(want) {
			t.Fatalf("%s:\nlibrary:\n%s\nours:\n%s", j, want, got)
		}
		if werr == nil && !handled(t, j) {
			if i < goldenDocs {
				t.Fatalf("the writer left a resource of the golden cases to the encoder: %s", j)
			}
			fallbacks++
		}
	}
	// The writer itself must have been compared, not only its fallback.
	if fallbacks > len(docs)/2 {
		t.Fatalf("%d of %d documents went to the encoder", fallbacks, len(docs))
	}
	t.Logf("%d documents, %d of them through the encoder", len(docs), fallbacks)
}

// handled reports whether yamlWriter wrote j itself.
func handled(t *testing.T, j []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	w := yamlWriter{indent: -1, whitespace: true, indention: true}
	return w.document(yamlValues(v))
}

// randomString is a JSON string of printable ASCII heavy in what YAML
// treats specially (indicators, quotes, spaces, line feeds), sometimes
// long enough to be folded, sometimes with a non-ASCII or control
// character (left to the encoder).
func randomString(r *rand.Rand) string {
	const alphabet = "ab0129 -:#'\"\\,[]{}?&*!|>%@`.~\n_/=+eE"
	n := r.IntN(12)
	if r.IntN(4) == 0 {
		n = 60 + r.IntN(140)
	}
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	s := b.String()
	if r.IntN(80) == 0 {
		s += "\t\u00e9"
	}
	q, _ := json.Marshal(s)
	return string(q)
}

func randomJSON(r *rand.Rand, scalars []string, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		return scalars[r.IntN(len(scalars))]
	}
	n := r.IntN(4)
	parts := make([]string, n)
	if r.IntN(2) == 0 {
		for i := range parts {
			parts[i] = randomJSON(r, scalars, depth-1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	keys := []string{"a", "b", "a1", "a10", "a2", "A", "_x", "x_y", "x-y", "1", "10", "2", "é", "b2b", "b10b"}
	for i := range parts {
		parts[i] = fmt.Sprintf("%q:%s", keys[r.IntN(len(keys))]+fmt.Sprint(i), randomJSON(r, scalars, depth-1))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
