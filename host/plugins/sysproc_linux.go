package plugins

import (
	"os"
	"syscall"
)

// sysProcAttr makes the kernel kill a plugin when the host dies, even by
// SIGKILL or OOM, when nothing in the host can clean up. The plugin stays
// in the host's process group (no Setpgid), so a signal sent to the group
// (Ctrl-C in a terminal, a service manager stopping the unit) reaches it
// too. The SDK's parent watchdog is the second line for other systems.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
