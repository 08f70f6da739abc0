package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadUserPolicy(t *testing.T) {
	tests := []struct {
		name    string
		config  string // "" = no config.json
		env     map[string]string
		want    UserPolicy
		wantErr string
	}{
		{name: "nothing allows nothing"},
		{name: "config.json key", config: `{"allowEnvFileOutsideProject": true, "superserverRange": "1972-1981"}`,
			want: UserPolicy{AllowEnvFileOutsideProject: true}},
		{name: "environment", env: map[string]string{"IRIS_HELPER_ALLOW_NETWORK_BIND": "1"},
			want: UserPolicy{AllowNetworkBind: true}},
		{name: "environment 0 leaves config.json's yes", config: `{"allowNetworkBind": true}`,
			env: map[string]string{"IRIS_HELPER_ALLOW_NETWORK_BIND": "0"}, want: UserPolicy{AllowNetworkBind: true}},
		{name: "bad environment value", env: map[string]string{"IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT": "yes please"},
			wantErr: `environment variable IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT="yes please": want 1, true, 0 or false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			for _, k := range []Knob{KnobEnvFileOutsideProject, KnobNetworkBind} {
				t.Setenv(k.Env(), tc.env[k.Env()])
			}
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadUserPolicy(home)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
