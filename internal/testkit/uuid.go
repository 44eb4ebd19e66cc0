package testkit

import "github.com/google/uuid"

// UUID returns a new random (version 4) UUID in its lower-case text form,
// as CI providers spell organization, project and user ids.
func UUID() string { return uuid.NewString() }
