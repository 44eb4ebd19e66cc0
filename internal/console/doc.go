// Package console is the web console `keyless serve` answers under
// /_keyless/console/: login sessions, CSRF protection, the security
// headers, and the pages (overview, issuers, providers, roles, the decision
// stream, a decision's trace, the playground), rendered on the server from
// templates and static assets embedded in the binary.
//
// It owns presentation and sessions only. It decides nothing itself:
// credentials are checked, every page is authorized and the playground's
// verdict is reached by the server's own code (the Auth and Data
// interfaces, which package server implements with its authenticator and
// the STS's simulation). Every page is a row of one route table naming
// the policy action and resource it is authorized as, so a page cannot be
// served without an authorization decision: the console shows a caller
// exactly what the API would let it read, plus keyless:ConsoleLogin to
// sign in at all.
//
// Everything a token carries is attacker-controlled: html/template
// escapes every value, the one script (static/console.js) builds rows
// with textContent, and the Content-Security-Policy allows no inline
// script or style.
package console
