package admin

import "context"

// The fake host has no components to control.
func (b *fakeBackend) ControlComponent(_ context.Context, _, name string) (ComponentInfo, error) {
	return ComponentInfo{}, ErrNoComponent
}
