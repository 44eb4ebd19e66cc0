package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkInsertDecisions is the decision log writer's store cost per
// record (ns/op is per record), by batch size: each batch is one
// transaction, so the batch size decides how far its fixed cost spreads.
func BenchmarkInsertDecisions(b *testing.B) {
	for _, bc := range []struct {
		size     int
		distinct bool // every record another role, as when a load cycles through roles
	}{{64, false}, {256, false}, {1024, false}, {1024, true}} {
		size := bc.size
		name := fmt.Sprint(size)
		if bc.distinct {
			name += "-distinct-roles"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, Config{URL: "sqlite://" + filepath.Join(b.TempDir(), "keyless.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ds := sampleBatch(size)
			at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for n := 0; n < b.N; n += size {
				for i := range ds {
					ds[i].ID = fmt.Sprintf("%020x", n+i)
					ds[i].Time = at.Add(time.Duration(n+i) * time.Microsecond)
					if bc.distinct {
						ds[i].RoleName = fmt.Sprintf("role-%05d", (n+i)%10000)
						ds[i].RoleARN = "arn:aws:iam::000000000000:role/" + ds[i].RoleName
					}
				}
				if err := s.InsertDecisions(ctx, ds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
