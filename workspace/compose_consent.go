package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/compose"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// consentLimit bounds the read of a consent file (it is the user's, under IRIS_HELPER_HOME, but a
// bound costs nothing).
const consentLimit = 1 << 20

// ConsentChoice is what the front end says, for one start, about the items of a compose project
// beyond the allow-list.
type ConsentChoice struct {
	// All: the user ran an explicit start (the CLI's `iris-helper start`), which counts as consent
	// to every item listed; the front end prints them.
	All bool
	// IDs are the items the user allowed in the editor's dialog (ConsentItem.ID).
	IDs []string
}

// composeConsent is what the user allowed for one project, kept in
// $IRIS_HELPER_HOME/consent/<project hash>.json (0600).
type composeConsent struct {
	Project string        `json:"project"`
	Allowed []ConsentItem `json:"allowed"`
}

func consentPath(home, project string) string {
	return filepath.Join(home, "consent", dockerops.ProjectHash(project)+".json")
}

// loadConsent reads what the user allowed for project; none when the file is missing, unreadable
// as JSON, or about another project (a hash collision is not consent).
func loadConsent(home, project string) (composeConsent, error) {
	data, err := projfile.ReadFile(consentPath(home, project), consentLimit, projfile.NoFollow)
	if errors.Is(err, fs.ErrNotExist) {
		return composeConsent{Project: project}, nil
	}
	if err != nil {
		return composeConsent{}, fmt.Errorf("read what you allowed for %s: %w", project, err)
	}
	var c composeConsent
	if json.Unmarshal(data, &c) != nil || c.Project != project {
		return composeConsent{Project: project}, nil
	}
	return c, nil
}

// saveConsent replaces what the user allowed for project with exactly items (atomic, 0600).
func saveConsent(home, project string, items []ConsentItem) error {
	path := consentPath(home, project)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keep what you allowed for %s: %w", project, err)
	}
	data, err := json.MarshalIndent(composeConsent{Project: project, Allowed: items}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("keep what you allowed for %s: %w", project, err)
	}
	return nil
}

// checkComposeModel applies the allow-list to model m of the project in root (its compose files
// files, in compose's order, and env the interpolation environment, for the files the model does
// not show) under the user's consent kept in home and this start's choice. It returns the items
// allowed by this start's choice that were not allowed before (the front end says them), or:
//   - *MissingBindSourceError: a bind source outside root that does not exist (never consented);
//   - *ComposeConsentError: items the user has not allowed for this project.
//
// What is kept is exactly the model's items once they are all allowed: an item the model no
// longer has is dropped, and a new one asks again.
func checkComposeModel(home, root string, files []string, env map[string]string, m compose.Model, choice ConsentChoice) ([]ConsentItem, error) {
	refs, err := composeFileRefs(root, files, env)
	if err != nil {
		return nil, err
	}
	items, err := composeItems(root, m, refs)
	if err != nil {
		return nil, err
	}
	kept, err := loadConsent(home, root)
	if err != nil {
		return nil, err
	}
	allowed := func(it ConsentItem) bool {
		return slices.ContainsFunc(kept.Allowed, func(k ConsentItem) bool { return k.ID == it.ID })
	}
	var missing, newly []ConsentItem
	for _, it := range items {
		switch {
		case allowed(it):
		case choice.All || slices.Contains(choice.IDs, it.ID):
			newly = append(newly, it)
		default:
			missing = append(missing, it)
		}
	}
	if len(missing) > 0 {
		return nil, &ComposeConsentError{Project: root, Items: missing}
	}
	if !slices.Equal(kept.Allowed, items) && (len(items) > 0 || len(kept.Allowed) > 0) {
		if len(items) == 0 {
			if err := os.Remove(consentPath(home, root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("forget what you allowed for %s: %w", root, err)
			}
		} else if err := saveConsent(home, root, items); err != nil {
			return nil, err
		}
	}
	return newly, nil
}
