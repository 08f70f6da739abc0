//go:build !unix

package sandboxtest

import "io/fs"

func statExtra(fs.FileInfo) (owner, inode string) { return "", "" }
