#!/usr/bin/env bash
# Runs moto's own IAM/STS tests (a getmoto/moto checkout, tag 5.2.1) in moto's
# server mode against a `keyless serve` built from this repository, and reports
# per test: pass / moto-specific / differs-from-AWS (scripts/moto_suite/).
#
#   scripts/moto-suite.sh MOTO_CHECKOUT [pytest args, e.g. -k oidc]
#
# MOTO_CHECKOUT may also come from the environment. Without one (CI has none)
# the script says so and exits 0. Needs Go, a python3 with boto3 and moto
# (moto 5.2.1, for mock_aws's server mode), pytest (Debian: python3-pytest)
# and, for the STS tests, freezegun (python3-freezegun).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
checkout=${1:-${MOTO_CHECKOUT:-}}
[ $# -gt 0 ] && shift

if [ -z "$checkout" ]; then
	echo "moto-suite: skipped: no moto checkout given (pass the path of a getmoto/moto 5.2.1 checkout; CI has none)"
	exit 0
fi
if [ ! -f "$checkout/tests/test_iam/test_iam_oidc.py" ]; then
	echo "moto-suite: $checkout is not a moto checkout (no tests/test_iam/test_iam_oidc.py)" >&2
	exit 2
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import boto3, moto' 2>/dev/null; then
	echo "moto-suite: $py lacks boto3 or moto" >&2
	exit 2
fi
# Debian's python3-pytest and python3-freezegun install for the system
# python; run.py falls back to /usr/lib/python3/dist-packages for them.
for mod in pytest freezegun; do
	if ! "$py" -c "import $mod" 2>/dev/null &&
		! "$py" -c "import sys; sys.path.append('/usr/lib/python3/dist-packages'); import $mod" 2>/dev/null; then
		echo "moto-suite: $mod is missing (apt-get install -y python3-$mod)" >&2
		exit 2
	fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/keyless" ./cmd/keyless)
"$py" "$repo/scripts/moto_suite/run.py" "$work/keyless" "$checkout" "$@"
