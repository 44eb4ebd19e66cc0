package identity

import "testing"

func TestIs(t *testing.T) {
	tests := []struct {
		name string
		c    *Caller
		k    Kind
		want bool
	}{
		{"root is root", &Caller{Kind: Root}, Root, true},
		{"role session is not root", &Caller{Kind: RoleSession, RoleName: "r"}, Root, false},
		{"runner is runner", &Caller{Kind: Runner}, Runner, true},
		{"a role-less caller is not a runner by omission", &Caller{}, Runner, false},
		{"nil is nothing", nil, Root, false},
		{"nil is not even unknown", nil, Unknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Is(tt.k); got != tt.want {
				t.Errorf("Is(%s) = %t, want %t", tt.k, got, tt.want)
			}
		})
	}
	for k, want := range map[Kind]string{Unknown: "unknown", Root: "root", RoleSession: "role-session", Runner: "runner"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}
