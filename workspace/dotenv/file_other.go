//go:build !unix

package dotenv

import (
	"io/fs"
	"os"
)

// owner is a file's owner; Windows keeps the owner and ACL rules of the folder, nothing to copy.
type owner struct{}

func ownerOf(fs.FileInfo) owner             { return owner{} }
func hardLinks(fs.FileInfo) uint64          { return 1 }
func (owner) apply(*os.File) error          { return nil }
func (owner) String() string                { return "another user" }
func currentOwner() string                  { return "this user" }
func chmodFile(*os.File, fs.FileMode) error { return nil }
