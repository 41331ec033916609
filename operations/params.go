package operations

import (
	"context"
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cbfs/cbfs/opqueue"
)

// The registry of operation kinds. A kind is its parameter struct (one of
// the *Params types in kinds.go): Kind names it, its fields are its
// parameters, Check says what the tags cannot, and run runs it; what it
// is beyond that, its own methods say, never its name: checks (checker:
// what Validate opens), lock and writesBackupPath (writer: the path it
// writes, locked while it runs, and whether Runner.AfterWrite follows it),
// the restore methods (restorer). A new verb is that struct, its line in
// registry, its cbctl command file and its field in cbctl's command tree
// (ctl/cli.go). The struct
// is what cbctl fills (its kong commands embed it), what travels as
// Carbonio's "name value" pairs (Encode, Decode: the map cbctl sends and
// the queue stores as JSON) and what the run reads, so a new parameter is
// one field in one place.
//
// The tags of a parameter field:
//
//	pair:"name"         Carbonio's name of the parameter (the pair's name, the key in the queue)
//	required:""         it must be given (kong reads the same tag)
//	what:"item id"      how error messages name it (default: the pair name)
//	enum:"a,b,"         the values it takes, "" included when listed (kong reads the same tag)
//	default:"v"         its value when not given (kong reads the same tag)
//
// and kong's own (name, arg, help, placeholder, negatable), which only
// cbctl reads. Field types: string, bool, int, []string (a comma-separated
// list), or a type with UnmarshalText and MarshalText (Size, DateOrFirst,
// DateOrLast), which kong calls too, so cbctl refuses a bad value before
// anything is sent. Bools and ints are always encoded, other values only
// when not empty.
type Params interface {
	// Kind is the operation kind's Carbonio name (doSmartScan, ...).
	Kind() string
	// Check checks what the tags cannot say (ranges, a window's order).
	// Decode calls it.
	Check() error
	run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error)
}

// registry lists every kind, in Carbonio's order.
var registry = []Params{
	&SmartScanParams{}, &AccountScanParams{}, &PurgeParams{}, &ExportParams{}, &CoherencyCheckParams{},
	&ExternalRestoreParams{}, &RestoreOnNewAccountParams{}, &UndeleteParams{}, &ItemRestoreParams{},
	&BackupServerCustomizationsParams{}, &IndexMessagesParams{}, &ExportMessagesParams{},
}

// Kinds lists every kind a Runner handles.
var Kinds = func() []string {
	var out []string
	for _, p := range registry {
		out = append(out, p.Kind())
	}
	return out
}()

// NewParams returns kind's parameter struct with every default applied.
func NewParams(kind string) (Params, error) {
	for _, p := range registry {
		if p.Kind() == kind {
			np := reflect.New(reflect.TypeOf(p).Elem()).Interface().(Params)
			for _, f := range fieldsOf(np) {
				if d, ok := f.tag.Lookup("default"); ok {
					if err := f.set(d); err != nil {
						panic(fmt.Sprintf("%s: bad default of %s: %v", kind, f.pair, err))
					}
				}
			}
			return np, nil
		}
	}
	return nil, fmt.Errorf("%w %q", opqueue.ErrUnknownKind, kind)
}

// Decode reads kind's pairs: unknown names, values of the wrong type or
// out of their enum, and missing required ones are errors; what is not
// given (or empty) takes its default. Then Check.
func Decode(kind string, pairs map[string]string) (Params, error) {
	p, err := NewParams(kind)
	if err != nil {
		return nil, err
	}
	fields := fieldsOf(p)
	for name := range pairs {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.pair == name }) {
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", name, strings.Join(pairNames(fields), ", "))
		}
	}
	for _, f := range fields {
		v := strings.TrimSpace(pairs[f.pair])
		if v != "" {
			if err := f.set(v); err != nil {
				return nil, err
			}
		}
		if enum, ok := f.tag.Lookup("enum"); ok && f.v.Kind() == reflect.String {
			if got := f.v.String(); !slices.ContainsFunc(strings.Split(enum, ","), func(e string) bool { return strings.EqualFold(e, got) }) {
				return nil, fmt.Errorf("%s must be one of %s, not %q", f.what(), strings.Trim(enum, ","), got)
			}
		}
		if _, ok := f.tag.Lookup("required"); ok && f.v.IsZero() {
			return nil, fmt.Errorf("no %s given", f.what())
		}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// Encode is p as pairs (what cbctl sends and the queue stores).
func Encode(p Params) map[string]string {
	out := map[string]string{}
	for _, f := range fieldsOf(p) {
		if m, ok := f.v.Addr().Interface().(encoding.TextMarshaler); ok {
			if b, _ := m.MarshalText(); len(b) > 0 {
				out[f.pair] = string(b)
			}
			continue
		}
		switch f.v.Kind() {
		case reflect.Bool:
			out[f.pair] = strconv.FormatBool(f.v.Bool())
		case reflect.Int:
			out[f.pair] = strconv.FormatInt(f.v.Int(), 10)
		case reflect.String:
			if s := f.v.String(); s != "" {
				out[f.pair] = s
			}
		case reflect.Slice:
			if s := strings.Join(f.v.Interface().([]string), ","); s != "" {
				out[f.pair] = s
			}
		}
	}
	return out
}

// NonDefault is the pairs of params (as Encode writes them and the queue
// stores them) that differ from kind's defaults: what a listing shows, so
// that "concurrent_accounts 1 filter_deleted true ..." does not hide the
// one parameter that was given. An unknown kind keeps them all.
func NonDefault(kind string, params map[string]string) map[string]string {
	p, err := NewParams(kind)
	if err != nil {
		return params
	}
	def := Encode(p)
	out := map[string]string{}
	for k, v := range params {
		// def holds every bool and int and each non-empty default; an
		// empty value is its field's empty default.
		if d, ok := def[k]; ok && d == v || !ok && v == "" {
			continue
		}
		out[k] = v
	}
	return out
}

// Localizer is a kind whose parameters name local paths, which the client
// makes absolute before sending them (the service has another working
// directory).
type Localizer interface{ Localize() }

// Localize makes p's paths absolute, if it has any (cbctl calls it).
func Localize(p Params) {
	if l, ok := p.(Localizer); ok {
		l.Localize()
	}
}

// field is one parameter field of a Params struct.
type field struct {
	pair string
	tag  reflect.StructTag
	v    reflect.Value // addressable
}

func (f field) what() string {
	if w := f.tag.Get("what"); w != "" {
		return w
	}
	return f.pair
}

// set decodes one value into the field.
func (f field) set(v string) error {
	if u, ok := f.v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("%s: %w", f.pair, err)
		}
		return nil
	}
	switch f.v.Kind() {
	case reflect.String:
		f.v.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s must be true or false, not %q", f.what(), v)
		}
		f.v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s must be a number, not %q", f.what(), v)
		}
		f.v.SetInt(int64(n))
	case reflect.Slice:
		f.v.Set(reflect.ValueOf(splitList(v)))
	default:
		return fmt.Errorf("%s: unsupported parameter type %s", f.pair, f.v.Type())
	}
	return nil
}

// fieldsOf lists p's parameter fields (embedded structs included), in
// order.
func fieldsOf(p Params) []field {
	var out []field
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if name, ok := sf.Tag.Lookup("pair"); ok {
				out = append(out, field{pair: name, tag: sf.Tag, v: v.Field(i)})
			} else if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(p).Elem())
	return out
}

func pairNames(fields []field) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.pair)
	}
	return out
}

// splitList splits "a,b c" into its non-empty parts.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
