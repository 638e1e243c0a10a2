package xds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
)

// jsonToYAML renders JSON as the YAML that sigs.k8s.io/yaml's JSONToYAML
// gives, byte for byte (TestJSONToYAMLMatchesLibrary), several times
// faster: `legate translate` spent most of its time there at 10k routes.
// That function parses the JSON with the YAML parser (to type numbers)
// and re-encodes the tree with the YAML encoder's event machinery. Here
// encoding/json reads the JSON, numbers are typed by the YAML parser's
// rules (yamlNumber), and yamlWriter writes the tree as that encoder
// would. Documents holding what yamlWriter does not handle (non-ASCII or
// control characters, long or multi-line keys) go through the YAML
// encoder itself, which then gets the same values.
func jsonToYAML(j []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("reading JSON: %w", err)
	}
	v = yamlValues(v)
	w := yamlWriter{indent: -1, whitespace: true, indention: true, buf: make([]byte, 0, len(j)+len(j)/2)}
	if w.document(v) {
		return w.buf, nil
	}
	return yamlv2.Marshal(v)
}

// yamlValues replaces, in place, every json.Number of v with the value
// the YAML parser would have made of it.
func yamlValues(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlValues(e)
		}
	case []any:
		for i, e := range x {
			x[i] = yamlValues(e)
		}
	case json.Number:
		return yamlNumber(string(x))
	}
	return v
}

// yamlNumber types a JSON number as the YAML parser resolves a plain
// scalar: an int when it fits, else an unsigned 64-bit integer, else a
// float64, and a string past float64's range. (JSON's number grammar is
// within YAML's float pattern, and has no leading zeros or other bases, so
// base-10 parsing is the parser's.)
func yamlNumber(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return int(i)
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	// Out of float64's range: the parser keeps it as a string.
	return s
}

// yamlWriter writes a tree of JSON values in the block style of the YAML
// encoder: two-space indentation, sequences in mappings not indented,
// keys in its natural order, empty collections as {} and [], lines of
// plain and quoted scalars folded at spaces past column 80, strings
// quoted only where a plain scalar would read back as something else.
// Its state is the encoder's (column, indentation stack, whether the last
// thing written was whitespace or indentation), so that the same choices
// fall out in the same places.
type yamlWriter struct {
	buf        []byte
	column     int
	indent     int
	indents    []int
	whitespace bool
	indention  bool
}

// yamlWidth is the encoder's preferred line width.
const yamlWidth = 80

// yamlContext is where a node is written.
type yamlContext struct {
	mapping   bool // a mapping's value (or key)
	simpleKey bool // a mapping's key
}

// document writes v as one document; false means v holds something
// yamlWriter leaves to the encoder.
func (w *yamlWriter) document(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
	default:
		return false
	}
	if !w.node(v, yamlContext{}) {
		return false
	}
	w.writeIndent()
	return true
}

func (w *yamlWriter) node(v any, ctx yamlContext) bool {
	switch x := v.(type) {
	case map[string]any:
		return w.mapping(x)
	case []any:
		return w.sequence(x, ctx)
	case string:
		return w.str(x, ctx)
	case nil:
		w.scalar("null", ctx)
	case bool:
		w.scalar(strconv.FormatBool(x), ctx)
	case int:
		w.scalar(strconv.Itoa(x), ctx)
	case uint64:
		w.scalar(strconv.FormatUint(x, 10), ctx)
	case float64:
		w.scalar(yamlFloat(x), ctx)
	default:
		return false
	}
	return true
}

func (w *yamlWriter) mapping(m map[string]any) bool {
	if len(m) == 0 {
		w.indicator("{}", true, false, false)
		return true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if len(k) > 128 || !yamlSafe(k) || strings.Contains(k, "\n") {
			return false // a complex key ("? ...")
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, yamlKeyCompare)
	w.pushIndent(false, false)
	for _, k := range keys {
		w.writeIndent()
		if !w.str(k, yamlContext{mapping: true, simpleKey: true}) {
			return false
		}
		w.indicator(":", false, false, false)
		if !w.node(m[k], yamlContext{mapping: true}) {
			return false
		}
	}
	w.popIndent()
	return true
}

func (w *yamlWriter) sequence(s []any, ctx yamlContext) bool {
	if len(s) == 0 {
		w.indicator("[]", true, false, false)
		return true
	}
	w.pushIndent(false, ctx.mapping && !w.indention)
	for _, e := range s {
		w.writeIndent()
		w.indicator("-", true, false, true)
		if !w.node(e, yamlContext{}) {
			return false
		}
	}
	w.popIndent()
	return true
}

// scalar writes a number, boolean or null: always plain.
func (w *yamlWriter) scalar(s string, ctx yamlContext) {
	w.pushIndent(true, false)
	w.plain(s, !ctx.simpleKey)
	w.popIndent()
}

// str writes a string in the style the encoder picks: literal when it
// has line breaks, plain when that reads back as the same string, double
// quoted otherwise; then the emitter's checks of the content may turn
// plain into single quoted, and either into double quoted.
func (w *yamlWriter) str(s string, ctx yamlContext) bool {
	if !yamlSafe(s) {
		return false
	}
	a := analyzeScalar(s)
	style := byte('"')
	switch {
	case strings.Contains(s, "\n"):
		style = '|'
	case plainReadsAsString(s):
		style = 'p'
	}
	if ctx.simpleKey && a.multiline {
		style = '"'
	}
	if style == 'p' && (!a.blockPlain || len(s) == 0 && ctx.simpleKey) {
		style = '\''
	}
	if style == '\'' && !a.singleQuoted {
		style = '"'
	}
	if style == '|' && (!a.block || ctx.simpleKey) {
		style = '"'
	}
	w.pushIndent(true, false)
	breaks := !ctx.simpleKey
	switch style {
	case 'p':
		w.plain(s, breaks)
	case '\'':
		w.singleQuoted(s, breaks)
	case '"':
		w.doubleQuoted(s, breaks)
	case '|':
		w.literal(s)
	}
	w.popIndent()
	return true
}

// yamlSafe reports whether yamlWriter handles s: printable ASCII and line
// feeds only.
func yamlSafe(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < 0x20 && c != '\n') || c > 0x7e {
			return false
		}
	}
	return true
}

func (w *yamlWriter) pushIndent(flow, indentless bool) {
	w.indents = append(w.indents, w.indent)
	switch {
	case w.indent < 0 && flow:
		w.indent = 2
	case w.indent < 0:
		w.indent = 0
	case !indentless:
		w.indent += 2
	}
}

func (w *yamlWriter) popIndent() {
	w.indent = w.indents[len(w.indents)-1]
	w.indents = w.indents[:len(w.indents)-1]
}

func (w *yamlWriter) put(c byte) {
	w.buf = append(w.buf, c)
	w.column++
}

func (w *yamlWriter) newline() {
	w.buf = append(w.buf, '\n')
	w.column = 0
}

// writeIndent starts a new line unless the current one holds only
// indentation up to the indent, and indents.
func (w *yamlWriter) writeIndent() {
	indent := max(w.indent, 0)
	if !w.indention || w.column > indent || (w.column == indent && !w.whitespace) {
		w.newline()
	}
	for w.column < indent {
		w.put(' ')
	}
	w.whitespace = true
	w.indention = true
}

func (w *yamlWriter) indicator(s string, needSpace, isWhitespace, isIndention bool) {
	if needSpace && !w.whitespace {
		w.put(' ')
	}
	for i := range len(s) {
		w.put(s[i])
	}
	w.whitespace = isWhitespace
	w.indention = w.indention && isIndention
}

func (w *yamlWriter) plain(s string, breaks bool) {
	if !w.whitespace {
		w.put(' ')
	}
	spaces := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if breaks && !spaces && w.column > yamlWidth && i+1 < len(s) && s[i+1] != ' ' {
				w.writeIndent()
			} else {
				w.put(' ')
			}
			spaces = true
			continue
		}
		w.put(s[i])
		w.indention = false
		spaces = false
	}
	w.whitespace = false
	w.indention = false
}

func (w *yamlWriter) singleQuoted(s string, breaks bool) {
	w.indicator("'", true, false, false)
	spaces := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if breaks && !spaces && w.column > yamlWidth && i > 0 && i < len(s)-1 && s[i+1] != ' ' {
				w.writeIndent()
			} else {
				w.put(' ')
			}
			spaces = true
			continue
		}
		// Single-quoted strings never hold line breaks (analyzeScalar).
		if s[i] == '\'' {
			w.put('\'')
		}
		w.put(s[i])
		w.indention = false
		spaces = false
	}
	w.indicator("'", false, false, false)
	w.whitespace = false
	w.indention = false
}

func (w *yamlWriter) doubleQuoted(s string, breaks bool) {
	w.indicator(`"`, true, false, false)
	spaces := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			w.put('\\')
			w.put('n')
			spaces = false
		case c == '"' || c == '\\':
			w.put('\\')
			w.put(c)
			spaces = false
		case c == ' ':
			if breaks && !spaces && w.column > yamlWidth && i > 0 && i < len(s)-1 {
				w.writeIndent()
				if s[i+1] == ' ' {
					w.put('\\')
				}
			} else {
				w.put(' ')
			}
			spaces = true
		default:
			w.put(c)
			spaces = false
		}
	}
	w.indicator(`"`, false, false, false)
	w.whitespace = false
	w.indention = false
}

func (w *yamlWriter) literal(s string) {
	w.indicator("|", true, false, false)
	if s[0] == ' ' || s[0] == '\n' {
		w.indicator("2", false, false, false)
	}
	switch n := len(s); {
	case s[n-1] != '\n':
		w.indicator("-", false, false, false)
	case n == 1 || s[n-2] == '\n':
		w.indicator("+", false, false, false)
	}
	w.newline()
	w.indention = true
	w.whitespace = true
	breaks := true
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			w.newline()
			w.indention = true
			breaks = true
			continue
		}
		if breaks {
			w.writeIndent()
		}
		w.put(s[i])
		w.indention = false
		breaks = false
	}
}

// scalarAnalysis is what the emitter learns of a scalar's content: which
// styles can carry it.
type scalarAnalysis struct {
	multiline, blockPlain, singleQuoted, block bool
}

// analyzeScalar examines an ASCII string (see yamlSafe) as the emitter
// does for block context.
func analyzeScalar(s string) scalarAnalysis {
	if s == "" {
		return scalarAnalysis{blockPlain: true, singleQuoted: true}
	}
	var indicators, lineBreaks, leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		indicators = true
	}
	precededByWhitespace := true
	previousSpace, previousBreak := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		followedByWhitespace := i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == '\t'
		if i == 0 {
			switch c {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				indicators = true
			case '?', ':', '-':
				if followedByWhitespace {
					indicators = true
				}
			}
		} else {
			switch c {
			case ':':
				if followedByWhitespace {
					indicators = true
				}
			case '#':
				if precededByWhitespace {
					indicators = true
				}
			}
		}
		switch c {
		case ' ':
			leadingSpace = leadingSpace || i == 0
			trailingSpace = trailingSpace || i == len(s)-1
			breakSpace = breakSpace || previousBreak
			previousSpace, previousBreak = true, false
		case '\n':
			lineBreaks = true
			leadingBreak = leadingBreak || i == 0
			trailingBreak = trailingBreak || i == len(s)-1
			spaceBreak = spaceBreak || previousSpace
			previousSpace, previousBreak = false, true
		default:
			previousSpace, previousBreak = false, false
		}
		precededByWhitespace = c == ' ' || c == '\t' || c == '\n'
	}
	a := scalarAnalysis{multiline: lineBreaks, blockPlain: true, singleQuoted: true, block: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak || lineBreaks || indicators {
		a.blockPlain = false
	}
	if trailingSpace {
		a.block = false
	}
	if breakSpace {
		a.blockPlain, a.singleQuoted = false, false
	}
	if spaceBreak {
		a.blockPlain, a.singleQuoted, a.block = false, false, false
	}
	return a
}

// yamlSpecial are the plain scalars that read back as booleans, null,
// infinities, NaN or the merge key.
var yamlSpecial = map[string]bool{}

func init() {
	for _, s := range strings.Fields("y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF " +
		"~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF <<") {
		yamlSpecial[s] = true
	}
}

var (
	yamlFloatPattern  = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	yamlBase60Pattern = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)
	yamlTimeLayouts   = []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00", "2006-1-2 15:4:5.999999999", "2006-1-2"}
)

// plainReadsAsString reports whether s, written plain, reads back as the
// string s under YAML 1.1 as the parser resolves plain scalars: not
// empty, not a boolean, null or special float, and, when it starts with a
// sign, a digit or a dot, not a number, timestamp or sexagesimal float.
func plainReadsAsString(s string) bool {
	if s == "" || yamlSpecial[s] {
		return false
	}
	switch c := s[0]; {
	case c == '.':
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		return !yamlNumeric(s) && !yamlBase60Pattern.MatchString(s)
	}
	return true
}

// yamlNumeric reports whether a plain scalar starting with a sign or a
// digit reads as a timestamp or a number.
func yamlNumeric(s string) bool {
	if len(s) > 4 && s[4] == '-' && strings.IndexFunc(s[:4], func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		for _, layout := range yamlTimeLayouts {
			if _, err := time.Parse(layout, s); err == nil {
				return true
			}
		}
	}
	plain := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return true
	}
	if yamlFloatPattern.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return true
		}
	}
	if rest, ok := strings.CutPrefix(plain, "0b"); ok {
		if _, err := strconv.ParseUint(rest, 2, 64); err == nil {
			return true
		}
		_, err := strconv.ParseInt(rest, 2, 64)
		return err == nil
	}
	if rest, ok := strings.CutPrefix(plain, "-0b"); ok {
		_, err := strconv.ParseInt("-"+rest, 2, 64)
		return err == nil
	}
	return false
}

// yamlFloat formats a float as the encoder does.
func yamlFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// yamlKeyCompare orders mapping keys as the encoder does: letters by code
// point, letters before other characters, and runs of digits by their
// numeric value (so "a2" before "a10"). Keys are ASCII here (yamlSafe).
func yamlKeyCompare(a, b string) int {
	if yamlKeyLess(a, b) {
		return -1
	}
	if yamlKeyLess(b, a) {
		return 1
	}
	return 0
}

func yamlKeyLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		al, bl := isASCIILetter(a[i]), isASCIILetter(b[i])
		if al && bl {
			return a[i] < b[i]
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if a[i] == '0' || b[i] == '0' {
			for j := i - 1; j >= 0 && isASCIIDigit(a[j]); j-- {
				if a[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(a) && isASCIIDigit(a[ai]); ai++ {
			an = an*10 + int64(a[ai]-'0')
		}
		for ; bi < len(b) && isASCIIDigit(b[bi]); bi++ {
			bn = bn*10 + int64(b[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isASCIIDigit(c byte) bool  { return c >= '0' && c <= '9' }
