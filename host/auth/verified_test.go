package auth

import (
	"testing"
	"time"
)

func TestVerifiedTokens_expireAndBound(t *testing.T) {
	var v verifiedTokens
	now := time.Now()
	c := &accessClaims{Name: "ana"}
	v.put("tok-a", c, now.Add(time.Minute))
	if got, ok := v.get("tok-a", now); !ok || got != c {
		t.Fatalf("fresh entry: got %v %v", got, ok)
	}
	if _, ok := v.get("tok-a ", now); ok {
		t.Fatal("a token is only found by its exact text")
	}
	if _, ok := v.get("tok-a", now.Add(time.Minute)); ok {
		t.Fatal("an entry is served at or after its expiry")
	}
	if _, ok := v.get("tok-a", now); ok {
		t.Fatal("an expired entry is kept after it was found expired")
	}
	for i := 0; i < maxVerifiedTokens+10; i++ {
		v.put(string(rune('a'+i%26))+time.Duration(i).String(), c, now.Add(time.Minute))
	}
	if n := len(v.entries); n > maxVerifiedTokens {
		t.Fatalf("%d entries, bound is %d", n, maxVerifiedTokens)
	}
}
