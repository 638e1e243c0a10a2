package ir

import (
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"
)

// invalidUTF8 names the first string reachable from v (through pointers,
// structs, slices and maps) that is not valid UTF-8, or returns "". Every
// string the IR holds ends up in a protobuf string field, which cannot
// encode invalid UTF-8: such an element must be refused here, where only
// it is lost, not when the whole snapshot is marshalled. []byte fields
// (certificates, keys) are bytes, not strings, and are not looked at.
func invalidUTF8(v any) string {
	rv := reflect.ValueOf(v)
	// Nearly every element is valid: look without building paths first,
	// which allocates nothing.
	if !hasInvalidUTF8(rv) {
		return ""
	}
	return firstInvalidUTF8(rv, "")
}

func hasInvalidUTF8(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return !utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasInvalidUTF8(v.Elem())
	case reflect.Struct:
		for _, i := range stringFields(v.Type()) {
			if hasInvalidUTF8(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		if !holdsStrings(v.Type().Elem()) {
			return false
		}
		for i := range v.Len() {
			if hasInvalidUTF8(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		if !holdsStrings(v.Type().Key()) && !holdsStrings(v.Type().Elem()) {
			return false
		}
		it := v.MapRange()
		for it.Next() {
			if hasInvalidUTF8(it.Key()) || hasInvalidUTF8(it.Value()) {
				return true
			}
		}
	}
	return false
}

// stringFieldsOf caches stringFields, and holdsStringsOf holdsStrings, by
// type: the IR has a few dozen types, and walking only the fields that can
// hold a string makes the walk of a route several times cheaper.
var stringFieldsOf, holdsStringsOf sync.Map

// stringFields returns the indices of the exported fields of the struct
// type t through which a string can be reached.
func stringFields(t reflect.Type) []int {
	if f, ok := stringFieldsOf.Load(t); ok {
		return f.([]int)
	}
	var out []int
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && holdsStrings(f.Type) {
			out = append(out, i)
		}
	}
	stringFieldsOf.Store(t, out)
	return out
}

// holdsStrings reports whether a value of type t can hold a string the
// walk looks at (byte slices are bytes, not strings).
func holdsStrings(t reflect.Type) bool {
	if h, ok := holdsStringsOf.Load(t); ok {
		return h.(bool)
	}
	h := reaches(t, map[reflect.Type]bool{})
	holdsStringsOf.Store(t, h)
	return h
}

func reaches(t reflect.Type, visiting map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		return true
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() != reflect.Uint8 && reaches(t.Elem(), visiting)
	case reflect.Pointer:
		return reaches(t.Elem(), visiting)
	case reflect.Map:
		return reaches(t.Key(), visiting) || reaches(t.Elem(), visiting)
	case reflect.Struct:
		// A type met again on the way down adds nothing the first
		// meeting does not already look at.
		if visiting[t] {
			return false
		}
		visiting[t] = true
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && reaches(f.Type, visiting) {
				return true
			}
		}
	}
	return false
}

func firstInvalidUTF8(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return cmpPath(path, "value")
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return firstInvalidUTF8(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if p := firstInvalidUTF8(v.Field(i), join(path, t.Field(i).Name)); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return ""
		}
		for i := range v.Len() {
			if p := firstInvalidUTF8(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p := firstInvalidUTF8(it.Key(), path+"{key}"); p != "" {
				return p
			}
			if p := firstInvalidUTF8(it.Value(), path+"{value}"); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func cmpPath(path, fallback string) string {
	if path == "" {
		return fallback
	}
	return path
}
