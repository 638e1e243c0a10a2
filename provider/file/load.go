package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/legateproxy/legate/translators"
)

// LoadPaths reads manifests from files and folders once, for offline use
// (legate translate). Unlike a watched folder, any file that fails to parse
// is an error: all of them are returned, joined, each naming file and line.
func LoadPaths(reg *translators.Registry, opts Options, paths ...string) (*translators.Inputs, error) {
	in := &translators.Inputs{}
	var errs []error
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		dir := path
		if !fi.IsDir() {
			dir = filepath.Dir(path)
		}
		p, err := New(dir, reg, opts)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			p.only = filepath.Clean(path)
		}
		part, err := p.Load()
		if err != nil {
			return nil, err
		}
		for _, fe := range p.Errors() {
			errs = append(errs, fe)
		}
		for _, o := range part.All() {
			if err := in.Add(o); err != nil {
				return nil, err
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	in.Sort()
	return in, nil
}
