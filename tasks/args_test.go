package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		in, want string
		err      string
	}{
		{"", "[]", ""},
		{"1,2,3", "[1,2,3]", ""},                     // the original sample
		{`"guess","hello"`, `["guess","hello"]`, ""}, // the original sample
		{` 1 , "a b" , true, null, 1.5 `, `[1,"a b",true,null,1.5]`, ""},
		{`[1, {"k": "v"}]`, `[1,{"k":"v"}]`, ""},
		{`{"to": "a@b.c", "n": 2}`, `{"to":"a@b.c","n":2}`, ""},
		{"a,b", "", `bad args "a,b": invalid character 'a'`},
		{"1,,2", "", `bad args "1,,2"`},
		{`{"k": }`, "", `bad args "{\"k\": }"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseArgs(tt.in)
			if tt.err != "" {
				if !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || a.String() != tt.want {
				t.Fatalf("got %s, %v; want %s", a, err, tt.want)
			}
		})
	}
}

func TestArgs_Decode(t *testing.T) {
	type mail struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
		private int
	}
	tests := []struct {
		args string
		into func() any
		want string
		err  string
	}{
		{`"a@b.c","hi"`, func() any { return &mail{} }, `&{a@b.c hi 0}`, ""},
		{`{"to":"a@b.c","subject":"hi"}`, func() any { return &mail{} }, `&{a@b.c hi 0}`, ""},
		{`"a@b.c"`, func() any { return &mail{} }, `&{a@b.c  0}`, ""},
		{`4,5,6`, func() any { return &[]int{} }, `&[4 5 6]`, ""},
		{`{"to":"x","cc":"y"}`, func() any { return &mail{} }, "", `unknown field "cc"`},
		{`"a","b","c"`, func() any { return &mail{} }, "", "3 values, but tasks.mail takes 2"},
		{`1,"x"`, func() any { return &mail{} }, "", "value 1 (1) for tasks.mail.To"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			a, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			v := tt.into()
			err = a.Decode(v)
			if tt.err != "" {
				if !errors.Is(err, ErrBadArgs) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || fmt.Sprint(v) != tt.want {
				t.Fatalf("got %v, %v; want %s", v, err, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	noop := func(ctx context.Context, run *Run) error { return nil }
	if err := r.Add("a", noop); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("a", noop); !errors.Is(err, ErrDuplicateFunc) {
		t.Fatalf("second add: %v", err)
	}
	if err := AddTyped(r, "typed", func(ctx context.Context, run *Run, n []int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check("missing", Args{}); !errors.Is(err, ErrUnknownFunc) {
		t.Fatalf("unknown: %v", err)
	}
	bad, _ := ParseArgs(`"x"`)
	if _, err := r.Check("typed", bad); !errors.Is(err, ErrBadArgs) {
		t.Fatalf("typed with bad args: %v", err)
	}
	good, _ := ParseArgs(`1,2`)
	if _, err := r.Check("typed", good); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "a,typed" {
		t.Fatalf("names %s", got)
	}
}

func TestRun_OutputIsBounded(t *testing.T) {
	run := NewRun(10)
	run.Printf("0123456789abcdef")
	run.Printf("more")
	if got := run.OutputText(); got != "0123456789\n... [10 more bytes not kept]" {
		t.Fatalf("output %q", got)
	}
}

func TestNoRetry(t *testing.T) {
	err := NoRetry(errors.New("bad input"))
	if !errors.Is(err, ErrNoRetry) || !strings.Contains(err.Error(), "bad input") || NoRetry(nil) != nil {
		t.Fatalf("NoRetry: %v", err)
	}
}
