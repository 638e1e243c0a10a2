package file

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file renamed into place is complete: it is read after RenameDebounce,
// not Debounce (a minute here, far longer than the test waits).
func TestRunRenameSkipsTheLongDebounce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 80))
	p, _ := newProvider(t, dir, Options{Debounce: time.Minute, MaxDelay: 2 * time.Minute})
	ch, _ := run(t, p)
	next(t, ch)

	for port := 81; port <= 83; port++ {
		replace(t, path, service("web", port))
		if got := next(t, ch).Service("default", "web").Spec.Ports[0].Port; got != int32(port) {
			t.Fatalf("after renaming a file with port %d over svc.yaml: port %d", port, got)
		}
	}
	// A new file moved into the folder.
	tmp := filepath.Join(t.TempDir(), "api.yaml")
	write(t, tmp, service("api", 80))
	if err := os.Rename(tmp, filepath.Join(dir, "api.yaml")); err != nil {
		t.Fatal(err)
	}
	equal(t, "after mv api.yaml", names(next(t, ch).Services), []string{"default/api", "default/web"})
}

// Writes in place, removals and renames away may leave a file half written
// or missing for a moment (an editor moving the old file to a backup, then
// writing the new one): such a burst waits the whole Debounce.
func TestRunInPlaceChangesWaitTheDebounce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 80))
	write(t, filepath.Join(dir, "other.yaml"), service("other", 80))
	p, _ := newProvider(t, dir, Options{Debounce: time.Minute, MaxDelay: 2 * time.Minute})
	ch, _ := run(t, p)
	next(t, ch)

	// A rename into place after an in-place write in the same burst does
	// not cut the wait short either.
	write(t, path, service("web", 81))
	replace(t, filepath.Join(dir, "other.yaml"), service("other", 81))
	none(t, ch, time.Second)

	p2, _ := newProvider(t, dir, Options{Debounce: time.Minute, MaxDelay: 2 * time.Minute})
	ch2, _ := run(t, p2)
	next(t, ch2)
	if err := os.Rename(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	none(t, ch2, time.Second)
}

// Renames in a row within RenameDebounce of each other are one snapshot.
func TestRunCoalescesRenames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 1000))
	const quiet = time.Second
	p, _ := newProvider(t, dir, Options{Debounce: time.Minute, RenameDebounce: quiet, MaxDelay: 2 * time.Minute})
	ch, _ := run(t, p)
	next(t, ch)
	start := time.Now()
	for i := 1; i <= 20; i++ {
		replace(t, path, service("web", 1000+i))
	}
	if took := time.Since(start); took >= quiet/2 {
		t.Fatalf("20 renames took %v, half the quiet period: the machine is too slow for this test to mean anything", took)
	}
	if got := next(t, ch).Service("default", "web").Spec.Ports[0].Port; got != 1020 {
		t.Fatalf("first snapshot after 20 renames has port %d, want the last one's 1020", got)
	}
	none(t, ch, quiet+300*time.Millisecond)
}
