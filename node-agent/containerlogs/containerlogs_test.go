package containerlogs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRotatedName(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 4, 5, 0, time.FixedZone("CET", 3600))
	if got, want := RotatedName("/logs/c/0.log", at), "/logs/c/0.log.20261203-080405"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRotated(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"0.log", "0.log.20261203-080407", "0.log.20261203-080405.gz", "0.log.20261203-080406.gz",
		"0.log.20261203-080406", "0.log.20261203-080407.tmp", "1.log", "1.log.20261203-080401", "10.log.20261203-080402",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inUse, leftovers, err := Rotated(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	in := func(names ...string) []string {
		for i := range names {
			names[i] = filepath.Join(dir, names[i])
		}
		return names
	}
	if want := in("0.log.20261203-080405.gz", "0.log.20261203-080406.gz", "0.log.20261203-080407"); !slices.Equal(inUse, want) {
		t.Errorf("in use: got %v, want %v", inUse, want)
	}
	if want := in("0.log.20261203-080406", "0.log.20261203-080407.tmp"); !slices.Equal(leftovers, want) {
		t.Errorf("leftovers: got %v, want %v", leftovers, want)
	}
}
