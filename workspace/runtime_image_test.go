package workspace

import (
	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// spec is the container the image runtime would create for a start of assignment a (the tests
// compare it with the project's settings).
func (p *Project) spec(a registry.Assignment, confirm string) dockerops.Spec {
	return p.rt.(*kindRuntime).image.spec(p.plan(a, confirm))
}
