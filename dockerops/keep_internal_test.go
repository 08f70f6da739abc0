package dockerops

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

// TestKeepErrorSaysWhyDataIsNotOnVolume: the three ways a container's data is not (or would no
// longer be) on the durable volume, as the user reads them.
func TestKeepErrorSaysWhyDataIsNotOnVolume(t *testing.T) {
	iris := []string{"ISC_PACKAGE_INSTALLDIR=/usr/irissys"}
	withVolume := []container.MountPoint{{Type: "volume", Name: "iris_x_durable", Destination: DurableMount}}
	tests := []struct {
		name    string
		env     []string
		mounts  []container.MountPoint
		spec    Spec
		img     imageInfo
		replace bool
		want    string
	}{
		{name: "durable off", env: iris, spec: Spec{Durable: false}, img: imageInfo{IRIS: true},
			want: "container iris_x_1 was kept: host port 1 is taken by another program, but its data is not on the durable volume " +
				"(it was created with durable off), so a start does not remove it; free port 1 and start again, or recreate it (its data is lost)"},
		{name: "not an IRIS image", spec: Spec{Durable: true}, img: imageInfo{},
			want: "container iris_x_1 was kept: host port 1 is taken by another program, but its data is not on the durable volume " +
				"(its image some/app:1 has no ISC_PACKAGE_INSTALLDIR, so no durable volume is used), so a start does not remove it; " +
				"free port 1 and start again, or recreate it (its data is lost)"},
		{name: "durable switched off", env: iris, mounts: withVolume, spec: Spec{Durable: false}, img: imageInfo{IRIS: true},
			want: "container iris_x_1 was kept: host port 1 is taken by another program, but its data is not on the durable volume " +
				"(the project's settings now say durable: false, so a new container would not mount the durable volume), so a start " +
				"does not remove it; free port 1 and start again, or recreate it (its data is lost)"},
		{name: "on the volume", env: iris, mounts: withVolume, spec: Spec{Durable: true}, img: imageInfo{IRIS: true}, replace: true},
		{name: "confirmed", env: iris, spec: Spec{Durable: false, ConfirmRecreate: "iris_x_1"}, img: imageInfo{IRIS: true}, replace: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins := container.InspectResponse{Name: "/iris_x_1", Mounts: tc.mounts, State: &container.State{},
				Config: &container.Config{Image: "some/app:1", Env: tc.env}}
			if got := replaceable(ins, tc.spec, tc.img); got != tc.replace {
				t.Fatalf("replaceable() = %v, want %v", got, tc.replace)
			}
			if tc.replace {
				return
			}
			if got := keepError(ins, tc.spec, tc.img, "host port 1 is taken by another program", 1).Error(); got != tc.want {
				t.Fatalf("message\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
