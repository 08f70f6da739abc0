package main

// The password of the predefined accounts, as IRIS sets it from a configuration merge file:
// `[Startup] PasswordHash=HASH,SALT[,WORKFACTOR[,ALGORITHM]]` in the file ISC_CPF_MERGE_FILE names
// (at start) or in `iris merge IRIS FILE`. Documented by InterSystems (the CPF reference,
// "PasswordHash"): it sets the password of every predefined account with a role, work factor 10000
// and SHA512 by default, and applies only once, while the default password is unchanged. How IRIS
// derives HASH is not documented there; the stand-in reads it as hex of PBKDF2-HMAC-ALGORITHM(password,
// SALT hex-decoded (SALT's bytes when it is not hex), WORKFACTOR, the hash's size) — its own
// reading, not verified against real IRIS. The applied hash is kept in iris-stub.password in the
// durable data directory (ISC_DATA_DIRECTORY) or in /usr/irissys/mgr, so it outlives a restart as
// IRIS's security database does.

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// passwordStateFile records the password hash applied from a merge file.
const passwordStateFile = "iris-stub.password"

// maxMergeFile bounds what is read of a merge file.
const maxMergeFile = 1 << 20

// passwordHash is a parsed PasswordHash value.
type passwordHash struct {
	hash, salt []byte
	iterations int
	algorithm  string
}

func parsePasswordHash(v string) (passwordHash, error) {
	parts := strings.Split(strings.TrimSpace(v), ",")
	if len(parts) < 2 || len(parts) > 4 {
		return passwordHash{}, fmt.Errorf("PasswordHash=%q: want HASH,SALT[,WORKFACTOR[,ALGORITHM]]", v)
	}
	h, err := hex.DecodeString(strings.TrimSpace(parts[0]))
	if err != nil || len(h) == 0 {
		return passwordHash{}, fmt.Errorf("PasswordHash=%q: the hash is not hex", v)
	}
	salt := []byte(strings.TrimSpace(parts[1]))
	if b, err := hex.DecodeString(string(salt)); err == nil {
		salt = b
	}
	p := passwordHash{hash: h, salt: salt, iterations: 10000, algorithm: "SHA512"}
	if len(parts) > 2 {
		if p.iterations, err = strconv.Atoi(strings.TrimSpace(parts[2])); err != nil || p.iterations < 1 {
			return passwordHash{}, fmt.Errorf("PasswordHash=%q: bad work factor", v)
		}
	}
	if len(parts) > 3 {
		p.algorithm = strings.ToUpper(strings.TrimSpace(parts[3]))
	}
	if hashFunc(p.algorithm) == nil {
		return passwordHash{}, fmt.Errorf("PasswordHash=%q: unknown algorithm %s", v, p.algorithm)
	}
	return p, nil
}

func hashFunc(alg string) func() hash.Hash {
	switch alg {
	case "SHA512":
		return sha512.New
	case "SHA256":
		return sha256.New
	case "SHA1":
		return sha1.New
	}
	return nil
}

// derive is the hash of password with p's salt, work factor and algorithm.
func (p passwordHash) derive(password string) []byte {
	h := hashFunc(p.algorithm)
	k, err := pbkdf2.Key(h, password, p.salt, p.iterations, h().Size())
	if err != nil {
		return nil
	}
	return k
}

func (p passwordHash) matches(password string) bool {
	return subtle.ConstantTimeCompare(p.derive(password), p.hash) == 1
}

func (p passwordHash) String() string {
	return fmt.Sprintf("%s,%s,%d,%s", hex.EncodeToString(p.hash), hex.EncodeToString(p.salt), p.iterations, p.algorithm)
}

// mergePasswordHash returns the [Startup] PasswordHash of a merge file ("" when it has none).
func mergePasswordHash(r io.Reader) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxMergeFile))
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "startup" && strings.EqualFold(strings.TrimSpace(k), "PasswordHash") {
			return strings.TrimSpace(v), nil
		}
	}
	return "", sc.Err()
}

// stateDir is where the applied password hash is kept.
func stateDir() string {
	if d := os.Getenv("ISC_DATA_DIRECTORY"); d != "" {
		return d
	}
	return "/usr/irissys/mgr"
}

// applyMerge applies the PasswordHash of the merge file at path, once: when a hash was applied
// before (the default password is no longer unchanged) it is left as it is. It returns what
// happened, as a log line.
func applyMerge(path, dir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("merge file %s is not a regular file", path)
	}
	v, err := mergePasswordHash(f)
	if err != nil {
		return "", fmt.Errorf("read merge file %s: %w", path, err)
	}
	if v == "" {
		return fmt.Sprintf("Merged %s (no PasswordHash)", path), nil
	}
	p, err := parsePasswordHash(v)
	if err != nil {
		return "", err
	}
	state := filepath.Join(dir, passwordStateFile)
	if _, err := os.Stat(state); err == nil {
		return fmt.Sprintf("Merged %s: PasswordHash ignored, the default password was already changed", path), nil
	}
	if err := os.MkdirAll(dir, 0o775); err != nil {
		return "", err
	}
	if err := os.WriteFile(state, []byte(p.String()+"\n"), 0o600); err != nil {
		return "", err
	}
	return fmt.Sprintf("Merged %s: PasswordHash set the password of the predefined accounts", path), nil
}

// appliedHash is the password hash applied from a merge file, if any.
func appliedHash(dir string) (passwordHash, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, passwordStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return passwordHash{}, false, nil
	}
	if err != nil {
		return passwordHash{}, false, err
	}
	p, err := parsePasswordHash(string(bytes.TrimSpace(data)))
	return p, err == nil, err
}

// passwordChecker is how the accounts' password is checked: against the hash applied from a merge
// file when there is one, else against def (STUB_PASSWORD or SYS). The state is read at each check,
// so an `iris merge` while the instance runs takes effect.
func passwordChecker(dir, def string) func(string) bool {
	return func(pass string) bool {
		if p, ok, _ := appliedHash(dir); ok {
			return p.matches(pass)
		}
		return subtle.ConstantTimeCompare([]byte(pass), []byte(def)) == 1
	}
}
