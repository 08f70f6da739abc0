package compose

import (
	"reflect"
	"testing"
)

// The output of `docker compose config --format json` (v2.40.3) for a template-shaped project.
const templateConfig = `{
  "name": "proj",
  "services": {
    "iris": {
      "build": {"context": "/src/proj", "dockerfile": "Dockerfile", "args": {"IMAGE": "intersystemsdc/iris-community"}},
      "command": ["--check-caps", "false"],
      "ports": [
        {"mode": "ingress", "target": 1972, "protocol": "tcp"},
        {"mode": "ingress", "target": 52773, "published": "52795", "protocol": "tcp"},
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 9000, "published": "9000", "protocol": "udp"}
      ],
      "restart": "always",
      "volumes": [{"type": "bind", "source": "/src/proj", "target": "/home/irisowner/dev", "bind": {"create_host_path": true}}]
    }
  },
  "volumes": {"data": {"name": "proj_data"}}
}`

func TestParseConfig(t *testing.T) {
	m, err := ParseConfig([]byte(templateConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Digest) != 64 {
		t.Errorf("digest %q", m.Digest)
	}
	m.Digest = ""
	image := "intersystemsdc/iris-community"
	want := Model{
		Name: "proj",
		Services: map[string]Service{"iris": {
			Build: &Build{Context: "/src/proj", Dockerfile: "Dockerfile", Args: map[string]*string{"IMAGE": &image}},
			Ports: []Port{
				{Mode: "ingress", Target: 1972, Protocol: "tcp"},
				{Mode: "ingress", Target: 52773, Published: "52795", Protocol: "tcp"},
				{Mode: "ingress", HostIP: "127.0.0.1", Target: 9000, Published: "9000", Protocol: "udp"},
			},
			Restart: "always",
			Volumes: []Mount{{Type: "bind", Source: "/src/proj", Target: "/home/irisowner/dev"}},
		}},
		Volumes: map[string]Volume{"data": {Name: "proj_data"}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("ParseConfig:\n got %+v\nwant %+v", m, want)
	}
	pins := []int{}
	for _, p := range m.Services["iris"].Ports {
		pins = append(pins, p.PublishedPort())
	}
	if !reflect.DeepEqual(pins, []int{0, 52795, 9000}) {
		t.Errorf("pinned host ports = %v", pins)
	}
}
