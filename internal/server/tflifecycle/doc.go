// Package tflifecycle holds the end-to-end tests that drive the real
// terraform binary and hashicorp/aws provider against a keyless server:
// apply, plan with no changes, in-place updates, import, destroy, the
// provider's assume_role_with_web_identity, and what keyless setup --emit
// terraform prints. It has no code of its own; it is a package apart so
// that these slow tests run beside, not inside, the server's own tests.
package tflifecycle
