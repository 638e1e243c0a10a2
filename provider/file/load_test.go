package file

import (
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
