package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBuildOutputTracked fails when git tracks a compiled file (an ELF,
// Mach-O or PE binary such as a stray `go test -c` output): build output
// belongs in .gitignore, not in the repository.
func TestNoBuildOutputTracked(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not in a git checkout with git installed: %v", err)
	}
	magics := [][]byte{
		[]byte("\x7fELF"),        // Linux
		{0xcf, 0xfa, 0xed, 0xfe}, // Mach-O 64-bit
		{0xce, 0xfa, 0xed, 0xfe}, // Mach-O 32-bit
		{0xca, 0xfe, 0xba, 0xbe}, // Mach-O universal
		[]byte("MZ"),             // Windows PE
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(filepath.Join("../..", name))
		if err != nil {
			continue // deleted in the work tree
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		for _, m := range magics {
			if n >= len(m) && bytes.Equal(head[:len(m)], m) {
				t.Errorf("%s is a compiled binary tracked by git: git rm --cached it (.gitignore covers *.test and /keyless)", name)
			}
		}
	}
}
