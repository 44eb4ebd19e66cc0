package audit

import (
	"fmt"
	"testing"
)

// BenchmarkAnalyze1000Roles analyses 1,000 roles whose trust policies are
// the corpus's files, cycled (one op = all 1,000 roles). The target
// is under a second per op on one core (-cpu 1).
func BenchmarkAnalyze1000Roles(b *testing.B) {
	corpus := loadCorpus(b)
	names := sortedKeys(corpus)
	roles := make([]Role, 1000)
	for i := range roles {
		c := corpus[names[i%len(names)]]
		roles[i] = c.role(fmt.Sprintf("%s-%d", names[i%len(names)], i))
		roles[i].Name = fmt.Sprintf("%s-%04d", c.Role, i)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range roles {
			if _, err := Analyze(r, Config{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
