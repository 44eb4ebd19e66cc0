package cli

import (
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    memoryLimit
		wantErr bool
	}{
		{"auto", memoryLimit{auto: true}, false},
		{"", memoryLimit{auto: true}, false},
		{"off", memoryLimit{}, false},
		{"0", memoryLimit{}, false},
		{"256MiB", memoryLimit{bytes: 256 << 20}, false},
		{"1GiB", memoryLimit{bytes: 1 << 30}, false},
		{"20000000", memoryLimit{bytes: 20000000}, false},
		{"65536KiB", memoryLimit{bytes: 64 << 20}, false},
		{"1MiB", memoryLimit{}, true},  // below 16MiB: the collector would never stop
		{"-5MiB", memoryLimit{}, true}, // negative
		{"lots", memoryLimit{}, true},
		{"9999999999GiB", memoryLimit{}, true}, // overflows
		{"64MB", memoryLimit{}, true},          // decimal units are not taken, to avoid a 5% surprise
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseMemoryLimit(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseMemoryLimit(%q) = %+v, %v", tc.in, got, err)
			}
		})
	}
}

// The auto limit follows the live heap with half of it as headroom, and
// never goes below the floor.
func TestAutoLimit(t *testing.T) {
	tests := []struct {
		name string
		live uint64
		want int64
	}{
		{"empty server", 0, autoMemFloor},
		{"small", 20 << 20, autoMemFloor},
		{"10,000 roles", 60 << 20, 90 << 20},
		{"large", 1 << 30, 3 << 29},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := autoLimit(tc.live); got != tc.want {
				t.Errorf("autoLimit(%d) = %d, want %d", tc.live, got, tc.want)
			}
		})
	}
}
