package sdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// FrameType tells the dashboard how a frame is shaped.
type FrameType string

const (
	FrameTable      FrameType = "table"
	FrameTimeSeries FrameType = "timeseries"
	FrameStat       FrameType = "stat"
	FrameCategories FrameType = "categories"
	FrameStatusGrid FrameType = "status-grid"
)

// FieldType is the type of a frame column.
type FieldType string

const (
	FieldString   FieldType = "string"
	FieldInt      FieldType = "int"
	FieldFloat    FieldType = "float"
	FieldBool     FieldType = "bool"
	FieldTime     FieldType = "time"
	FieldDuration FieldType = "duration"
)

// Frame is PUOD's one tabular type: named, typed columns stored
// column-wise. Cards answer frames; exporters receive frames.
type Frame struct {
	Name   string         `json:"name"`
	Type   FrameType      `json:"type"`
	Fields []*Field       `json:"fields"`
	Meta   map[string]any `json:"meta,omitempty"`
}

// Field is one column. Exactly one value slice is used, according to Type.
type Field struct {
	Name  string
	Label string
	Unit  string
	Type  FieldType

	Strings   []string
	Ints      []int64
	Floats    []float64
	Bools     []bool
	Times     []time.Time
	Durations []time.Duration
	// Nulls, when not nil, has one entry per row; true marks a null value.
	Nulls []bool
}

// NewFrame returns a frame with the given fields.
func NewFrame(name string, typ FrameType, fields ...*Field) *Frame {
	return &Frame{Name: name, Type: typ, Fields: fields}
}

// StringField returns a string column.
func StringField(name string, values ...string) *Field {
	return &Field{Name: name, Type: FieldString, Strings: values}
}

// IntField returns an integer column.
func IntField(name string, values ...int64) *Field {
	return &Field{Name: name, Type: FieldInt, Ints: values}
}

// FloatField returns a floating-point column.
func FloatField(name string, values ...float64) *Field {
	return &Field{Name: name, Type: FieldFloat, Floats: values}
}

// BoolField returns a boolean column.
func BoolField(name string, values ...bool) *Field {
	return &Field{Name: name, Type: FieldBool, Bools: values}
}

// TimeField returns a time column.
func TimeField(name string, values ...time.Time) *Field {
	return &Field{Name: name, Type: FieldTime, Times: values}
}

// DurationField returns a duration column.
func DurationField(name string, values ...time.Duration) *Field {
	return &Field{Name: name, Type: FieldDuration, Durations: values}
}

// WithUnit sets the field's unit and returns it, for chaining.
func (f *Field) WithUnit(unit string) *Field { f.Unit = unit; return f }

// WithLabel sets the field's display label and returns it, for chaining.
func (f *Field) WithLabel(label string) *Field { f.Label = label; return f }

// Len is the number of values in the field.
func (f *Field) Len() int {
	switch f.Type {
	case FieldString:
		return len(f.Strings)
	case FieldInt:
		return len(f.Ints)
	case FieldFloat:
		return len(f.Floats)
	case FieldBool:
		return len(f.Bools)
	case FieldTime:
		return len(f.Times)
	case FieldDuration:
		return len(f.Durations)
	}
	return 0
}

// IsNull reports whether row i is null.
func (f *Field) IsNull(i int) bool { return f.Nulls != nil && i < len(f.Nulls) && f.Nulls[i] }

// Value returns row i as a Go value (nil when null).
func (f *Field) Value(i int) any {
	if f.IsNull(i) {
		return nil
	}
	switch f.Type {
	case FieldString:
		return f.Strings[i]
	case FieldInt:
		return f.Ints[i]
	case FieldFloat:
		return f.Floats[i]
	case FieldBool:
		return f.Bools[i]
	case FieldTime:
		return f.Times[i]
	case FieldDuration:
		return f.Durations[i]
	}
	return nil
}

// Append adds one value to the field. v must match the field's type (an
// int for FieldInt, and so on); nil appends a null.
func (f *Field) Append(v any) error {
	if v == nil {
		n := f.Len()
		if f.Nulls == nil {
			f.Nulls = make([]bool, n, n+1)
		}
		f.Nulls = append(f.Nulls, true)
		f.appendZero()
		return nil
	}
	ok := true
	switch f.Type {
	case FieldString:
		s, isS := v.(string)
		if ok = isS; ok {
			f.Strings = append(f.Strings, s)
		}
	case FieldInt:
		switch n := v.(type) {
		case int:
			f.Ints = append(f.Ints, int64(n))
		case int64:
			f.Ints = append(f.Ints, n)
		case int32:
			f.Ints = append(f.Ints, int64(n))
		default:
			ok = false
		}
	case FieldFloat:
		switch n := v.(type) {
		case float64:
			f.Floats = append(f.Floats, n)
		case float32:
			f.Floats = append(f.Floats, float64(n))
		case int:
			f.Floats = append(f.Floats, float64(n))
		default:
			ok = false
		}
	case FieldBool:
		b, isB := v.(bool)
		if ok = isB; ok {
			f.Bools = append(f.Bools, b)
		}
	case FieldTime:
		t, isT := v.(time.Time)
		if ok = isT; ok {
			f.Times = append(f.Times, t)
		}
	case FieldDuration:
		d, isD := v.(time.Duration)
		if ok = isD; ok {
			f.Durations = append(f.Durations, d)
		}
	default:
		return fmt.Errorf("field %q has unknown type %q", f.Name, f.Type)
	}
	if !ok {
		return fmt.Errorf("field %q is %s, cannot append %T", f.Name, f.Type, v)
	}
	if f.Nulls != nil {
		f.Nulls = append(f.Nulls, false)
	}
	return nil
}

func (f *Field) appendZero() {
	switch f.Type {
	case FieldString:
		f.Strings = append(f.Strings, "")
	case FieldInt:
		f.Ints = append(f.Ints, 0)
	case FieldFloat:
		f.Floats = append(f.Floats, 0)
	case FieldBool:
		f.Bools = append(f.Bools, false)
	case FieldTime:
		f.Times = append(f.Times, time.Time{})
	case FieldDuration:
		f.Durations = append(f.Durations, 0)
	}
}

// AppendRow adds one value per field, in field order. When a value does
// not fit its field, it returns the error and leaves the frame unchanged.
func (fr *Frame) AppendRow(values ...any) error {
	if len(values) != len(fr.Fields) {
		return fmt.Errorf("frame %q has %d fields, row has %d values", fr.Name, len(fr.Fields), len(values))
	}
	for i, v := range values {
		if err := fr.Fields[i].Append(v); err != nil {
			for _, f := range fr.Fields[:i] {
				f.truncate(f.Len() - 1)
			}
			return err
		}
	}
	return nil
}

// truncate keeps the first n values and null flags.
func (f *Field) truncate(n int) {
	switch f.Type {
	case FieldString:
		f.Strings = f.Strings[:n]
	case FieldInt:
		f.Ints = f.Ints[:n]
	case FieldFloat:
		f.Floats = f.Floats[:n]
	case FieldBool:
		f.Bools = f.Bools[:n]
	case FieldTime:
		f.Times = f.Times[:n]
	case FieldDuration:
		f.Durations = f.Durations[:n]
	}
	if len(f.Nulls) > n {
		f.Nulls = f.Nulls[:n]
	}
}

// Rows is the number of rows (the length of the first field).
func (fr *Frame) Rows() int {
	if len(fr.Fields) == 0 {
		return 0
	}
	return fr.Fields[0].Len()
}

// Field returns the field with the given name, or nil.
func (fr *Frame) Field(name string) *Field {
	for _, f := range fr.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Validate checks that every field has a known type, a name and the same
// number of values.
func (fr *Frame) Validate() error {
	seen := map[string]bool{}
	for i, f := range fr.Fields {
		if f == nil {
			return fmt.Errorf("frame %q: field %d is nil", fr.Name, i)
		}
		if f.Name == "" {
			return fmt.Errorf("frame %q: field %d has no name", fr.Name, i)
		}
		if seen[f.Name] {
			return fmt.Errorf("frame %q: field name %q is used twice", fr.Name, f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case FieldString, FieldInt, FieldFloat, FieldBool, FieldTime, FieldDuration:
		default:
			return fmt.Errorf("frame %q: field %q has unknown type %q", fr.Name, f.Name, f.Type)
		}
		if f.Len() != fr.Rows() {
			return fmt.Errorf("frame %q: field %q has %d values, field %q has %d", fr.Name, f.Name, f.Len(), fr.Fields[0].Name, fr.Rows())
		}
		if f.Nulls != nil && len(f.Nulls) != f.Len() {
			return fmt.Errorf("frame %q: field %q has %d null flags for %d values", fr.Name, f.Name, len(f.Nulls), f.Len())
		}
	}
	return nil
}

// fieldJSON is the JSON shape of a field served to the web UI: times are
// RFC 3339 strings, durations milliseconds, nulls null.
type fieldJSON struct {
	Name   string    `json:"name"`
	Label  string    `json:"label,omitempty"`
	Type   FieldType `json:"type"`
	Unit   string    `json:"unit,omitempty"`
	Values []any     `json:"values"`
}

// MarshalJSON encodes a field column-wise.
func (f *Field) MarshalJSON() ([]byte, error) {
	n := f.Len()
	out := fieldJSON{Name: f.Name, Label: f.Label, Type: f.Type, Unit: f.Unit, Values: make([]any, n)}
	for i := 0; i < n; i++ {
		v := f.Value(i)
		switch t := v.(type) {
		case time.Time:
			v = t.UTC().Format(time.RFC3339Nano)
		case time.Duration:
			v = t.Milliseconds()
		}
		out.Values[i] = v
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (f *Field) UnmarshalJSON(b []byte) error {
	var in struct {
		Name   string            `json:"name"`
		Label  string            `json:"label"`
		Type   FieldType         `json:"type"`
		Unit   string            `json:"unit"`
		Values []json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*f = Field{Name: in.Name, Label: in.Label, Type: in.Type, Unit: in.Unit}
	for i, raw := range in.Values {
		if string(raw) == "null" {
			if err := f.Append(nil); err != nil {
				return err
			}
			continue
		}
		v, err := decodeValue(f.Type, raw)
		if err != nil {
			return fmt.Errorf("field %q value %d: %w", f.Name, i, err)
		}
		if err := f.Append(v); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(t FieldType, raw json.RawMessage) (any, error) {
	switch t {
	case FieldString:
		return decodeAs[string](raw)
	case FieldInt:
		return decodeAs[int64](raw)
	case FieldFloat:
		return decodeAs[float64](raw)
	case FieldBool:
		return decodeAs[bool](raw)
	case FieldTime:
		s, err := decodeAs[string](raw)
		if err != nil {
			return nil, err
		}
		return time.Parse(time.RFC3339Nano, s)
	case FieldDuration:
		ms, err := decodeAs[int64](raw)
		return time.Duration(ms) * time.Millisecond, err
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

func decodeAs[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
