package workspace

import (
	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// spec is the container the image (or Dockerfile) runtime would create for a start of assignment a (the tests
// compare it with the project's settings).
func (p *Project) spec(a registry.Assignment, confirm string) dockerops.Spec {
	k := p.rt.(*kindRuntime)
	if k.dockerfile != nil {
		return k.dockerfile.spec(p.plan(a, confirm))
	}
	return k.image.spec(p.plan(a, confirm))
}
