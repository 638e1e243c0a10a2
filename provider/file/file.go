// Package file provides Inputs from a folder of YAML (and JSON) manifests,
// the same objects one would apply to a cluster, and watches the folder so
// that every change becomes a new snapshot.
//
// A file that stops parsing (half written, mistyped) never takes objects
// away: the provider keeps that file's last good objects, reports the
// problem at file:line, and goes on taking the other files' changes.
//
// A change costs what changed: files whose metadata did not change are not
// read, documents whose bytes did not change are not decoded, and objects
// that did not change are the very objects of the last snapshot (objects
// are immutable once handed over; see snapshot.go).
package file

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/legateproxy/legate/internal/intern"
	"github.com/legateproxy/legate/translators"
)

// Defaults of Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	// DefaultRenameDebounce is short because a file renamed into place is
	// complete when the rename lands: the wait only has to gather the
	// events of one save or of a tool renaming several files in a row,
	// which arrive microseconds apart, while every millisecond of it is
	// added to each edit's latency. 5 ms leaves room for a writer briefly
	// descheduled between two renames on a loaded machine; a burst split
	// by a longer pause still gives correct snapshots, only one more.
	DefaultRenameDebounce = 5 * time.Millisecond
	DefaultMaxDelay       = time.Second
)

// Options tune a Provider. The zero value is ready to use.
type Options struct {
	// Logger receives parse errors, ignored kinds and duplicates. Default:
	// slog.Default().
	Logger *slog.Logger
	// Debounce is how long the folder must stay quiet after a change before
	// it is read again, so that a burst of writes (an editor saving, a git
	// checkout) becomes one snapshot, and a file being written in place is
	// not read half written. Default 100 ms.
	Debounce time.Duration
	// RenameDebounce replaces Debounce for a burst in which no manifest was
	// written in place, removed or renamed away: only files created or
	// renamed into place (an atomic save: write a temporary file, rename
	// it over the manifest), or changes to names that are not manifests
	// (temporary files, a ConfigMap volume's links). Such a burst cannot
	// leave a file half written or missing, so it needs only to gather
	// its own events. Default DefaultRenameDebounce, at most Debounce.
	RenameDebounce time.Duration
	// MaxDelay bounds the wait of Debounce: a folder that never stays quiet
	// is still read at most this long after the first change of a burst.
	// Default 1 s.
	MaxDelay time.Duration
	// Recursive says whether sub-folders are read too. Default (nil): true.
	Recursive *bool
}

// FileError is one problem with one file, at the line it starts on (0 when
// the whole file is at fault, e.g. it cannot be read).
type FileError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e FileError) Error() string { return location(e.File, e.Line) + ": " + e.Message }

// Provider reads a folder of manifests into translators.Inputs.
type Provider struct {
	// only, when set, is the one file this provider reads (LoadPaths).
	only      string
	dir       string
	recursive bool
	debounce  time.Duration
	// renameDebounce is the quiet period of bursts of renames (see
	// Options.RenameDebounce).
	renameDebounce time.Duration
	maxDelay       time.Duration
	log            *slog.Logger

	decoder    runtime.Decoder
	groupKinds map[schema.GroupKind]bool
	// versions are the exact apiVersions accepted per kind: those of the
	// registry's Go types.
	versions map[schema.GroupKind][]schema.GroupVersionKind

	mu    sync.Mutex
	files map[string]*fileState
	// gen numbers the object lists of files (fileState.gen).
	gen uint64
	// index is what the last snapshot was built from, so that the next is
	// built from what changed (snapshot.go).
	index snapshotIndex
	// readBuf is what files are read into, from one read to the next:
	// nothing keeps a file's bytes once it is parsed (decoded objects
	// copy what they hold), and a 1000-object file is read again on
	// every edit of one of its objects.
	readBuf []byte
	// parses counts parseFile's calls (cachedDoc.parse).
	parses uint64
	// strings interns the vocabulary of decoded objects (namespaces,
	// routes' parent references and status entries).
	strings intern.Strings
}

// fileState is what is remembered of one file between reads.
type fileState struct {
	// seen is the hash of the bytes last read, parsed or not; a file is
	// parsed again only when they change.
	seen [sha256.Size]byte
	// good is the hash of the bytes objects came from; hasGood is false
	// for a file that never parsed.
	good    [sha256.Size]byte
	hasGood bool
	objects []parsedObject
	// errors of the bytes last seen; empty when they parsed.
	errors []FileError
	// docs caches the objects of each document that decoded cleanly, by
	// the hash of its bytes, with lines relative to the document's start:
	// an edit to one document of a large file decodes only that document.
	docs map[[sha256.Size]byte]*cachedDoc
	// gen changes whenever objects does (Provider.gen): the snapshot
	// builder compares it to tell which files' objects it must take anew.
	gen uint64
	// stat is the file as it was when last read (nil: read again), and
	// settled says whether its modification time was old enough then that
	// any later write must change it (see unchanged).
	stat    os.FileInfo
	settled bool
}

// New returns a provider of the folder dir, decoding the kinds the
// translators of reg read.
func New(dir string, reg *translators.Registry, opts Options) (*Provider, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("file provider: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("file provider: %s is not a directory", dir)
	}
	scheme, err := reg.Scheme()
	if err != nil {
		return nil, fmt.Errorf("file provider: %w", err)
	}
	gks, err := reg.GroupKinds(scheme)
	if err != nil {
		return nil, fmt.Errorf("file provider: %w", err)
	}
	versions := map[schema.GroupKind][]schema.GroupVersionKind{}
	for _, k := range reg.Kinds() {
		gvks, _, err := scheme.ObjectKinds(k)
		if err != nil {
			return nil, fmt.Errorf("file provider: looking up kind of %T: %w", k, err)
		}
		for _, gvk := range gvks {
			versions[gvk.GroupKind()] = append(versions[gvk.GroupKind()], gvk)
		}
	}
	p := &Provider{
		dir:        dir,
		recursive:  opts.Recursive == nil || *opts.Recursive,
		debounce:   cmp.Or(opts.Debounce, DefaultDebounce),
		maxDelay:   cmp.Or(opts.MaxDelay, DefaultMaxDelay),
		log:        cmp.Or(opts.Logger, slog.Default()),
		decoder:    serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer(),
		groupKinds: gks,
		versions:   versions,
		files:      map[string]*fileState{},
	}
	p.renameDebounce = min(cmp.Or(opts.RenameDebounce, DefaultRenameDebounce), p.debounce)
	return p, nil
}

// Load reads the folder once and returns its objects. Files that fail to
// parse are logged and left out (or, if they parsed before, contribute their
// last good objects); Errors lists them, and a caller that wants no bad file
// at all (legate translate) checks it. The error is for a folder that cannot
// be read.
func (p *Provider) Load() (*translators.Inputs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.refresh(); err != nil {
		return nil, err
	}
	return p.snapshot(), nil
}

// Errors returns the current problems of the folder's files, sorted by file
// and line. A problem is gone once its file parses or is deleted.
func (p *Provider) Errors() []FileError {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []FileError
	for _, st := range p.files {
		out = append(out, st.errors...)
	}
	slices.SortFunc(out, func(a, b FileError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// Run sends the folder's first snapshot on out, then a new one after every
// change, until ctx is done (then it returns nil). Changes are debounced,
// and a change that leaves the parsed objects as they were (a bad edit, a
// file of another kind of content) sends nothing.
func (p *Provider) Run(ctx context.Context, out chan<- *translators.Inputs) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("file provider: watching %s: %w", p.dir, err)
	}
	defer func() { _ = w.Close() }()
	// Watch before the first read: a change made while reading then still
	// causes a read after it.
	if err := w.Add(p.dir); err != nil {
		return fmt.Errorf("file provider: watching %s: %w", p.dir, err)
	}
	if p.recursive {
		p.watchTree(w, p.dir)
	}

	p.mu.Lock()
	last, err := p.refresh()
	var in *translators.Inputs
	if err == nil {
		in = p.snapshot()
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case out <- in:
	case <-ctx.Done():
		return nil
	}

	// Editors save by writing a new file and renaming it over the old one,
	// and a ConfigMap volume swaps a symlinked folder: watching folders, not
	// files, sees all of these as events on names in a watched folder.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var fire <-chan time.Time
	var burstStart time.Time
	// inPlace says that the burst wrote, removed or renamed away a
	// manifest: it waits Debounce, not RenameDebounce.
	var inPlace bool
	schedule := func(ev fsnotify.Event) {
		now := time.Now()
		if fire == nil {
			burstStart, inPlace = now, false
		}
		inPlace = inPlace || changesInPlace(ev)
		quiet := p.renameDebounce
		if inPlace {
			quiet = p.debounce
		}
		wait := min(quiet, p.maxDelay-now.Sub(burstStart))
		timer.Reset(max(wait, 0))
		fire = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// Hidden names are not skipped here, though their files are not
			// read: a ConfigMap volume changes by renaming its hidden
			// "..data" link, and nothing else in the folder moves.
			if isTempFile(filepath.Base(ev.Name)) {
				continue
			}
			if p.recursive && ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() && !isHidden(filepath.Base(ev.Name)) {
					// Watch a new folder at once; the read that follows the
					// debounce finds files written into it before the watch.
					p.watchTree(w, ev.Name)
				}
			}
			schedule(ev)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			p.log.Error("watching folder", "dir", p.dir, "error", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost, of writes maybe: read everything
				// again once the folder is quiet.
				schedule(fsnotify.Event{Op: fsnotify.Write, Name: "lost.yaml"})
			}
		case <-fire:
			fire = nil
			p.mu.Lock()
			sum, err := p.refresh()
			var in *translators.Inputs
			if err == nil && sum != last {
				in = p.snapshot()
				last = sum
			}
			p.mu.Unlock()
			if err != nil {
				// The folder itself is gone or unreadable: keep what was
				// sent until it comes back.
				p.log.Error("reading folder", "error", err)
				continue
			}
			if in == nil {
				continue
			}
			p.log.Debug("folder changed; sending a new snapshot", "dir", p.dir)
			select {
			case out <- in:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// changesInPlace reports whether ev may leave a manifest half written or
// missing for a moment: written in place, removed, or renamed away (an
// editor moving it to a backup before writing the new one). A name renamed
// or created into place, and any event on a name that is not a manifest,
// completes what it does when it arrives.
func changesInPlace(ev fsnotify.Event) bool {
	if !isManifest(filepath.Base(ev.Name)) {
		return false
	}
	return ev.Has(fsnotify.Write) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
}

// watchTree adds a watch on every non-hidden folder under root (root
// included). A folder that cannot be watched is logged and skipped; its files
// are still read, only their changes are not seen until another event.
func (p *Provider) watchTree(w *fsnotify.Watcher, root string) {
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && isHidden(d.Name()) {
			return fs.SkipDir
		}
		if err := w.Add(path); err != nil {
			p.log.Warn("cannot watch folder; its changes will be missed", "dir", path, "error", err)
		}
		return nil
	})
}

// refresh reads the folder, parses the files whose bytes changed, and
// returns a hash of the good versions of all files: equal hashes mean equal
// objects. p.mu must be held.
func (p *Provider) refresh() ([sha256.Size]byte, error) {
	paths, unreadable, err := p.list()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	present := map[string]bool{}
	for _, path := range paths {
		present[path] = true
		st := p.files[path]
		if st == nil {
			st = &fileState{}
			p.files[path] = st
		}
		if st.unchanged(path) {
			continue
		}
		data, fi, settled, err := readFile(path, p.readBuf)
		if cap(data) > cap(p.readBuf) {
			p.readBuf = data[:0]
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Removed between listing and reading: the next event reads
				// the folder again.
				delete(p.files, path)
				delete(present, path)
				continue
			}
			fe := FileError{File: path, Message: fmt.Sprintf("reading: %v", err)}
			if len(st.errors) != 1 || st.errors[0] != fe {
				p.log.Error("cannot read file; keeping its last good objects", "file", path, "error", err)
			}
			st.errors = []FileError{fe}
			st.seen = [sha256.Size]byte{}
			st.stat = nil
			continue
		}
		st.stat, st.settled = fi, settled
		sum := sha256.Sum256(data)
		if sum == st.seen {
			continue
		}
		st.seen = sum
		if st.hasGood && sum == st.good {
			// Back to the bytes its objects came from (after a bad edit,
			// say): they are still the file's objects.
			if len(st.errors) > 0 {
				p.log.Info("file parses again", "file", path)
			}
			st.errors = nil
			continue
		}
		p.log.Debug("parsing changed file", "file", path, "bytes", len(data))
		var objs []parsedObject
		var errs []FileError
		if len(data) == 0 && len(st.objects) > 0 {
			// An editor saving in place truncates the file before writing
			// it; a read in between must not take the objects away. To
			// remove them on purpose, delete the file.
			errs = []FileError{{File: path, Message: "file is empty; keeping its last good objects until it has content again or is deleted"}}
		} else {
			objs, errs = p.parseFile(path, data, strings.EqualFold(filepath.Ext(path), ".json"))
		}
		if len(errs) > 0 {
			// One bad document spoils the file: a half-written file must
			// not take away the objects of its unwritten half.
			st.errors = errs
			for _, e := range errs {
				p.log.Error("cannot use file; keeping its last good objects", "at", location(e.File, e.Line), "problem", e.Message)
			}
			continue
		}
		if len(st.errors) > 0 {
			p.log.Info("file parses again", "file", path)
		}
		st.errors = nil
		p.gen++
		st.good, st.hasGood, st.objects, st.gen = sum, true, objs, p.gen
	}
	for path := range p.files {
		if present[path] || underAny(path, unreadable) {
			continue
		}
		delete(p.files, path)
	}

	h := sha256.New()
	for _, path := range p.sortedPaths() {
		st := p.files[path]
		if !st.hasGood {
			continue
		}
		h.Write([]byte(path))
		h.Write([]byte{0})
		h.Write(st.good[:])
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// racyWindow is how old a file's modification time must be, when the file
// is read, for a later write to be sure to change it. File systems stamp
// writes from a clock that ticks coarsely (a few ms on Linux; 1 s on HFS+,
// 2 s on FAT), so two writes within one tick leave the same time, and the
// size may not change either: a file read within this window of its last
// write is read again (and its bytes hashed) on the next refresh, as git
// does with its "racily clean" entries.
const racyWindow = 2 * time.Second

// unchanged reports whether the file at path is, by its metadata, the one
// last read: the same file (device and inode, so a file renamed over it
// counts as a change even with the same size and time), size and
// modification time, read long enough after its last write.
func (st *fileState) unchanged(path string) bool {
	if st.stat == nil || !st.settled {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(fi, st.stat) && fi.Size() == st.stat.Size() && fi.ModTime().Equal(st.stat.ModTime())
}

// readFile reads a file into buf (grown if need be) and returns it with
// the metadata it had when read; settled says whether its modification
// time was older than racyWindow then.
func readFile(path string, buf []byte) (data []byte, fi os.FileInfo, settled bool, err error) {
	now := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer func() { _ = f.Close() }()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, false, err
	}
	// The size is a hint: a file still being written may have grown.
	if need := int(fi.Size()) + bytes.MinRead; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	b := bytes.NewBuffer(buf[:0])
	if _, err := b.ReadFrom(f); err != nil {
		return nil, nil, false, err
	}
	return b.Bytes(), fi, fi.ModTime().Before(now.Add(-racyWindow)), nil
}

// list returns the manifest files of the folder, and the sub-folders that
// could not be read (their files are kept as they were).
func (p *Provider) list() (files, unreadable []string, err error) {
	if p.only != "" {
		return []string{p.only}, nil, nil
	}
	err = filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == p.dir {
				return err
			}
			p.log.Error("cannot read folder; keeping the objects of its files", "dir", path, "error", err)
			unreadable = append(unreadable, path)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path == p.dir {
				return nil
			}
			if !p.recursive || isHidden(name) {
				return fs.SkipDir
			}
			return nil
		}
		if isHidden(name) || isTempFile(name) || !isManifest(name) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Follow links to files (ConfigMap volumes are made of them),
			// not to folders, which could loop.
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("file provider: reading %s: %w", p.dir, err)
	}
	slices.Sort(files)
	return files, unreadable, nil
}

func (p *Provider) sortedPaths() []string {
	paths := make([]string, 0, len(p.files))
	for path := range p.files {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(path, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

// isTempFile recognises the files editors write next to the one being
// edited: backups (foo.yaml~), Emacs locks (.#foo.yaml), Vim swap files
// (.foo.yaml.swp, .swx, ...) and Vim's write probe "4913".
func isTempFile(name string) bool {
	switch {
	case strings.HasSuffix(name, "~"), strings.HasPrefix(name, ".#"), name == "4913":
		return true
	case strings.HasPrefix(name, ".") && len(filepath.Ext(name)) == 4 && strings.HasPrefix(filepath.Ext(name), ".sw"):
		return true
	}
	return false
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
