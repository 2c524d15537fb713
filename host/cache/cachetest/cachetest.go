// Package cachetest is the contract every cache.Cache implementation must
// pass. An implementation's tests call Run with a constructor of fresh,
// empty caches; whatever passes here can replace any other implementation
// behind card queries.
package cachetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/host/cache"
)

// Run checks the contract on caches returned by newCache, which must give
// every call a fresh, empty cache (its own key space), closed by the test
// or at its end.
func Run(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	t.Helper()
	t.Run("GetSet", func(t *testing.T) { t.Parallel(); testGetSet(t, newCache(t)) })
	t.Run("ValuesAreCopied", func(t *testing.T) { t.Parallel(); testCopies(t, newCache(t)) })
	t.Run("TTLExpiry", func(t *testing.T) { t.Parallel(); testTTL(t, newCache(t)) })
	t.Run("InvalidTTL", func(t *testing.T) { t.Parallel(); testInvalidTTL(t, newCache(t)) })
	t.Run("TagVersions", func(t *testing.T) { t.Parallel(); testTags(t, newCache(t)) })
	t.Run("TagVersionsInKeys", func(t *testing.T) { t.Parallel(); testVersionedKeys(t, newCache(t)) })
	t.Run("Close", func(t *testing.T) { t.Parallel(); testClose(t, newCache(t)) })
}

func testGetSet(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	if v, ok, err := c.Get(ctx, "absent"); err != nil || ok || v != nil {
		t.Fatalf("Get(absent) = %q, %v, %v; want nil, false, nil", v, ok, err)
	}
	cases := []struct {
		key   string
		value []byte
	}{
		{"p1:card:a", []byte(`{"frame":1}`)},
		{"p1:card:b", []byte{0, 1, 2, 255}}, // binary-safe
		{"p2:card:a", []byte(`{"frame":"other profile"}`)},
		{"p1:empty", []byte{}},
		{"p1:unicode:☃ key with spaces", []byte("ok")},
	}
	for _, tc := range cases {
		if err := c.Set(ctx, tc.key, tc.value, time.Hour); err != nil {
			t.Fatalf("Set(%q): %v", tc.key, err)
		}
	}
	for _, tc := range cases {
		v, ok, err := c.Get(ctx, tc.key)
		if err != nil || !ok || !bytes.Equal(v, tc.value) {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q, true, nil", tc.key, v, ok, err, tc.value)
		}
	}
	// Overwrite replaces the value.
	if err := c.Set(ctx, "p1:card:a", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "p1:card:a"); err != nil || !ok || string(v) != "v2" {
		t.Fatalf("Get after overwrite = %q, %v, %v; want v2", v, ok, err)
	}
}

// testCopies: neither the caller's slice given to Set nor the slice Get
// returned is shared with the cache.
func testCopies(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	in := []byte("original")
	if err := c.Set(ctx, "k", in, time.Hour); err != nil {
		t.Fatal(err)
	}
	copy(in, "MUTATED!")
	out, _, err := c.Get(ctx, "k")
	if err != nil || string(out) != "original" {
		t.Fatalf("after mutating the slice given to Set, Get = %q, %v; want original", out, err)
	}
	copy(out, "MUTATED!")
	again, _, err := c.Get(ctx, "k")
	if err != nil || string(again) != "original" {
		t.Fatalf("after mutating the slice Get returned, Get = %q, %v; want original", again, err)
	}
}

// testTTL: an entry disappears once its TTL has passed (polled, with a
// generous deadline: no timing assertion), and a long-lived one set at the
// same time does not.
func testTTL(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	if err := c.Set(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "long", []byte("y"), time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := c.Get(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an entry with a 50ms TTL was still there after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok, err := c.Get(ctx, "long"); err != nil || !ok || string(v) != "y" {
		t.Fatalf("Get(long) = %q, %v, %v; the 1h entry must survive", v, ok, err)
	}
}

func testInvalidTTL(t *testing.T, c cache.Cache) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := c.Set(t.Context(), "k", []byte("v"), ttl); !errors.Is(err, cache.ErrInvalidTTL) {
			t.Fatalf("Set with ttl %v: %v, want ErrInvalidTTL", ttl, err)
		}
	}
	if _, ok, err := c.Get(t.Context(), "k"); err != nil || ok {
		t.Fatalf("a rejected Set stored something: ok=%v err=%v", ok, err)
	}
}

func testTags(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	got, err := c.TagVersions(ctx, []string{"p1:runs", "p1:source:s1"})
	if err != nil || !equal(got, []uint64{0, 0}) {
		t.Fatalf("versions of unknown tags = %v, %v; want [0 0]", got, err)
	}
	if got, err := c.TagVersions(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("TagVersions(nil) = %v, %v; want [], nil", got, err)
	}
	if err := c.Bump(ctx); err != nil {
		t.Fatalf("Bump of no tag: %v", err)
	}
	steps := []struct {
		bump []string
		want []uint64 // versions of p1:runs, p1:source:s1, p2:runs
	}{
		{[]string{"p1:runs"}, []uint64{1, 0, 0}},
		{[]string{"p1:runs", "p1:source:s1"}, []uint64{2, 1, 0}},
		{[]string{"p2:runs"}, []uint64{2, 1, 1}},
		{[]string{"p1:source:s1", "p1:source:s1"}, []uint64{2, 3, 1}}, // each occurrence counts
	}
	for i, s := range steps {
		if err := c.Bump(ctx, s.bump...); err != nil {
			t.Fatalf("step %d: Bump(%v): %v", i, s.bump, err)
		}
		got, err := c.TagVersions(ctx, []string{"p1:runs", "p1:source:s1", "p2:runs"})
		if err != nil || !equal(got, s.want) {
			t.Fatalf("step %d: after Bump(%v) versions = %v, %v; want %v", i, s.bump, got, err, s.want)
		}
	}
	// Order follows the request, duplicates included.
	got, err = c.TagVersions(ctx, []string{"p2:runs", "never", "p1:runs", "p2:runs"})
	if err != nil || !equal(got, []uint64{1, 0, 2, 1}) {
		t.Fatalf("TagVersions in request order = %v, %v; want [1 0 2 1]", got, err)
	}
}

// testVersionedKeys is the way card queries use the cache: a key embeds
// the versions of its tags, so a bump makes the old entry unreachable.
func testVersionedKeys(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	tags := []string{"p1:runs", "p1:pipeline:etl"}
	key := func() string {
		v, err := c.TagVersions(ctx, tags)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("p1:card:success_rate:%v", v)
	}
	k1 := key()
	if err := c.Set(ctx, k1, []byte("stale"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, key()); !ok {
		t.Fatal("entry not found under the same tag versions")
	}
	if err := c.Bump(ctx, "p1:pipeline:etl"); err != nil {
		t.Fatal(err)
	}
	k2 := key()
	if k2 == k1 {
		t.Fatalf("key unchanged after a bump: %s", k2)
	}
	if v, ok, err := c.Get(ctx, k2); err != nil || ok {
		t.Fatalf("after a bump the lookup found %q (err %v); want a miss", v, err)
	}
	// Bumping an unrelated tag changes nothing.
	if err := c.Bump(ctx, "p2:runs"); err != nil {
		t.Fatal(err)
	}
	if k3 := key(); k3 != k2 {
		t.Fatalf("key changed by an unrelated bump: %s → %s", k2, k3)
	}
}

func testClose(t *testing.T, c cache.Cache) {
	ctx := t.Context()
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v (Close must be idempotent)", err)
	}
	ops := map[string]func() error{
		"Get":         func() error { _, _, err := c.Get(ctx, "k"); return err },
		"Set":         func() error { return c.Set(ctx, "k", []byte("v"), time.Hour) },
		"TagVersions": func() error { _, err := c.TagVersions(ctx, []string{"t"}); return err },
		"Bump":        func() error { return c.Bump(ctx, "t") },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, cache.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
