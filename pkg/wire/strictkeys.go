package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/relaybus/relaybus/pkg/events"
	"github.com/relaybus/relaybus/pkg/wire/jsonscan"
)

// Strict keys (issue #14). encoding/json matches an object key to a struct
// field case-insensitively (Unicode simple folding), and the last of
// several matching keys wins: for {"type":"inbound","Type":"descriptor"}
// the frame was a descriptor, and for "bufferId":"a","BufferID":"b" the
// gateway acked b while a connector matching keys exactly would replay a
// forever. The contract's keys are exact, so the relay's decoders of
// connector JSON (frame envelope, forward object, inbound event) reject any
// key that differs from a contract key only in letter case — alone or
// beside the exact key — as ReasonAmbiguousKey: two readers, one matching
// exactly and one folding, can then never act on different values, and
// the frame is dead-lettered where an operator sees why. Keys that match
// no contract key in any case stay unknown keys, ignored as before. The
// fast paths (ws-edge's sniffer, scanForwardFrame) accept exact keys only
// and leave everything else to these decoders, so they agree by
// construction (their differential fuzz tests hold them to it).

// checkKeys returns a *events.FrameError when the JSON value b, to be
// decoded into a value of type t, has an object key (at any depth the type
// describes) that differs from one of its fields' JSON names only in
// letter case. b must be valid JSON; anything the type does not describe
// (json.RawMessage, interfaces, scalars) is not looked into. path prefixes
// the reported field. It allocates nothing unless it finds such a key.
func checkKeys(b []byte, t reflect.Type, path string) error {
	field, name, found := findVariant(b, t, 0)
	if !found {
		return nil
	}
	return frameErr(events.ReasonAmbiguousKey, joinPath(path, field),
		"key %q differs from the contract key %q only in letter case", clip(name, 64), lastSegment(field))
}

// maxKeyDepth bounds the walk; the types walked nest a few levels only.
const maxKeyDepth = 32

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// findVariant looks for a case-variant key in b (of type t) and returns
// the contract field's path below b and the key as written.
func findVariant(b []byte, t reflect.Type, depth int) (field, name string, found bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if depth > maxKeyDepth || t == rawMessageType || !walkable(t) {
		return "", "", false
	}
	v := jsonscan.TrimSpace(b)
	if len(v) == 0 {
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		if v[0] != '{' {
			return "", "", false
		}
		fs := fieldsOf(t)
		jsonscan.Members(v, func(key, val []byte, _, _ int) {
			if found {
				return
			}
			var k []byte
			if n := len(key); n >= 2 && bytes.IndexByte(key, '\\') < 0 {
				k = key[1 : n-1] // a plain key is its own content
			} else if u, ok := jsonscan.Unquote(key); ok {
				k = []byte(u)
			} else {
				return
			}
			if i, ok := fs.exact[string(k)]; ok {
				if f, n, ok := findVariant(val, fs.types[i], depth+1); ok {
					field, name, found = joinPath(fs.names[i], f), n, true
				}
				return
			}
			for i, f := range fs.bnames {
				if bytes.EqualFold(k, f) {
					field, name, found = fs.names[i], string(k), true
					return
				}
			}
		})
	case reflect.Slice, reflect.Array:
		if v[0] != '[' {
			return "", "", false
		}
		eachElement(v, func(elem []byte) bool {
			field, name, found = findVariant(elem, t.Elem(), depth+1)
			return !found
		})
	case reflect.Map:
		if v[0] != '{' {
			return "", "", false
		}
		jsonscan.Members(v, func(key, val []byte, _, _ int) {
			if !found {
				var f string
				if f, name, found = findVariant(val, t.Elem(), depth+1); found {
					k, _ := jsonscan.Unquote(key)
					field = joinPath(k, f)
				}
			}
		})
	}
	return field, name, found
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// clip bounds a key quoted in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// walkable reports whether values of t can hold objects whose keys
// encoding/json matches to struct fields.
func walkable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return walkable(t.Elem())
	case reflect.Struct:
		return !reflect.PointerTo(t).Implements(unmarshalerType)
	}
	return false
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// fieldSet is what encoding/json matches keys against for one struct type.
type fieldSet struct {
	exact  map[string]int // JSON name → index in names and types
	names  []string
	bnames [][]byte
	types  []reflect.Type
}

var fieldSets sync.Map // reflect.Type → *fieldSet

// fieldsOf returns t's JSON field names as encoding/json sees them: the
// tag's name, else the Go name; "-" and unexported fields skipped;
// untagged embedded structs promoted.
func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{exact: map[string]int{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.exact[name]; !dup {
				fs.exact[name] = len(fs.names)
				fs.names = append(fs.names, name)
				fs.bnames = append(fs.bnames, []byte(name))
				fs.types = append(fs.types, f.Type)
			}
		}
	}
	add(t)
	actual, _ := fieldSets.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

// eachElement calls fn for each element of the valid JSON array b while
// fn returns true.
func eachElement(b []byte, fn func(elem []byte) bool) {
	i := jsonscan.SkipSpace(b, 1)
	for i < len(b) && b[i] != ']' {
		end, st := jsonscan.Value(b, i, jsonscan.MaxDepth-1)
		if st != jsonscan.OK || !fn(b[i:end]) {
			return
		}
		i = jsonscan.SkipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
}

// exactString returns the string value of the last top-level member of the
// JSON object b whose key is exactly name, or "".
func exactString(b []byte, name string) string {
	var out string
	jsonscan.Members(b, func(key, val []byte, _, _ int) {
		if len(val) > 0 && val[0] == '"' && jsonscan.KeyIs(key, name, false) {
			if s, ok := jsonscan.Unquote(val); ok {
				out = s
			}
		}
	})
	return out
}

// Types whose keys the decoders check.
var (
	frameType        = reflect.TypeFor[Frame]()
	forwardWireType  = reflect.TypeFor[forwardWire]()
	messageEventType = reflect.TypeFor[events.MessageEvent]()
)
