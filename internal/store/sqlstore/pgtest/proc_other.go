//go:build unix && !linux

package pgtest

import "syscall"

// sysProcAttr runs a cluster process as cred (nil: as ourselves) in its own process group.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
