package main

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hashOf is a PasswordHash value for password as the stand-in reads one (password.go); suffix is
// what follows the salt (",1000,SHA256" or "" for the defaults 10000 and SHA512).
func hashOf(t *testing.T, password, saltHex, suffix string) string {
	t.Helper()
	salt, _ := hex.DecodeString(saltHex)
	var k []byte
	var err error
	if suffix == ",1000,SHA256" {
		k, err = pbkdf2.Key(sha256.New, password, salt, 1000, 32)
	} else {
		k, err = pbkdf2.Key(sha512.New, password, salt, 10000, 64)
	}
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(k) + "," + saltHex + suffix
}

// TestMergePasswordHash: a merge file's [Startup] PasswordHash sets the accounts' password once,
// while the default password is unchanged; later merges leave it; it outlives a restart.
func TestMergePasswordHash(t *testing.T) {
	const salt = "00112233445566778899aabbccddeeff"
	for _, tc := range []struct {
		name     string
		merges   []string // merge files applied in turn
		wantMsgs []string
		wantErr  string
		accepted []string
		refused  []string
	}{
		{name: "no merge file: SYS", accepted: []string{"SYS"}, refused: []string{"s3cret", ""}},
		{name: "PasswordHash with the default work factor and algorithm",
			merges:   []string{"[Startup]\nPasswordHash=" + hashOf(t, "s3cret", salt, "") + "\n"},
			wantMsgs: []string{"Merged FILE: PasswordHash set the password of the predefined accounts"},
			accepted: []string{"s3cret"}, refused: []string{"SYS", "s3cre"}},
		{name: "work factor and algorithm given, other sections and keys around it",
			merges:   []string{"[config]\nglobals=0,0,128\n\n[ startup ]\nSystemMode=TEST\npasswordhash = " + hashOf(t, "pw2", salt, ",1000,SHA256") + "\n"},
			wantMsgs: []string{"Merged FILE: PasswordHash set the password of the predefined accounts"},
			accepted: []string{"pw2"}, refused: []string{"SYS"}},
		{name: "only once: a second PasswordHash is ignored",
			merges: []string{"[Startup]\nPasswordHash=" + hashOf(t, "first", salt, "") + "\n", "[Startup]\nPasswordHash=" + hashOf(t, "second", salt, "") + "\n"},
			wantMsgs: []string{"Merged FILE: PasswordHash set the password of the predefined accounts",
				"Merged FILE: PasswordHash ignored, the default password was already changed"},
			accepted: []string{"first"}, refused: []string{"second", "SYS"}},
		{name: "a merge file without PasswordHash changes nothing", merges: []string{"[Startup]\nPasswordHash=\n[config]\nx=1\n"},
			wantMsgs: []string{"Merged FILE (no PasswordHash)"}, accepted: []string{"SYS"}},
		{name: "a hash that is not hex", merges: []string{"[Startup]\nPasswordHash=zz,00\n"},
			wantErr: `PasswordHash="zz,00": the hash is not hex`, accepted: []string{"SYS"}},
		{name: "an unknown algorithm", merges: []string{"[Startup]\nPasswordHash=00,00,10,MD5\n"},
			wantErr: `PasswordHash="00,00,10,MD5": unknown algorithm MD5`, accepted: []string{"SYS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(t.TempDir(), "merge.cpf")
			var msgs []string
			for _, m := range tc.merges {
				if err := os.WriteFile(file, []byte(m), 0o644); err != nil {
					t.Fatal(err)
				}
				msg, err := applyMerge(file, dir)
				if err != nil {
					if err.Error() != tc.wantErr {
						t.Fatalf("error %q, want %q", err, tc.wantErr)
					}
					continue
				}
				msgs = append(msgs, msg)
			}
			for i := range tc.wantMsgs {
				tc.wantMsgs[i] = strings.Replace(tc.wantMsgs[i], "FILE", file, 1)
			}
			if len(msgs) != len(tc.wantMsgs) {
				t.Fatalf("messages %q, want %q", msgs, tc.wantMsgs)
			}
			for i := range msgs {
				if msgs[i] != tc.wantMsgs[i] {
					t.Errorf("message %q, want %q", msgs[i], tc.wantMsgs[i])
				}
			}
			check := passwordChecker(dir, "SYS") // as after a restart: the state is read from dir
			for _, p := range tc.accepted {
				if !check(p) {
					t.Errorf("password %q refused", p)
				}
			}
			for _, p := range tc.refused {
				if check(p) {
					t.Errorf("password %q accepted", p)
				}
			}
		})
	}
}
