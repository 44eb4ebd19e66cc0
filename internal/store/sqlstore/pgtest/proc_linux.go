package pgtest

import "syscall"

// sysProcAttr runs a cluster process as cred (nil: as ourselves), in its own
// process group, and shuts it down (SIGQUIT: immediate) if the test binary dies.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
}
