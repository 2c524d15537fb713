//go:build !linux

package plugins

import (
	"os"
	"syscall"
)

// sysProcAttr: only Linux has a parent-death signal; elsewhere the SDK's
// parent watchdog makes plugins exit when the host is gone.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func inode(os.FileInfo) uint64 { return 0 }
