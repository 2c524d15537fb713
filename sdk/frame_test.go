package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

var t0 = time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)

// withNulls builds a field by appending values (nil is null).
func withNulls(t testing.TB, f *sdk.Field, values ...any) *sdk.Field {
	t.Helper()
	for _, v := range values {
		if err := f.Append(v); err != nil {
			t.Fatalf("Append(%v) to %s: %v", v, f.Type, err)
		}
	}
	return f
}

// fieldCases is one field of every type, with and without nulls.
func fieldCases(t testing.TB) []struct {
	name  string
	field *sdk.Field
} {
	return []struct {
		name  string
		field *sdk.Field
	}{
		{"string", sdk.StringField("s", "a", "", "ünï \"q\"").WithLabel("Name")},
		{"string nulls", withNulls(t, &sdk.Field{Name: "s", Type: sdk.FieldString}, "a", nil, "c", nil)},
		{"int", sdk.IntField("i", 0, -1, 1<<62).WithUnit("rows")},
		{"int nulls", withNulls(t, &sdk.Field{Name: "i", Type: sdk.FieldInt}, nil, int64(5), 7)},
		{"float", sdk.FloatField("f", 0, -1.5, 3.25e10).WithUnit("percent")},
		{"float nulls", withNulls(t, &sdk.Field{Name: "f", Type: sdk.FieldFloat}, 1.5, nil)},
		{"bool", sdk.BoolField("b", true, false)},
		{"bool nulls", withNulls(t, &sdk.Field{Name: "b", Type: sdk.FieldBool}, nil, false, true)},
		{"time", sdk.TimeField("t", t0, t0.Add(time.Nanosecond), time.Time{})},
		{"time nulls", withNulls(t, &sdk.Field{Name: "t", Type: sdk.FieldTime}, t0, nil, time.Time{})},
		{"duration", sdk.DurationField("d", 0, 1500*time.Millisecond, 3*time.Hour)},
		{"duration nulls", withNulls(t, &sdk.Field{Name: "d", Type: sdk.FieldDuration}, nil, 2*time.Second, nil)},
		{"empty", sdk.IntField("e")},
	}
}

// assertFieldEqual compares two fields value by value (times by instant,
// nulls by position).
func assertFieldEqual(t *testing.T, got, want *sdk.Field) {
	t.Helper()
	if got.Name != want.Name || got.Label != want.Label || got.Unit != want.Unit || got.Type != want.Type {
		t.Fatalf("field header = %q %q %q %q, want %q %q %q %q", got.Name, got.Label, got.Unit, got.Type, want.Name, want.Label, want.Unit, want.Type)
	}
	if got.Len() != want.Len() {
		t.Fatalf("field %q has %d values, want %d", got.Name, got.Len(), want.Len())
	}
	for i := 0; i < want.Len(); i++ {
		if got.IsNull(i) != want.IsNull(i) {
			t.Errorf("row %d null = %v, want %v", i, got.IsNull(i), want.IsNull(i))
			continue
		}
		g, w := got.Value(i), want.Value(i)
		if gt, ok := g.(time.Time); ok {
			if wt := w.(time.Time); !gt.Equal(wt) {
				t.Errorf("row %d = %v, want %v", i, gt, wt)
			}
			continue
		}
		if g != w {
			t.Errorf("row %d = %#v, want %#v", i, g, w)
		}
	}
}

func TestFrame_jsonRoundTrip(t *testing.T) {
	for _, c := range fieldCases(t) {
		t.Run(c.name, func(t *testing.T) {
			in := sdk.NewFrame("f", sdk.FrameTable, c.field)
			in.Meta = map[string]any{"note": "x", "count": 2.0}
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var out sdk.Frame
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			if out.Name != "f" || out.Type != sdk.FrameTable || out.Meta["note"] != "x" || out.Meta["count"] != 2.0 {
				t.Errorf("frame header = %+v", out)
			}
			if len(out.Fields) != 1 {
				t.Fatalf("fields = %v", out.Fields)
			}
			assertFieldEqual(t, out.Fields[0], c.field)
			if err := out.Validate(); err != nil {
				t.Errorf("decoded frame is invalid: %v", err)
			}
		})
	}
}

func TestField_jsonShape(t *testing.T) {
	cases := []struct {
		name  string
		field *sdk.Field
		want  string
	}{
		{"times are UTC RFC 3339", sdk.TimeField("t", time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))), `{"name":"t","type":"time","values":["2026-01-02T02:04:05.000000006Z"]}`},
		{"durations are milliseconds", sdk.DurationField("d", 1500*time.Millisecond, 999*time.Microsecond).WithUnit("ms"), `{"name":"d","type":"duration","unit":"ms","values":[1500,0]}`},
		{"nulls are null", withNulls(t, &sdk.Field{Name: "s", Type: sdk.FieldString}, "a", nil), `{"name":"s","type":"string","values":["a",null]}`},
		{"empty is an empty list", sdk.IntField("i"), `{"name":"i","type":"int","values":[]}`},
		{"label kept", sdk.BoolField("b", true).WithLabel("B"), `{"name":"b","label":"B","type":"bool","values":[true]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.field)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("JSON = %s, want %s", b, c.want)
			}
		})
	}
}

func TestField_unmarshalRejectsMistypedValues(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"string in int field", `{"name":"a","type":"int","values":[1,"x"]}`, `field "a" value 1`},
		{"fraction in int field", `{"name":"a","type":"int","values":[1.5]}`, `field "a" value 0`},
		{"number in string field", `{"name":"a","type":"string","values":[1]}`, `field "a" value 0`},
		{"bad time", `{"name":"a","type":"time","values":["yesterday"]}`, `field "a" value 0`},
		{"bool in float field", `{"name":"a","type":"float","values":[true]}`, `field "a" value 0`},
		{"unknown type", `{"name":"a","type":"money","values":[1]}`, `unknown type "money"`},
		{"values not a list", `{"name":"a","type":"int","values":3}`, "cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f sdk.Field
			err := json.Unmarshal([]byte(c.json), &f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestFrame_validate(t *testing.T) {
	cases := []struct {
		name  string
		frame *sdk.Frame
		want  string // "" : valid
	}{
		{"valid", sdk.NewFrame("f", sdk.FrameTable, sdk.StringField("a", "x", "y"), sdk.IntField("b", 1, 2)), ""},
		{"no fields", sdk.NewFrame("f", sdk.FrameStat), ""},
		{"no rows", sdk.NewFrame("f", sdk.FrameStat, sdk.IntField("a"), sdk.TimeField("b")), ""},
		{"valid nulls", sdk.NewFrame("f", sdk.FrameTable, withNulls(t, sdk.IntField("a"), 1, nil)), ""},
		{"unequal lengths", sdk.NewFrame("f", sdk.FrameTable, sdk.StringField("a", "x", "y"), sdk.IntField("b", 1)), `field "b" has 1 values, field "a" has 2`},
		{"longer later field", sdk.NewFrame("f", sdk.FrameTable, sdk.StringField("a", "x"), sdk.IntField("b", 1, 2)), `field "b" has 2 values`},
		{"duplicate names", sdk.NewFrame("f", sdk.FrameTable, sdk.IntField("a", 1), sdk.FloatField("a", 1)), `field name "a" is used twice`},
		{"unknown type", sdk.NewFrame("f", sdk.FrameTable, &sdk.Field{Name: "a", Type: "money"}), `field "a" has unknown type "money"`},
		{"empty type", sdk.NewFrame("f", sdk.FrameTable, &sdk.Field{Name: "a"}), `unknown type ""`},
		{"nil field", sdk.NewFrame("f", sdk.FrameTable, sdk.IntField("a", 1), nil), "field 1 is nil"},
		{"unnamed field", sdk.NewFrame("f", sdk.FrameTable, sdk.IntField("", 1)), "field 0 has no name"},
		{"short null flags", sdk.NewFrame("f", sdk.FrameTable, &sdk.Field{Name: "a", Type: sdk.FieldInt, Ints: []int64{1, 2}, Nulls: []bool{true}}), "1 null flags for 2 values"},
		{"values in the wrong slice", sdk.NewFrame("f", sdk.FrameTable, sdk.IntField("a", 1), &sdk.Field{Name: "b", Type: sdk.FieldInt, Floats: []float64{1}}), `field "b" has 0 values`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.frame.Validate()
			if c.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func newRowFrame() *sdk.Frame {
	return sdk.NewFrame("f", sdk.FrameTable,
		sdk.StringField("s"), sdk.IntField("i"), sdk.FloatField("f"), sdk.BoolField("b"), sdk.TimeField("t"), sdk.DurationField("d"))
}

func TestFrame_appendRow(t *testing.T) {
	cases := []struct {
		name   string
		values []any
		want   string // "" : appended; else the error contains it and the frame is unchanged
	}{
		{"every type", []any{"x", int64(1), 1.5, true, t0, time.Second}, ""},
		{"int and float conversions", []any{"x", 3, float32(0.5), false, t0, time.Duration(0)}, ""},
		{"int32 and int into float", []any{"x", int32(3), 2, false, t0, time.Duration(0)}, ""},
		{"all nulls", []any{nil, nil, nil, nil, nil, nil}, ""},
		{"too few values", []any{"x"}, "has 6 fields, row has 1 values"},
		{"too many values", []any{"x", 1, 1.0, true, t0, time.Second, 7}, "has 6 fields, row has 7 values"},
		{"string field given an int", []any{1, 1, 1.0, true, t0, time.Second}, `field "s" is string, cannot append int`},
		{"int field given a string", []any{"x", "1", 1.0, true, t0, time.Second}, `field "i" is int, cannot append string`},
		{"int field given a float", []any{"x", 1.0, 1.0, true, t0, time.Second}, `field "i" is int, cannot append float64`},
		{"float field given an int64", []any{"x", 1, int64(1), true, t0, time.Second}, `field "f" is float, cannot append int64`},
		{"bool field given a string", []any{"x", 1, 1.0, "true", t0, time.Second}, `field "b" is bool, cannot append string`},
		{"time field given a string", []any{"x", 1, 1.0, true, "2026-01-01", time.Second}, `field "t" is time, cannot append string`},
		{"duration field given an int", []any{"x", 1, 1.0, true, t0, 1000}, `field "d" is duration, cannot append int`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := newRowFrame()
			// One good row first, with a null, so Nulls is in play.
			if err := fr.AppendRow("a", nil, 0.5, true, t0, time.Minute); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(fr)
			err := fr.AppendRow(c.values...)
			if c.want == "" {
				if err != nil {
					t.Fatalf("AppendRow: %v", err)
				}
				if fr.Rows() != 2 {
					t.Errorf("rows = %d, want 2", fr.Rows())
				}
				for i, v := range c.values {
					if got := fr.Fields[i].IsNull(1); got != (v == nil) {
						t.Errorf("field %d row 1 null = %v", i, got)
					}
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("AppendRow error = %v, want one containing %q", err, c.want)
				}
				if after, _ := json.Marshal(fr); !bytes.Equal(before, after) {
					t.Errorf("a refused row changed the frame:\nbefore %s\nafter  %s", before, after)
				}
			}
			if err := fr.Validate(); err != nil {
				t.Errorf("frame invalid after AppendRow: %v", err)
			}
		})
	}
}

func TestField_appendToUnknownType(t *testing.T) {
	f := &sdk.Field{Name: "x", Type: "money"}
	if err := f.Append(1); err == nil || !strings.Contains(err.Error(), `unknown type "money"`) {
		t.Errorf("Append = %v", err)
	}
}

func TestFrame_lookups(t *testing.T) {
	fr := sdk.NewFrame("f", sdk.FrameTable, sdk.StringField("a", "x", "y"), sdk.IntField("b", 1, 2))
	if fr.Rows() != 2 || fr.Field("b") == nil || fr.Field("b").Value(1) != int64(2) || fr.Field("zz") != nil {
		t.Errorf("lookups wrong on %+v", fr)
	}
	if sdk.NewFrame("e", sdk.FrameStat).Rows() != 0 {
		t.Error("a frame without fields has rows")
	}
}

func TestFrame_protoRoundTrip(t *testing.T) {
	for _, c := range fieldCases(t) {
		t.Run(c.name, func(t *testing.T) {
			in := sdk.NewFrame("f", sdk.FrameTimeSeries, c.field)
			in.Meta = map[string]any{"k": "v"}
			got := protoRoundTrip(t, in)
			if got.Name != "f" || got.Type != sdk.FrameTimeSeries || got.Meta["k"] != "v" {
				t.Errorf("frame header = %+v", got)
			}
			assertFieldEqual(t, got.Fields[0], c.field)
		})
	}
}

func protoRoundTrip(t *testing.T, f *sdk.Frame) *sdk.Frame {
	t.Helper()
	wire, err := proto.Marshal(sdk.FrameToProto(f))
	if err != nil {
		t.Fatal(err)
	}
	var p pb.Frame
	if err := proto.Unmarshal(wire, &p); err != nil {
		t.Fatal(err)
	}
	return sdk.FrameFromProto(&p)
}

func TestFrameToProto_nullsBitmap(t *testing.T) {
	cases := []struct {
		name  string
		nulls []int // null rows
		rows  int
		want  []byte
	}{
		{"no nulls", nil, 3, nil},
		{"all-false flags send no bitmap", []int{}, 3, nil},
		{"first row", []int{0}, 3, []byte{0x01}},
		{"row 7 and 8 straddle a byte", []int{0, 7, 8, 9}, 10, []byte{0x81, 0x03}},
		{"last of 17", []int{16}, 17, []byte{0x00, 0x00, 0x01}},
		{"every row", []int{0, 1, 2, 3, 4, 5, 6, 7}, 8, []byte{0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := sdk.IntField("a", make([]int64, c.rows)...)
			if c.nulls != nil {
				f.Nulls = make([]bool, c.rows)
				for _, i := range c.nulls {
					f.Nulls[i] = true
				}
			}
			p := sdk.FrameToProto(sdk.NewFrame("f", sdk.FrameTable, f))
			if got := p.GetFields()[0].GetNulls(); !bytes.Equal(got, c.want) {
				t.Errorf("bitmap = %08b, want %08b", got, c.want)
			}
			back := sdk.FrameFromProto(p).Fields[0]
			for i := 0; i < c.rows; i++ {
				if back.IsNull(i) != f.IsNull(i) {
					t.Errorf("row %d null = %v, want %v", i, back.IsNull(i), f.IsNull(i))
				}
			}
			if err := sdk.NewFrame("f", sdk.FrameTable, back).Validate(); err != nil {
				t.Errorf("decoded frame invalid: %v", err)
			}
		})
	}
}

func TestFrameProto_zeroTimesAndUnknowns(t *testing.T) {
	f := sdk.NewFrame("f", sdk.FrameStatusGrid, sdk.TimeField("t", time.Time{}, t0))
	p := sdk.FrameToProto(f)
	if got := p.GetFields()[0].GetIntValues(); got[0] != 0 || got[1] != t0.UnixNano() {
		t.Errorf("time values on the wire = %v", got)
	}
	back := sdk.FrameFromProto(p)
	if !back.Fields[0].Times[0].IsZero() || !back.Fields[0].Times[1].Equal(t0) || back.Fields[0].Times[1].Location() != time.UTC {
		t.Errorf("times back = %v", back.Fields[0].Times)
	}
	for _, ft := range []sdk.FrameType{sdk.FrameTable, sdk.FrameTimeSeries, sdk.FrameStat, sdk.FrameCategories, sdk.FrameStatusGrid} {
		if got := sdk.FrameFromProto(sdk.FrameToProto(sdk.NewFrame("x", ft))).Type; got != ft {
			t.Errorf("frame type %q came back as %q", ft, got)
		}
	}
	unknown := sdk.FrameFromProto(&pb.Frame{Type: pb.FrameType(99), Fields: []*pb.Field{{Name: "z", Type: pb.FieldType(99), IntValues: []int64{1}}}})
	if unknown.Type != "" || unknown.Fields[0].Type != "" || unknown.Fields[0].Len() != 0 {
		t.Errorf("unknown types decoded as %+v / %+v", unknown, unknown.Fields[0])
	}
	if sdk.FrameToProto(nil) != nil || sdk.FrameFromProto(nil) != nil {
		t.Error("nil frames must stay nil")
	}
}

func TestQueryCard_frameCrossesWireWithNulls(t *testing.T) {
	want := sdk.NewFrame("f", sdk.FrameTable,
		withNulls(t, sdk.StringField("s"), "a", nil, "c", "d", "e", "f", "g", "h", nil),
		withNulls(t, sdk.TimeField("t"), t0, time.Time{}, nil, t0, t0, t0, t0, t0, t0),
		withNulls(t, sdk.DurationField("d"), nil, time.Second, time.Duration(0), time.Duration(0), time.Duration(0), time.Duration(0), time.Duration(0), time.Duration(0), time.Hour),
		withNulls(t, sdk.FloatField("f").WithUnit("%"), 1.0, 2.0, nil, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
	)
	s := serveKit(t, &behaviour{card: func(context.Context, sdk.CardQuery) (*sdk.Frame, error) { return want, nil }})
	s.configure(t, "i", 1, `{"name": "n"}`, nil)
	got, err := s.QueryCard(ctx(t), "i", sdk.CardQuery{CardType: "runs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fields) != len(want.Fields) {
		t.Fatalf("fields = %d", len(got.Fields))
	}
	for i := range want.Fields {
		assertFieldEqual(t, got.Fields[i], want.Fields[i])
	}
}
