package workspace

// PLACEHOLDER of the allow-list (issue 12 §3): the `allow` helper's branch replaces this file
// (its compose_consent.go holds the real checkComposeModel, ConsentChoice and ConsentItem).
// The compose runtime calls checkComposeModel once per start, before anything runs.

import "github.com/iris-helper/iris-helper/dockerops/compose"

// ConsentChoice is what the front end says, for one start, about the items of a compose project
// beyond the allow-list (placeholder).
type ConsentChoice struct {
	All bool     // an explicit CLI start: consent to every item listed
	IDs []string // the items allowed in the editor's dialog
}

// ConsentItem is one thing a compose project does beyond the allow-list (placeholder).
type ConsentItem struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// checkComposeModel applies the allow-list to model m of the project in root (placeholder: allows
// everything).
func checkComposeModel(home, root string, files []string, env map[string]string, m compose.Model, choice ConsentChoice) ([]ConsentItem, error) {
	return nil, nil
}
