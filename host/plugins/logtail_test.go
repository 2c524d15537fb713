package plugins

import (
	"fmt"
	"strings"
	"testing"
)

func TestLogTail_keepsTheLastLines(t *testing.T) {
	tail := newLogTail(3)
	if got := tail.lines(); len(got) != 0 {
		t.Fatalf("empty tail: %q", got)
	}
	for i := 1; i <= 5; i++ {
		tail.add(fmt.Sprint(i))
	}
	if got := strings.Join(tail.lines(), ","); got != "3,4,5" {
		t.Fatalf("lines = %s", got)
	}
}

func TestLineWriter_splitsLines(t *testing.T) {
	var got []string
	w := newLineWriter(func(s string) { got = append(got, s) })
	// go-plugin writes the text and the newline separately.
	for _, p := range []string{"first", "\n", "sec", "ond\nthird\r\n", "unfinished"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "|") != "first|second|third" {
		t.Fatalf("lines = %q", got)
	}
}

func TestFormatStderrLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{
			`{"@level":"warn","@message":"slow page","@module":"acme.hello.s1","@timestamp":"2026-01-02T03:04:05.000000Z","page":3,"url":"http://x/y z"}`,
			`2026-01-02T03:04:05.000000Z [WARN] acme.hello.s1: slow page page=3 url="http://x/y z"`,
		},
		{"panic: runtime error: index out of range", "panic: runtime error: index out of range"},
		{`{"not":"hclog"}`, `{"not":"hclog"}`},
		{`{broken`, `{broken`},
	}
	for _, tt := range tests {
		if got := formatStderrLine(tt.in); got != tt.want {
			t.Errorf("formatStderrLine(%s)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
