package compose

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Override is the override file iris-helper passes to compose as its last -f (written under
// IRIS_HELPER_HOME, never in the project tree), by service. Workspace decides what it holds;
// this package only writes it (YAML with compose's `!override` and `!reset` merge tags, which
// need Docker Compose 2.24 or later).
type Override map[string]ServiceOverride

// ServiceOverride is what the override sets for one service.
type ServiceOverride struct {
	// Ports replace every port the service publishes (`ports: !override`); nil leaves them.
	Ports []Binding
	// Labels are added to the service's labels (compose merges label maps).
	Labels map[string]string
	// Restart replaces the service's restart policy ("" leaves it).
	Restart string
	// ResetContainerName removes the service's container_name (`!reset`), so compose names the
	// container after the project.
	ResetContainerName bool
}

// Binding is one published port: HostPort 0 lets Docker pick the host port (on HostIP).
type Binding struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Protocol      string // "tcp" or "udp"
}

// String is the binding in compose's short syntax, e.g. "127.0.0.1:41773:1972/tcp" or
// "127.0.0.1::80/tcp".
func (b Binding) String() string {
	ip := b.HostIP
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	host := ""
	if b.HostPort != 0 {
		host = strconv.Itoa(b.HostPort)
	}
	proto := b.Protocol
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%s:%s:%d/%s", ip, host, b.ContainerPort, proto)
}

// YAML is the override file. Strings are written as JSON strings, which YAML reads as
// double-quoted scalars.
func (o Override) YAML() []byte {
	var b strings.Builder
	b.WriteString("# Written by iris-helper for this project; do not edit (it is rewritten on every start).\n")
	b.WriteString("services:\n")
	names := make([]string, 0, len(o))
	for n := range o {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := o[n]
		fmt.Fprintf(&b, "  %s:\n", q(n))
		if s.Ports != nil {
			if len(s.Ports) == 0 {
				b.WriteString("    ports: !reset []\n")
			} else {
				b.WriteString("    ports: !override\n")
				for _, p := range s.Ports {
					fmt.Fprintf(&b, "      - %s\n", q(p.String()))
				}
			}
		}
		if len(s.Labels) > 0 {
			b.WriteString("    labels:\n")
			keys := make([]string, 0, len(s.Labels))
			for k := range s.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "      %s: %s\n", q(k), q(s.Labels[k]))
			}
		}
		if s.Restart != "" {
			fmt.Fprintf(&b, "    restart: %s\n", q(s.Restart))
		}
		if s.ResetContainerName {
			b.WriteString("    container_name: !reset null\n")
		}
	}
	return []byte(b.String())
}

func q(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}
