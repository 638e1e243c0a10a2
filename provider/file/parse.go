package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// document is one YAML document of a file and the line it starts on, so that
// every message can point at the line a person would open.
type document struct {
	line int
	data []byte
	// json marks a document of a .json file: parsed as JSON, since JSON
	// indented with tabs is not valid YAML.
	json bool
}

// splitDocuments cuts a multi-document YAML file at its "---" lines. The
// separator may carry a comment ("--- # next") or, rarely, content; content
// stays with the document that follows. "..." (end of document) lines are
// blanked rather than dropped so that the YAML parser's line numbers still
// count from the document's first line.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	// A document is most often a run of the file's own lines, and is then
	// that part of data, not a copy (a 1000-object file is read again on
	// every edit of it). One that is not (content on its separator line,
	// "..." lines) is gathered in buf.
	var buf bytes.Buffer
	gathered := false
	start := 0 // where cur's lines begin in data, unless gathered
	flush := func(end int) {
		if gathered {
			cur.data = bytes.Clone(buf.Bytes())
		} else {
			cur.data = data[start:end:end]
		}
		docs = append(docs, cur)
		buf.Reset()
		gathered = false
	}
	lineNo := 0
	for off := 0; off < len(data); {
		lineNo++
		lineStart := off
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			off += i + 1
		} else {
			off = len(data)
		}
		line := data[lineStart:off]
		trimmed := bytes.TrimRight(line, " \t\r\n")
		switch {
		case isSeparator(trimmed):
			flush(lineStart)
			rest := bytes.TrimSpace(trimmed[3:])
			if len(rest) > 0 && rest[0] != '#' {
				// Content on the separator line belongs to the next document.
				cur = document{line: lineNo}
				gathered = true
				buf.Write(rest)
				buf.WriteByte('\n')
			} else {
				cur = document{line: lineNo + 1}
				start = off
			}
		case string(trimmed) == "...":
			if !gathered {
				buf.Write(data[start:lineStart])
				gathered = true
			}
			buf.WriteByte('\n')
		case gathered:
			buf.Write(line)
		}
	}
	flush(len(data))
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t'
}

// lineRE finds the line numbers the YAML parser puts in its messages; they
// count from the start of the document, not of the file.
var lineRE = regexp.MustCompile(`\bline (\d+)`)

// rebaseLines rewrites the document-relative line numbers in a parser
// message into file line numbers. It returns the first such line (or
// fallback when the message names none) and the message without a leading
// "line N: ", since the caller prefixes file:line itself.
func rebaseLines(msg string, docStart, fallback int) (int, string) {
	first := 0
	msg = lineRE.ReplaceAllStringFunc(msg, func(m string) string {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if err != nil {
			return m
		}
		abs := docStart + n - 1
		if first == 0 {
			first = abs
		}
		return "line " + strconv.Itoa(abs)
	})
	if first == 0 {
		return fallback, msg
	}
	msg = strings.Replace(msg, "line "+strconv.Itoa(first)+": ", "", 1)
	return first, msg
}

// typeMeta is what is read of a document before deciding whether and how to
// decode it.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// parsedObject is one decoded object and where it was written.
type parsedObject struct {
	obj client.Object
	gk  schema.GroupKind
	// typ is the object's Go type, which Inputs sorts its other kinds by.
	typ  string
	file string
	line int
}

// parser decodes the documents of one file. It collects the file's errors;
// notes that do not fail the file (ignored kinds, unknown fields) go to the
// log.
type parser struct {
	p    *Provider
	file string
	objs []parsedObject
	errs []FileError
	// docs is the file's document cache (see fileState.docs), updated in
	// place: entries this parse used are marked with pass, the others
	// dropped at its end.
	docs map[[sha256.Size]byte]*cachedDoc
	pass uint64
}

// cachedDoc is the objects of one document, and the last parse of its file
// that had it.
type cachedDoc struct {
	objs  []parsedObject
	parse uint64
}

func (ps *parser) fail(line int, format string, args ...any) {
	ps.errs = append(ps.errs, FileError{File: ps.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// parseFile decodes every document of one file's bytes. Documents not in
// the cache of the file's last parse are decoded in parallel (decoding
// is most of the time of a first load: `legate translate` at 10k routes
// spent over 2 s in it on one core); their objects and errors are then
// taken in document order, as a sequential parse would give them.
func (p *Provider) parseFile(file string, data []byte, isJSON bool) ([]parsedObject, []FileError) {
	p.parses++
	ps := &parser{p: p, file: file, pass: p.parses}
	if st := p.files[file]; st != nil {
		if st.docs == nil {
			st.docs = map[[sha256.Size]byte]*cachedDoc{}
		}
		ps.docs = st.docs
		// Sized as the last parse's: an edit rarely adds many objects.
		ps.objs = make([]parsedObject, 0, len(st.objects))
	} else {
		ps.docs = map[[sha256.Size]byte]*cachedDoc{}
	}
	// Documents this parse did not have are forgotten, so that the cache
	// holds only the file's current ones.
	defer maps.DeleteFunc(ps.docs, func(_ [sha256.Size]byte, c *cachedDoc) bool { return c.parse != ps.pass })
	docs := []document{{line: 1, data: data, json: true}}
	if !isJSON {
		// A JSON file is one document; "---" means nothing to JSON.
		docs = splitDocuments(data)
	}
	keys := make([][sha256.Size]byte, len(docs))
	decoded := make([]*parser, len(docs))
	var todo []int
	for i, d := range docs {
		keys[i] = documentKey(d)
		if _, ok := ps.docs[keys[i]]; !ok {
			todo = append(todo, i)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(goruntime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for j := int(next.Add(1) - 1); j < len(todo); j = int(next.Add(1) - 1) {
				i := todo[j]
				sub := &parser{p: p, file: file}
				sub.document(docs[i])
				decoded[i] = sub
			}
		})
	}
	wg.Wait()
	for i, d := range docs {
		ps.take(d, keys[i], decoded[i])
	}
	return ps.objs, ps.errs
}

// documentKey is the cache key of a document: the hash of its bytes and
// of how they are read.
func documentKey(d document) [sha256.Size]byte {
	if !d.json {
		// Allocates nothing: a file of 1000 documents is keyed again on
		// every edit of one of them.
		return sha256.Sum256(d.data)
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(d.data)
	var key [sha256.Size]byte
	copy(key[:], h.Sum(nil))
	return key
}

// take adds the objects and errors of document d: those of sub, which
// decoded it, or, when sub is nil, the objects of the last parse's
// identical document. Only documents that decoded without an error are
// cached, so an error is reported on every parse until it is fixed.
func (ps *parser) take(d document, key [sha256.Size]byte, sub *parser) {
	if sub == nil {
		c := ps.docs[key]
		for _, o := range c.objs {
			o.file, o.line = ps.file, d.line+o.line
			ps.objs = append(ps.objs, o)
		}
		c.parse = ps.pass
		return
	}
	ps.objs = append(ps.objs, sub.objs...)
	ps.errs = append(ps.errs, sub.errs...)
	if len(sub.errs) > 0 {
		return
	}
	rel := make([]parsedObject, 0, len(sub.objs))
	for i, o := range sub.objs {
		// The document's hash is the object's version, as the API server's
		// resourceVersion would be: it changes whenever the object may
		// have, which is what lets the pipeline tell that nothing but
		// EndpointSlices changed. A version written in the file is not
		// trusted for that.
		o.obj.SetResourceVersion(fmt.Sprintf("%x.%d", key[:12], i))
		o.line -= d.line
		rel = append(rel, o)
	}
	ps.docs[key] = &cachedDoc{objs: rel, parse: ps.pass}
}

func (ps *parser) document(d document) {
	// The common case, a YAML document without syntax errors or repeated
	// keys, is parsed as YAML once: the JSON made of it is what the strict
	// decoder reads (given the YAML, the decoder would parse it three more
	// times: to JSON, then strictly again for repeated keys). Anything else
	// takes the slower path below, whose messages point at lines.
	if !d.json {
		if js, err := yaml.YAMLToJSONStrict(d.data); err == nil {
			ps.decoded(d, js, js)
			return
		}
	}
	js, ok := ps.toJSON(d)
	if !ok {
		return
	}
	// The document itself goes to the decoder (not the JSON made of it) so
	// that strict decoding can also notice keys written twice.
	ps.decoded(d, js, d.data)
}

// decoded handles a document once it is JSON: body is what the object
// decoder reads (js, or the document's YAML).
func (ps *parser) decoded(d document, js, body []byte) {
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		return // empty, or only comments
	}
	var tm typeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		ps.fail(d.line, "document is not a YAML mapping of an object (apiVersion, kind, metadata, ...)")
		return
	}
	gvk, ok := ps.gvk(tm, d.line)
	if !ok {
		return
	}
	if gvk.Group == "" && gvk.Kind == "List" {
		ps.list(d, js, gvk)
		return
	}
	ps.object(body, d.line, gvk)
}

// toJSON converts a document to JSON, reporting syntax errors at the line
// they are on.
func (ps *parser) toJSON(d document) ([]byte, bool) {
	if d.json {
		if t := bytes.TrimSpace(d.data); len(t) == 0 {
			return nil, true
		}
		var v any
		if err := json.Unmarshal(d.data, &v); err != nil {
			line := d.line
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = d.line + bytes.Count(d.data[:min(int(se.Offset), len(d.data))], []byte("\n"))
			}
			ps.fail(line, "json: %v", err)
			return nil, false
		}
		return d.data, true
	}
	js, err := yaml.YAMLToJSON(d.data)
	if err != nil {
		line, msg := rebaseLines(err.Error(), d.line, d.line)
		ps.fail(line, "%s", msg)
		return nil, false
	}
	return js, true
}

func (ps *parser) gvk(tm typeMeta, line int) (schema.GroupVersionKind, bool) {
	if tm.APIVersion == "" || tm.Kind == "" {
		ps.fail(line, "object has no apiVersion or no kind")
		return schema.GroupVersionKind{}, false
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		ps.fail(line, "apiVersion %q: %v", tm.APIVersion, err)
		return schema.GroupVersionKind{}, false
	}
	return gv.WithKind(tm.Kind), true
}

// list expands a v1 List into its items. Each item is reported at its own
// line, found by parsing the document once more for positions.
func (ps *parser) list(d document, js []byte, gvk schema.GroupVersionKind) {
	if gvk.Version != "v1" {
		ps.fail(d.line, "apiVersion %s of List is not supported; use v1", gvk.GroupVersion())
		return
	}
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &l); err != nil {
		ps.fail(d.line, "List items: %v", err)
		return
	}
	lines := itemLines(d)
	for i, raw := range l.Items {
		line := d.line
		if i < len(lines) {
			line = lines[i]
		}
		var tm typeMeta
		if err := json.Unmarshal(raw, &tm); err != nil {
			ps.fail(line, "List item %d is not an object", i)
			continue
		}
		igvk, ok := ps.gvk(tm, line)
		if !ok {
			continue
		}
		if igvk.Group == "" && igvk.Kind == "List" {
			ps.fail(line, "a List inside a List is not supported")
			continue
		}
		ps.object(raw, line, igvk)
	}
}

// itemLines returns the file line of each element of a List's items, or nil
// when they cannot be found (the caller then uses the document's line).
func itemLines(d document) []int {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(d.data, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "items" || m.Content[i+1].Kind != yamlv3.SequenceNode {
			continue
		}
		var out []int
		for _, it := range m.Content[i+1].Content {
			out = append(out, d.line+it.Line-1)
		}
		return out
	}
	return nil
}

// object decodes one object of a kind the registry may read.
func (ps *parser) object(data []byte, line int, gvk schema.GroupVersionKind) {
	p := ps.p
	if !p.groupKinds[gvk.GroupKind()] {
		p.log.Info("ignoring object of a kind no translator reads",
			"at", location(ps.file, line), "apiVersion", gvk.GroupVersion().String(), "kind", gvk.Kind)
		return
	}
	if !slices.Contains(p.versions[gvk.GroupKind()], gvk) {
		// The scheme may know more versions than the translators read (no
		// conversion happens here), so only the versions of the registry's
		// Go types are accepted.
		var want []string
		for _, v := range p.versions[gvk.GroupKind()] {
			want = append(want, v.GroupVersion().String())
		}
		ps.fail(line, "%s %s is not supported; use apiVersion %s", gvk.GroupVersion(), gvk.Kind, strings.Join(want, " or "))
		return
	}
	obj, _, err := p.decoder.Decode(data, nil, nil)
	if err != nil {
		if !runtime.IsStrictDecodingError(err) || obj == nil {
			_, msg := rebaseLines(err.Error(), line, line)
			ps.fail(line, "decoding %s: %s", gvk.Kind, msg)
			return
		}
		// Unknown or repeated fields: like kubectl's default, warn and keep
		// the object, whose known fields decoded fine.
		_, msg := rebaseLines(err.Error(), line, line)
		p.log.Warn("object has fields Legate does not know; they are ignored",
			"at", location(ps.file, line), "kind", gvk.Kind, "problem", msg)
	}
	cobj, ok := obj.(client.Object)
	if !ok {
		ps.fail(line, "%s decoded to %T, which is not a Kubernetes object", gvk.Kind, obj)
		return
	}
	if cobj.GetName() == "" {
		ps.fail(line, "%s has no metadata.name", gvk.Kind)
		return
	}
	if clusterScoped[gvk.GroupKind()] {
		// As the API server does, a namespace on a cluster-scoped object
		// is ignored; keeping it would only make lookups miss.
		cobj.SetNamespace("")
	} else if cobj.GetNamespace() == "" {
		cobj.SetNamespace("default")
	}
	if cobj.GetGeneration() == 0 {
		// Status is reported against a generation; objects from files have
		// no API server to count them, so each starts at the first.
		cobj.SetGeneration(1)
	}
	p.strings.Object(cobj)
	ps.objs = append(ps.objs, parsedObject{obj: cobj, gk: gvk.GroupKind(), typ: reflect.TypeOf(cobj).String(), file: ps.file, line: line})
}

// clusterScoped lists the cluster-scoped kinds a translator may read; every
// other kind is namespaced. A scheme does not know scopes (only an API
// server's discovery does), and a folder of files has no API server.
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                                  true,
	{Group: "", Kind: "Node"}:                                                       true,
	{Group: "", Kind: "PersistentVolume"}:                                           true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                              true,
	{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}:                      true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                       true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:               true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                 true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   true,
}

func location(file string, line int) string {
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line)
}
