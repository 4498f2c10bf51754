package procstat

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want time.Duration
	}{
		{"plain", "3810 (mariadbd) S 1 3809 3809 0 -1 4194560 20596 0 0 0 3 6 0 0 20 0 10 0", 90 * time.Millisecond},
		{"name with spaces and parentheses", "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.line)
			if err != nil || got != tt.want {
				t.Fatalf("parseStat = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := parseStat("42 (short) S 1 2"); err == nil {
		t.Fatal("parseStat of a short line: no error")
	}
}

func TestPeakRSS(t *testing.T) {
	peak, err := PeakRSS(os.Getpid())
	if err != nil || peak < 1<<20 {
		t.Fatalf("PeakRSS(self) = %d, %v; want at least 1 MB", peak, err)
	}
}

func TestCPU(t *testing.T) {
	before, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPU(os.Getpid())
	if err != nil || after <= before {
		t.Fatalf("CPU(self) after 50 ms busy = %v, %v; before %v", after, err, before)
	}
}

func TestServer_NotLocal(t *testing.T) {
	if _, _, err := Server("root@tcp(192.0.2.1:3306)/"); !errors.Is(err, ErrNoServer) {
		t.Fatalf("Server(remote) err = %v; want ErrNoServer", err)
	}
}

func TestRedis_NotLocal(t *testing.T) {
	if _, err := Redis("192.0.2.1:6379"); !errors.Is(err, ErrNoRedis) {
		t.Fatalf("Redis(remote) err = %v; want ErrNoRedis", err)
	}
}
