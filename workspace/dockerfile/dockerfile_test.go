package dockerfile

import "testing"

func TestFinalBase(t *testing.T) {
	cases := []struct {
		name, content, target string
		args                  map[string]string
		want                  string
	}{
		{"template", "ARG IMAGE=intersystemsdc/irishealth-community\nARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nRUN iris start IRIS\n", "", nil, "intersystemsdc/iris-community"},
		{"build arg wins", "ARG IMAGE=intersystemsdc/iris-community\nFROM ${IMAGE}\n", "", map[string]string{"IMAGE": "iris-helper/iris-stub:dev"}, "iris-helper/iris-stub:dev"},
		{"default in FROM", "FROM ${IMAGE:-intersystemsdc/iris-community:latest-em}\n", "", nil, "intersystemsdc/iris-community:latest-em"},
		{"multi-stage final", "FROM golang:1.22 AS build\nRUN go build\nFROM containers.intersystems.com/intersystems/iris-community:2025.1 AS final\nCOPY --from=build /x /x\n", "", nil, "containers.intersystems.com/intersystems/iris-community:2025.1"},
		{"stage alias", "ARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE AS base\nFROM base\n", "", nil, "intersystemsdc/iris-community"},
		{"target picks a stage", "FROM intersystemsdc/iris-community AS final\nFROM alpine AS tools\n", "final", nil, "intersystemsdc/iris-community"},
		{"platform flag and continuation", "# comment\nFROM --platform=linux/amd64 \\\n  intersystemsdc/iris-community\n", "", nil, "intersystemsdc/iris-community"},
		{"stage ARG does not change FROM", "ARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nARG IMAGE=alpine\nFROM $IMAGE\n", "", nil, "intersystemsdc/iris-community"},
		{"no FROM", "RUN true\n", "", nil, ""},
	}
	for _, c := range cases {
		if got := FinalBase([]byte(c.content), c.args, c.target); got != c.want {
			t.Errorf("%s: FinalBase = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestIsIRISImage(t *testing.T) {
	cases := map[string]bool{
		"intersystemsdc/iris-community":                                       true,
		"intersystemsdc/iris-community:latest-em":                             true,
		"intersystemsdc/irishealth-community:2025.1":                          true,
		"docker.io/intersystemsdc/iris-ml-community":                          true,
		"containers.intersystems.com/intersystems/iris-community:latest-em":   true,
		"containers.intersystems.com/intersystems/irishealth:2025.1@sha256:0": true,
		"intersystems/iris:2019.1":                                            true,
		"iris-helper/iris-stub:dev":                                           false,
		"nginx":                                                               false,
		"iris":                                                                false,
		"example.com/intersystemsdc/iris-community":                           false,
		"intersystemsdc/webgateway":                                           false,
		"":                                                                    false,
	}
	for ref, want := range cases {
		if got := IsIRISImage(ref); got != want {
			t.Errorf("IsIRISImage(%q) = %v, want %v", ref, got, want)
		}
	}
}
