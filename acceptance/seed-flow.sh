#!/usr/bin/env bash
# The seed's flow, end to end, with the real aws CLI against `keyless serve`.
# Run from the project root: bash acceptance/seed-flow.sh
# It builds ./cmd/keyless, starts a server on a free loopback port with a fresh data dir, and:
#   1. creates a CircleCI-profile issuer for a new organization;
#   2. registers https://oidc.circleci.com/org/<org> as an IAM OIDC provider (audience = org id);
#   3. creates a role whose trust policy is the seed's, restricted to one project;
#   4. mints a job token for that project and exchanges it exactly as the seed's orb does;
#   5. calls `aws sts get-caller-identity` with the temporary credentials;
#   6. checks that a token of another project is denied.
set -uo pipefail
pass=0; fail=0
ok()   { echo "PASS $*"; pass=$((pass+1)); }
bad()  { echo "FAIL $*"; fail=$((fail+1)); }
need() { command -v "$1" >/dev/null || { echo "FAIL missing tool: $1"; echo "0 passed, 1 failed"; exit 1; }; }
need go; need aws; need python3; need curl

work=$(mktemp -d); trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/keyless" ./cmd/keyless || { echo "FAIL build"; echo "0 passed, 1 failed"; exit 1; }
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export KEYLESS_ROOT_ACCESS_KEY_ID=AKIAKEYLESSSEED00001
export KEYLESS_ROOT_SECRET_ACCESS_KEY=$(python3 -c 'import secrets;print(secrets.token_urlsafe(30)[:40])')
"$work/keyless" serve --addr 127.0.0.1:$port --data-dir "$work/data" >"$work/serve.log" 2>&1 & srv=$!
ep=http://127.0.0.1:$port
for _ in $(seq 1 150); do curl -fsS "$ep/_keyless/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$ep/_keyless/health" >/dev/null || { bad "server did not become healthy"; tail -20 "$work/serve.log"; echo "$pass passed, $fail failed"; exit 1; }
ok "server healthy"

export AWS_ACCESS_KEY_ID=$KEYLESS_ROOT_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$KEYLESS_ROOT_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=ap-northeast-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE
uuid() { python3 -c 'import uuid;print(uuid.uuid4())'; }
ORG=$(uuid); PROJ=$(uuid); OTHER=$(uuid); USER_ID=$(uuid)
acct=$(aws --endpoint-url "$ep" sts get-caller-identity --query Account --output text) && ok "root identity: account $acct" || bad "root get-caller-identity"

"$work/keyless" issuer create --endpoint-url "$ep" --profile circleci --org-id "$ORG" >"$work/issuer.out" \
  && ok "issuer created" || bad "issuer create"
disc=$(curl -fsS "$ep/org/$ORG/.well-known/openid-configuration")
iss=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["issuer"])' "$disc" 2>/dev/null)
[ "$iss" = "https://oidc.circleci.com/org/$ORG" ] && ok "discovery issuer $iss" || bad "discovery issuer is '$iss'"

aws --endpoint-url "$ep" iam create-open-id-connect-provider --url "https://oidc.circleci.com/org/$ORG" \
  --client-id-list "$ORG" --thumbprint-list 9e99a48a9960b14926bb7f3b02e22da2b0ab7280 >/dev/null \
  && ok "OIDC provider registered" || bad "create-open-id-connect-provider"

cat >"$work/trust.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::$acct:oidc-provider/oidc.circleci.com/org/$ORG"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringLike": {"oidc.circleci.com/org/$ORG:sub": ["org/$ORG/project/$PROJ/*"]}}
    }
  ]
}
JSON
role_arn=$(aws --endpoint-url "$ep" iam create-role --role-name circleci-deploy \
  --assume-role-policy-document "file://$work/trust.json" --query Role.Arn --output text) \
  && ok "role $role_arn" || bad "create-role"

tok=$("$work/keyless" token --endpoint-url "$ep" --org-id "$ORG" --project-id "$PROJ" --user-id "$USER_ID" \
  --v2 --vcs-origin github.com/acme/app --vcs-ref refs/heads/main) && ok "job token minted" || bad "token"
claims=$(python3 - "$tok" <<'PY'
import base64, json, sys
p = sys.argv[1].split(".")[1]; p += "=" * (-len(p) % 4)
print(json.dumps(json.loads(base64.urlsafe_b64decode(p))))
PY
)
want_sub="org/$ORG/project/$PROJ/user/$USER_ID/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"
python3 - "$claims" "$ORG" "$PROJ" "$want_sub" <<'PY' && ok "token claims match CircleCI's" || bad "token claims: $claims"
import json, sys
c, org, proj, sub = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
assert c["iss"] == f"https://oidc.circleci.com/org/{org}", c["iss"]
assert c["sub"] == sub, c["sub"]
assert c["aud"] in (org, [org]), c["aud"]
assert c["oidc.circleci.com/project-id"] == proj
assert c["exp"] - c["iat"] == 3600
PY

creds=$(aws --endpoint-url "$ep" sts assume-role-with-web-identity --role-arn "$role_arn" \
  --role-session-name CircleCI --web-identity-token "$tok" --duration-seconds 900 \
  --query Credentials --output json) && ok "assume-role-with-web-identity" || bad "assume-role-with-web-identity"
arn=$(AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["AccessKeyId"])' "$creds") \
      AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["SecretAccessKey"])' "$creds") \
      AWS_SESSION_TOKEN=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["SessionToken"])' "$creds") \
      aws --endpoint-url "$ep" sts get-caller-identity --query Arn --output text)
[ "$arn" = "arn:aws:sts::$acct:assumed-role/circleci-deploy/CircleCI" ] && ok "caller is $arn" || bad "caller identity '$arn'"

tok2=$("$work/keyless" token --endpoint-url "$ep" --org-id "$ORG" --project-id "$OTHER" --user-id "$USER_ID" --v2 \
  --vcs-origin github.com/acme/other --vcs-ref refs/heads/main)
out=$(aws --endpoint-url "$ep" sts assume-role-with-web-identity --role-arn "$role_arn" \
  --role-session-name CircleCI --web-identity-token "$tok2" 2>&1) && bad "other project was let in" \
  || { echo "$out" | grep -q AccessDenied && ok "other project denied (AccessDenied)" || bad "other project: $out"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
