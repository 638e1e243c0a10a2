package ir

import (
	"fmt"
	"reflect"
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
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() && hasInvalidUTF8(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := range v.Len() {
			if hasInvalidUTF8(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if hasInvalidUTF8(it.Key()) || hasInvalidUTF8(it.Value()) {
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
