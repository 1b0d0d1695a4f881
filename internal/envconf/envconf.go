// Package envconf declares the environment variables of relaybus's stages,
// each once: its name, the Config field it sets, the field's default, a
// line of documentation, its limits, and whether its value is secret. From
// that one declaration a stage builds its defaults ([Defaults]), reads the
// environment ([Parse], [Load]), checks the limits ([Check]), renders its startup
// log line ([LogValue]) and the table of its README ([Markdown]).
//
// The same rules hold in every binary: a variable that is unset or blank
// leaves the default; a set one is trimmed (unless declared [Decl.Raw]) and
// must parse, or the error names the variable, its value ("[redacted]" for
// a secret) and what was expected, in one line.
//
// Why a table and not github.com/caarlos0/env/v11: that library reads
// struct tags and would parse the ints and durations, but everything else
// asked of a declaration would still be ours — it has no doc, secret or
// limit, so the log line, the README table and the bounds checks would need
// a reflection walker over tags of our own; its errors name the Go field,
// not the variable; it neither trims nor treats a blank value as unset; the
// comma list, RELAY_STREAM_STORAGE and the identity pair need custom
// parsers anyway; defaults written as tag strings fail at run time, not at
// compile time; and the dependency would land in the go.sum of every module
// that uses internal. The table costs a few generic functions and keeps
// each declaration on one typed line.
package envconf

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid classifies every error of Parse and Check.
var ErrInvalid = errors.New("envconf: invalid value")

// Error is a variable whose value does not parse or is out of its limits.
// Its message is one line, `NAME="value": want …`, for the caller to
// prefix with its own sentinel. The value of a secret reads "[redacted]".
type Error struct {
	Name, Value, Want string
}

func (e *Error) Error() string { return fmt.Sprintf("%s=%q: want %s", e.Name, e.Value, e.Want) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Var is one declared variable, made by [V] or [Func].
type Var interface {
	// Name is the variable's name.
	Name() string
	decl() *meta
	reset()
	set(s string) error // s is trimmed unless raw
	show() string       // the value as it would be written in the environment, redacted
	check() error
	defaultShown() string
	limits() string // what the docs say of the limits
}

// meta is what a declaration says besides its type.
type meta struct {
	name, doc string
	redact    func(string) string
	raw       bool
	secret    bool
}

// Decl declares one variable bound to a field of type T. Its methods
// refine the declaration and return it, so that one reads in one line:
//
//	envconf.V("EGRESS_WORKERS", &c.Workers, 64, "actions handled at once").Min(1).Max(4096)
type Decl[T any] struct {
	meta
	dst    *T
	def    T
	parse  func(string) (T, error)
	format func(T) string
	checks []limit[T]
}

type limit[T any] struct {
	ok          func(T) bool
	want, short string // in an error; in the README
}

// Value is what V binds: integers, durations (like 30s or 15m), booleans
// (true, false, 1, 0), strings, and comma lists (blank entries dropped).
type Value interface {
	int | int64 | time.Duration | bool | string | []string
}

// V declares the variable name, setting *dst, whose default is def.
func V[T Value](name string, dst *T, def T, doc string) *Decl[T] {
	return Func(name, dst, def, doc, parseValue[T], formatValue[T])
}

// Func declares a variable of a type of its own: parse reads a set value,
// and its error says what is wanted (`NAME="value": want <error>`); format
// writes a value back as it would stand in the environment, for the log
// and the docs ("" reads as unset).
func Func[T any](name string, dst *T, def T, doc string, parse func(string) (T, error), format func(T) string) *Decl[T] {
	return &Decl[T]{meta: meta{name: name, doc: doc}, dst: dst, def: def, parse: parse, format: format}
}

// Secret keeps the value out of the log and out of error messages, which
// show "[redacted]" instead; the README says it is never logged.
func (d *Decl[T]) Secret() *Decl[T] {
	d.secret = true
	return d.Redact(func(string) string { return "[redacted]" })
}

// Redact passes the value through f before it is logged or put into an
// error (for a URL whose password must go, say).
func (d *Decl[T]) Redact(f func(string) string) *Decl[T] { d.redact = f; return d }

// Raw keeps the value as given: not trimmed, and set when not empty (a
// value of spaces reaches the field, for Validate to refuse).
func (d *Decl[T]) Raw() *Decl[T] { d.raw = true; return d }

// Min refuses values below min (T is an integer or a duration).
func (d *Decl[T]) Min(min T) *Decl[T] {
	return d.limit(func(v T) bool { return !less(v, min) }, "at least "+d.format(min), "≥ "+d.format(min))
}

// Max refuses values above max (T is an integer or a duration).
func (d *Decl[T]) Max(max T) *Decl[T] {
	return d.limit(func(v T) bool { return !less(max, v) }, "at most "+d.format(max), "≤ "+d.format(max))
}

// Positive refuses zero and negative values (T is an integer or a
// duration).
func (d *Decl[T]) Positive() *Decl[T] {
	var zero T
	want := "a positive number"
	if _, ok := any(zero).(time.Duration); ok {
		want = "a positive duration like 30s"
	}
	return d.limit(func(v T) bool { return less(zero, v) }, want, "> 0")
}

func (d *Decl[T]) limit(ok func(T) bool, want, short string) *Decl[T] {
	d.checks = append(d.checks, limit[T]{ok, want, short})
	return d
}

// Name is the variable's name.
func (d *Decl[T]) Name() string { return d.name }

func (d *Decl[T]) decl() *meta  { return &d.meta }
func (d *Decl[T]) reset()       { *d.dst = d.def }
func (d *Decl[T]) show() string { return d.shown(*d.dst) }

func (d *Decl[T]) defaultShown() string { return d.shown(d.def) }

func (d *Decl[T]) set(s string) error {
	v, err := d.parse(s)
	if err != nil {
		return d.fail(s, err.Error())
	}
	*d.dst = v
	return nil
}

func (d *Decl[T]) check() error {
	for _, c := range d.checks {
		if !c.ok(*d.dst) {
			return d.fail(d.format(*d.dst), c.want)
		}
	}
	return nil
}

// shown is v as the log and the docs show it.
func (d *Decl[T]) shown(v T) string {
	s := d.format(v)
	if d.redact != nil && s != "" {
		s = d.redact(s)
	}
	return s
}

func (d *Decl[T]) fail(value, want string) error {
	if d.redact != nil {
		value = d.redact(value)
	}
	return &Error{Name: d.name, Value: value, Want: want}
}

func (d *Decl[T]) limits() string {
	short := make([]string, len(d.checks))
	for i, c := range d.checks {
		short[i] = c.short
	}
	return strings.Join(short, ", ")
}

// Defaults sets every declared field to its default.
func Defaults(vars ...Var) {
	for _, v := range vars {
		v.reset()
	}
}

// Parse sets each declared field whose variable is set, in order, and
// returns the first error. It does not Check the limits.
func Parse(getenv func(string) string, vars ...Var) error {
	for _, v := range vars {
		s := getenv(v.decl().name)
		if !v.decl().raw {
			s = strings.TrimSpace(s)
		}
		if s == "" {
			continue
		}
		if err := v.set(s); err != nil {
			return err
		}
	}
	return nil
}

// Load is a ConfigFromEnv: the environment overlaid on def through
// the declarations of vars, then validate. A parse error is wrapped in
// sentinel; validate wraps its own.
//
//	func ConfigFromEnv(getenv func(string) string) (Config, error) {
//		return envconf.Load(getenv, DefaultConfig(), (*Config).Vars, Config.Validate, ErrInvalidConfig)
//	}
func Load[C any](getenv func(string) string, def C, vars func(*C) []Var, validate func(C) error, sentinel error) (C, error) {
	c := def
	if err := Parse(getenv, vars(&c)...); err != nil {
		return c, fmt.Errorf("%w: %w", sentinel, err)
	}
	return c, validate(c)
}

// Check returns the first field that is out of its declared limits.
func Check(vars ...Var) error {
	for _, v := range vars {
		if err := v.check(); err != nil {
			return err
		}
	}
	return nil
}

// LogValue renders the declared fields for a startup log line, each under
// its variable's name, as it would be written in the environment, secrets
// redacted.
func LogValue(vars ...Var) slog.Value {
	attrs := make([]slog.Attr, len(vars))
	for i, v := range vars {
		attrs[i] = slog.String(v.decl().name, v.show())
	}
	return slog.GroupValue(attrs...)
}

// Markdown renders the declarations as a README table: variable, default,
// meaning (with the limits and whether the value is secret).
func Markdown(vars ...Var) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range vars {
		m, def, limits := v.decl(), v.defaultShown(), v.limits()
		if def == "" {
			def = "unset"
		} else {
			def = "`" + def + "`"
		}
		var notes []string
		if limits != "" {
			notes = append(notes, limits)
		}
		switch {
		case m.secret:
			notes = append(notes, "secret: never logged")
		case m.redact != nil:
			notes = append(notes, "logged with its credentials redacted")
		}
		doc := m.doc
		if len(notes) > 0 {
			doc += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m.name, def, doc)
	}
	return b.String()
}

// Names returns the declared variables' names, in order.
func Names(vars ...Var) []string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.decl().name
	}
	return names
}

func parseValue[T Value](s string) (T, error) {
	var v T
	var err error
	var want string
	switch p := any(&v).(type) {
	case *int:
		*p, err = strconv.Atoi(s)
		want = "an integer"
	case *int64:
		*p, err = strconv.ParseInt(s, 10, 64)
		want = "an integer"
	case *time.Duration:
		*p, err = time.ParseDuration(s)
		want = "a duration like 30s or 15m"
	case *bool:
		*p, err = strconv.ParseBool(s)
		want = "true or false (1 or 0)"
	case *string:
		*p = s
	case *[]string:
		for e := range strings.SplitSeq(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				*p = append(*p, e)
			}
		}
	}
	if err != nil {
		return v, errors.New(want)
	}
	return v, nil
}

func formatValue[T Value](v T) string {
	switch x := any(v).(type) {
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Duration:
		return FormatDuration(x)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case []string:
		return strings.Join(x, ",")
	}
	panic(fmt.Sprintf("envconf: no format for %T", v)) // unreachable: Value
}

// FormatDuration writes d as time.ParseDuration reads it, without the zero
// units Duration.String adds: 1h, 15m, 1m30s, 250ms.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// less orders the values Min, Max and Positive apply to.
func less[T any](a, b T) bool {
	switch x := any(a).(type) {
	case int:
		return x < any(b).(int)
	case int64:
		return x < any(b).(int64)
	case time.Duration:
		return x < any(b).(time.Duration)
	}
	panic(fmt.Sprintf("envconf: no order on %T", a)) // a declaration's mistake, found by its first test
}
