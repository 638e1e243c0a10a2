package file

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
)

// Snapshots are built from what changed.
//
// Objects are immutable once handed over (translators only read Inputs),
// so a snapshot shares with the one before it the objects of every file,
// and every document of a file, that did not change, pointer for pointer:
// later stages memoize by pointer, and copying 30k objects for a one-line
// edit took longer than translating it. Only the objects that changed are
// looked at: their keys are decided again (first file, then first line,
// wins) and the sorted lists of Inputs they belong to are patched where
// they sit. Lists of kinds that did not change are shared with the last
// snapshot (capped, so an append never writes into them). Even reading
// every object once costs milliseconds at 30k objects (each is a cache
// miss), which is why nothing here walks all of them.

// objectKey identifies an object as the API server would: two objects with
// one key are one object defined twice.
type objectKey struct {
	gk              schema.GroupKind
	namespace, name string
}

func keyOf(o parsedObject) objectKey {
	return objectKey{gk: o.gk, namespace: o.obj.GetNamespace(), name: o.obj.GetName()}
}

// snapshotIndex is what the last snapshot was built from.
type snapshotIndex struct {
	// files are the object lists the snapshot holds of each file, by the
	// generation of the file's objects (fileState.gen).
	files map[string]indexedFile
	// candidates are the objects defined under each key, in file, then
	// line, order: the first is the one used.
	candidates map[objectKey][]parsedObject
	// dups are the keys defined more than once.
	dups map[objectKey]bool
	// winners are the first candidates of the keys, and where they went;
	// refused are those of them Inputs.Add refused.
	winners map[objectKey]winner
	refused map[objectKey]bool
	// lists are, per field of Inputs (by field index), the objects of that
	// field in the order Sort gives them (see snapshotOrder), and typed the
	// field's value in the last snapshot.
	lists [][]parsedObject
	typed []reflect.Value
	// fields maps a Go type to the field of Inputs that Add puts it in.
	fields map[string]int
	// scratch finds that field: an object is added to it and the one
	// field that grew is the object's.
	scratch *translators.Inputs
	// last is the last snapshot (see Inputs.IndexFrom).
	last *translators.Inputs
}

type indexedFile struct {
	gen     uint64
	objects []parsedObject
}

// winner is the object used for a key: in lists[field], or refused by
// Inputs.Add (field -1, err set), then logged on every snapshot.
type winner struct {
	o     parsedObject
	field int
	err   error
}

// snapshotOrder is the order of the lists of Inputs after Sort: Go type
// (which matters in Others only), namespace, name. The group and kind only
// break ties between two kinds of one Go type.
func snapshotOrder(a, b parsedObject) int {
	return cmp.Or(cmp.Compare(a.typ, b.typ),
		cmp.Compare(a.obj.GetNamespace(), b.obj.GetNamespace()), cmp.Compare(a.obj.GetName(), b.obj.GetName()),
		cmp.Compare(a.gk.Group, b.gk.Group), cmp.Compare(a.gk.Kind, b.gk.Kind))
}

// fileOrder is the order of candidates: of two objects with one key, the
// one of the lexically first file, then the earlier line, wins.
func fileOrder(a, b parsedObject) int {
	return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line))
}

// placed is an object at a line: what stays the same when a file changes
// around an unchanged document.
type placed struct {
	obj  client.Object
	line int
}

// snapshot builds the Inputs of the files' current objects. Of two objects
// with the same kind, namespace and name, the one of the lexically first
// file (then the earlier line) wins; the others are logged on every
// snapshot, as is an object Inputs refuses. p.mu must be held.
func (p *Provider) snapshot() *translators.Inputs {
	x := &p.index
	if x.files == nil {
		x.init()
	}

	var changed []string
	for path, st := range p.files {
		if x.files[path].gen != st.gen {
			changed = append(changed, path)
		}
	}
	for path := range x.files {
		if p.files[path] == nil {
			changed = append(changed, path)
		}
	}
	slices.Sort(changed)

	affected := map[objectKey]bool{}
	for _, path := range changed {
		old := x.files[path].objects
		var cur []parsedObject
		if st := p.files[path]; st != nil && st.gen != 0 {
			cur = st.objects
			x.files[path] = indexedFile{gen: st.gen, objects: st.objects}
		} else {
			delete(x.files, path)
		}
		// Objects of unchanged documents that did not move stay as
		// they are.
		was := make(map[placed]bool, len(old))
		for _, o := range old {
			was[placed{o.obj, o.line}] = true
		}
		stays := make(map[placed]bool, len(cur))
		for _, o := range cur {
			if was[placed{o.obj, o.line}] {
				stays[placed{o.obj, o.line}] = true
			}
		}
		for _, o := range old {
			if stays[placed{o.obj, o.line}] {
				continue
			}
			k := keyOf(o)
			affected[k] = true
			x.candidates[k] = slices.DeleteFunc(x.candidates[k], func(c parsedObject) bool {
				return c.obj == o.obj && c.file == o.file && c.line == o.line
			})
		}
		for _, o := range cur {
			if stays[placed{o.obj, o.line}] {
				continue
			}
			k := keyOf(o)
			affected[k] = true
			cs := x.candidates[k]
			// After every candidate that does not come later: objects of
			// one line (items of a List whose lines were not found) keep
			// their order.
			i := len(cs)
			for i > 0 && fileOrder(cs[i-1], o) > 0 {
				i--
			}
			x.candidates[k] = slices.Insert(cs, i, o)
		}
	}

	// Out go the keys whose first candidate is no longer the one used,
	// in come the new first ones, per field of Inputs.
	remove := map[int][]int{}
	insert := map[int][]parsedObject{}
	for k := range affected {
		cs := x.candidates[k]
		if len(cs) == 0 {
			delete(x.candidates, k)
		}
		if len(cs) > 1 {
			x.dups[k] = true
		} else {
			delete(x.dups, k)
		}
		old, had := x.winners[k]
		if had && len(cs) > 0 && old.o.obj == cs[0].obj && fileOrder(old.o, cs[0]) == 0 {
			continue
		}
		if had {
			delete(x.winners, k)
			delete(x.refused, k)
			if old.field >= 0 {
				i, ok := slices.BinarySearchFunc(x.lists[old.field], old.o, snapshotOrder)
				if !ok {
					panic(fmt.Sprintf("file provider: snapshot index lost %s %s/%s", k.gk.Kind, k.namespace, k.name))
				}
				remove[old.field] = append(remove[old.field], i)
			}
		}
		if len(cs) > 0 {
			w := x.place(cs[0])
			x.winners[k] = w
			if w.field >= 0 {
				insert[w.field] = append(insert[w.field], w.o)
			} else {
				x.refused[k] = true
			}
		}
	}

	in := &translators.Inputs{}
	iv := reflect.ValueOf(in).Elem()
	for f := range x.lists {
		if rm, ins := remove[f], insert[f]; len(rm) > 0 || len(ins) > 0 {
			slices.Sort(rm)
			slices.SortFunc(ins, snapshotOrder)
			x.lists[f] = patch(x.lists[f], rm, ins)
			x.typed[f] = typedList(iv.Field(f).Type(), x.lists[f])
		}
		if t := x.typed[f]; t.IsValid() {
			iv.Field(f).Set(t)
		}
	}
	// The lookup indexes translators build on in are patched from the
	// last snapshot's where the lists differ.
	in.IndexFrom(x.last)
	x.last = in
	p.logProblems()
	return in
}

func (x *snapshotIndex) init() {
	x.files = map[string]indexedFile{}
	x.candidates = map[objectKey][]parsedObject{}
	x.dups = map[objectKey]bool{}
	x.winners = map[objectKey]winner{}
	x.refused = map[objectKey]bool{}
	x.fields = map[string]int{}
	x.scratch = &translators.Inputs{}
	n := reflect.TypeFor[translators.Inputs]().NumField()
	x.lists = make([][]parsedObject, n)
	x.typed = make([]reflect.Value, n)
}

// place says where Inputs.Add puts o: the field, or the error it refuses
// o with.
func (x *snapshotIndex) place(o parsedObject) winner {
	f, known := x.fields[o.typ]
	if err := x.scratch.Add(o.obj); err != nil {
		return winner{o: o, field: -1, err: err}
	}
	sv := reflect.ValueOf(x.scratch).Elem()
	if !known {
		f = -1
		for i := range sv.NumField() {
			if fv := sv.Field(i); sv.Type().Field(i).IsExported() && fv.Kind() == reflect.Slice && fv.Len() > 0 {
				f = i
				break
			}
		}
		if f < 0 {
			panic(fmt.Sprintf("file provider: Inputs.Add took a %s and kept it nowhere", o.typ))
		}
		x.fields[o.typ] = f
	}
	// Empty the field again, keeping its array for the next object.
	sv.Field(f).SetLen(0)
	return winner{o: o, field: f}
}

// typedList makes the value of a field of Inputs (of type t) holding objs.
func typedList(t reflect.Type, objs []parsedObject) reflect.Value {
	if len(objs) == 0 {
		return reflect.Value{}
	}
	// Length and capacity equal: a translator's append to the list makes
	// a new one instead of writing past its end.
	v := reflect.MakeSlice(t, len(objs), len(objs))
	for i, o := range objs {
		v.Index(i).Set(reflect.ValueOf(o.obj))
	}
	return v
}

// patch returns used without the entries at the indexes remove (sorted)
// and with insert (sorted, keys not in used once remove is gone) merged in.
// used belongs to the index alone (Inputs get typed copies), so when every
// insert takes the place of a removed entry of its key, the usual edit,
// it is written in place instead of copying the whole list.
func patch(used []parsedObject, remove []int, insert []parsedObject) []parsedObject {
	if len(remove) == len(insert) {
		inPlace := true
		for k, i := range remove {
			if snapshotOrder(used[i], insert[k]) != 0 {
				inPlace = false
				break
			}
		}
		if inPlace {
			for k, i := range remove {
				used[i] = insert[k]
			}
			return used
		}
	}
	out := make([]parsedObject, 0, len(used)-len(remove)+len(insert))
	i := 0
	for _, ins := range insert {
		at, _ := slices.BinarySearchFunc(used, ins, snapshotOrder)
		for ; i < at; i++ {
			if len(remove) > 0 && remove[0] == i {
				remove = remove[1:]
				continue
			}
			out = append(out, used[i])
		}
		out = append(out, ins)
	}
	for ; i < len(used); i++ {
		if len(remove) > 0 && remove[0] == i {
			remove = remove[1:]
			continue
		}
		out = append(out, used[i])
	}
	return out
}

// logProblems warns, on every snapshot, about every object defined twice
// and every object Inputs refused, in file order.
func (p *Provider) logProblems() {
	x := &p.index
	type problem struct {
		at   parsedObject
		used *parsedObject // set for a duplicate
		err  error
	}
	var all []problem
	for k := range x.dups {
		cs := x.candidates[k]
		for _, c := range cs[1:] {
			all = append(all, problem{at: c, used: &cs[0]})
		}
	}
	for k := range x.refused {
		w := x.winners[k]
		all = append(all, problem{at: w.o, err: w.err})
	}
	slices.SortFunc(all, func(a, b problem) int { return fileOrder(a.at, b.at) })
	for _, pr := range all {
		if pr.used == nil {
			p.log.Warn("object ignored",
				"at", location(pr.at.file, pr.at.line), "kind", pr.at.gk.Kind, "error", pr.err)
			continue
		}
		p.log.Warn("object defined twice; using the first",
			"kind", pr.at.gk.Kind, "namespace", pr.at.obj.GetNamespace(), "name", pr.at.obj.GetName(),
			"used", location(pr.used.file, pr.used.line), "ignored", location(pr.at.file, pr.at.line))
	}
}
