package workspace

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// An instance published on a non-loopback address (the user's choice: allowNetworkBind, a flag or
// an editor setting) must not keep the well-known password of IRIS's predefined accounts (SYS).
// For the image and Dockerfile kinds iris-helper gives it a password of its own through the
// mechanism InterSystems documents for deployments: a configuration merge file with
// `[Startup] PasswordHash=hash,salt,workfactor,algorithm`, which IRIS applies once, at a startup
// while the default password is unchanged (docs/editors.md cites the documentation). The password
// is kept in $IRIS_HELPER_HOME/credentials/<8 hex of the project>.json (0600): the only place it is
// written besides the user's own editor settings (the Server Manager definition the extension
// makes); it never travels in the status, a notification or a log. Once a project has one, every
// later container of it gets the same merge file, also on loopback, so the instance and the file
// never disagree. A compose project is never changed this way: its own files decide.

// pbkdf2 parameters of the PasswordHash iris-helper writes: IRIS's defaults (work factor 10000,
// SHA512).
const (
	passwordWorkFactor = 10000
	passwordHashLen    = 64
	passwordSaltLen    = 64
	credentialsLimit   = 64 << 10
)

// instanceCredentials is the password iris-helper gave one project's instance.
type instanceCredentials struct {
	Project   string    `json:"project"`
	Username  string    `json:"username"`
	Password  string    `json:"password"`
	CreatedAt time.Time `json:"createdAt"`
}

func credentialsPath(home, project string) string {
	return filepath.Join(home, "credentials", dockerops.ProjectHash(project)+".json")
}

func mergeFilePath(home, project string) string {
	return filepath.Join(home, "credentials", dockerops.ProjectHash(project)+".cpf")
}

// loadCredentials reads the project's credentials; found false when there are none.
func loadCredentials(home, project string) (instanceCredentials, bool, error) {
	data, err := projfile.ReadFile(credentialsPath(home, project), credentialsLimit, projfile.NoFollow)
	if errors.Is(err, fs.ErrNotExist) {
		return instanceCredentials{}, false, nil
	}
	if err != nil {
		return instanceCredentials{}, false, fmt.Errorf("read the IRIS password iris-helper keeps for %s: %w", project, err)
	}
	var c instanceCredentials
	if err := json.Unmarshal(data, &c); err != nil || c.Project != project || c.Password == "" {
		return instanceCredentials{}, false, fmt.Errorf("read the IRIS password iris-helper keeps for %s: %s is not one iris-helper wrote", project, credentialsPath(home, project))
	}
	return c, true, nil
}

// newPassword is crypto/rand's text: 26 base32 letters (130 bits).
func newPassword() string { return rand.Text() }

// existingMergeFile is the project's merge file when it has a password of iris-helper's (kind image
// or dockerfile), else "": what a plan asks for, without creating anything.
func (p *Project) existingMergeFile(kind Kind) string {
	if kind != KindImage && kind != KindDockerfile {
		return ""
	}
	home := p.reg.Home()
	for _, f := range []string{credentialsPath(home, p.root.Dir), mergeFilePath(home, p.root.Dir)} {
		if ok, err := projfile.IsRegular(f, projfile.NoFollow); !ok || err != nil {
			return ""
		}
	}
	return mergeFilePath(home, p.root.Dir)
}

// passwordHashLine is the merge file line that sets password for IRIS's predefined accounts:
// PBKDF2-HMAC-SHA512 of the password with a random salt, both in hex, IRIS's default work factor.
func passwordHashLine(password string, salt []byte) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, passwordWorkFactor, passwordHashLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("PasswordHash=%s,%s,%d,SHA512", hex.EncodeToString(key), hex.EncodeToString(salt), passwordWorkFactor), nil
}

// credentialsFor returns the merge file a start of kind must mount for the project's password
// ("" for none), creating the password when the instance is published on a non-loopback address
// and has none yet; created says it was made now (the start tells the user).
func (p *Project) credentialsFor(kind Kind) (mergeFile string, created bool, err error) {
	if kind != KindImage && kind != KindDockerfile {
		return "", false, nil
	}
	home := p.reg.Home()
	c, found, err := loadCredentials(home, p.root.Dir)
	if err != nil {
		return "", false, err
	}
	if !found {
		if IsLoopback(p.bindAddress) {
			return "", false, nil
		}
		c = instanceCredentials{Project: p.root.Dir, Username: p.cfg.Username(), Password: newPassword(), CreatedAt: time.Now().UTC()}
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return "", false, err
		}
		if err := os.MkdirAll(filepath.Dir(credentialsPath(home, p.root.Dir)), 0o700); err != nil {
			return "", false, fmt.Errorf("keep an IRIS password for %s: %w", p.root.Dir, err)
		}
		if err := writeFileAtomic(credentialsPath(home, p.root.Dir), append(data, '\n'), 0o600); err != nil {
			return "", false, fmt.Errorf("keep an IRIS password for %s: %w", p.root.Dir, err)
		}
		created = true
	}
	path := mergeFilePath(home, p.root.Dir)
	if old, err := projfile.ReadFile(path, credentialsLimit, projfile.NoFollow); err == nil && len(old) > 0 && !created {
		return path, false, nil // written before: the same salt and hash, so the container's settings stay the same
	}
	salt := make([]byte, passwordSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", false, err
	}
	line, err := passwordHashLine(c.Password, salt)
	if err != nil {
		return "", false, err
	}
	// Readable by the container's irisowner through the bind mount (the folder is 0700, so no
	// other user of this host reaches it); it holds a salted hash, never the password.
	if err := writeFileAtomic(path, []byte("[Startup]\n"+line+"\n"), 0o644); err != nil {
		return "", false, fmt.Errorf("write the IRIS merge file for %s: %w", p.root.Dir, err)
	}
	return path, created, nil
}

// checkCredentials asks the instance's Atelier API, as the ObjectScript extension does, whether it
// takes the project's credentials; nil when they work or the project has none of its own.
func (p *Project) checkCredentials(ctx context.Context, bind string, web int) error {
	c, found, err := loadCredentials(p.reg.Home(), p.root.Dir)
	if err != nil || !found || web == 0 {
		return err
	}
	host := bind
	if !IsLoopback(host) {
		host = "127.0.0.1" // a wildcard or another address of this host: asked on loopback
	}
	ctx, cancel := context.WithTimeout(ctx, dockerops.ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+net.JoinHostPort(host, strconv.Itoa(web))+"/api/atelier/", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.Username, c.Password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil // not answering is readiness's business, not the password's
	}
	res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized {
		return &CredentialsRefusedError{Project: p.root.Dir, Username: c.Username, File: credentialsPath(p.reg.Home(), p.root.Dir)}
	}
	return nil
}

// CredentialsRefusedError: the instance refused the password iris-helper gave it (the instance's
// password was changed since, or its durable data predates the password).
type CredentialsRefusedError struct {
	Project, Username, File string
}

func (e *CredentialsRefusedError) Error() string {
	return fmt.Sprintf("IRIS of %s refused %s with the password iris-helper keeps in %s; if you changed it, connect with yours, "+
		"or set it back from a terminal in the container (`iris session iris -U %%SYS`, then `do ##class(Security.Users).ChangePassword(...)`)",
		e.Project, e.Username, e.File)
}
