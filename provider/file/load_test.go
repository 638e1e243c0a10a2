package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/legateproxy/legate/translators"
)

func TestLoadPathsFilesAndFolders(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "more")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc := func(name string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec: {ports: [{port: 80}]}\n"
	}
	write(filepath.Join(dir, "a.yaml"), svc("a"))
	write(filepath.Join(dir, "skipped.yaml"), svc("skipped"))
	write(filepath.Join(sub, "b.yaml"), svc("b")+"---\n"+svc("c"))

	in, err := LoadPaths(translators.NewRegistry(testTranslator{}), Options{}, filepath.Join(dir, "a.yaml"), sub)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range in.Services {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	if got := strings.Join(names, ","); got != "default/a,default/b,default/c" {
		t.Fatalf("services = %s", got)
	}

	write(filepath.Join(dir, "bad.yaml"), svc("d")+"---\nkind: [\n")
	_, err = LoadPaths(translators.NewRegistry(testTranslator{}), Options{}, filepath.Join(dir, "bad.yaml"))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:6") {
		t.Fatalf("want an error naming bad.yaml:6, got %v", err)
	}
}

// TestUnchangedDocumentsAreNotDecodedAgain checks the per-document cache:
// after an edit to one document of a file, the other documents' objects
// are the very ones decoded before, at their (possibly moved) lines.
func TestUnchangedDocumentsAreNotDecodedAgain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.yaml")
	svc := func(name string, port int) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{port: %d}]}\n", name, port)
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := newProvider(t, dir, Options{})
	write(svc("a", 80) + "---\n" + svc("b", 80) + "---\n" + svc("c", 80))
	if _, err := p.Load(); err != nil {
		t.Fatal(err)
	}
	before := p.files[path].objects
	// Change b and make it two lines longer: c moves down by two.
	write(svc("a", 80) + "---\n# one\n# two\n" + svc("b", 81) + "---\n" + svc("c", 80))
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	after := p.files[path].objects
	if len(after) != 3 || after[0].obj != before[0].obj || after[2].obj != before[2].obj {
		t.Fatal("unchanged documents were decoded again")
	}
	if after[1].obj == before[1].obj || in.Services[1].Spec.Ports[0].Port != 81 {
		t.Fatal("the changed document was not decoded again")
	}
	if after[0].line != 1 || after[2].line != before[2].line+2 {
		t.Fatalf("lines: a at %d (want 1), c at %d (want %d)", after[0].line, after[2].line, before[2].line+2)
	}
}
