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
# It needs go, the aws CLI and a stock machine's tools: no python, curl or jq.
set -uo pipefail
pass=0; fail=0
ok()   { echo "PASS $*"; pass=$((pass+1)); }
bad()  { echo "FAIL $*"; fail=$((fail+1)); }
need() { command -v "$1" >/dev/null || { echo "FAIL missing tool: $1"; echo "0 passed, 1 failed"; exit 1; }; }
need go; need aws

work=$(mktemp -d); trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/keyless" ./cmd/keyless || { echo "FAIL build"; echo "0 passed, 1 failed"; exit 1; }
export KEYLESS_ROOT_ACCESS_KEY_ID=AKIAKEYLESSSEED00001
export KEYLESS_ROOT_SECRET_ACCESS_KEY=$(head -c 60 /dev/urandom | base64 -w0 | tr -d '+/=' | head -c 40)
# Port 0: the kernel picks a free port; the server logs the address it got.
"$work/keyless" serve --addr 127.0.0.1:0 --data-dir "$work/data" >"$work/serve.log" 2>&1 & srv=$!
ep=
for _ in $(seq 1 300); do
  ep=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | head -1)   # JSON or text log
  [ -n "$ep" ] && break; kill -0 $srv 2>/dev/null || break; sleep 0.1
done
port=${ep##*:}
[ -n "$ep" ] && "$work/keyless" health --endpoint-url "$ep" --wait 60s >/dev/null \
  || { bad "server did not become healthy"; tail -20 "$work/serve.log"; echo "$pass passed, $fail failed"; exit 1; }
ok "server healthy at $ep"

export AWS_ACCESS_KEY_ID=$KEYLESS_ROOT_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$KEYLESS_ROOT_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=ap-northeast-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE
uuid() { cat /proc/sys/kernel/random/uuid; }
# http_get PATH: the body of a plain GET to the server, with bash's /dev/tcp.
http_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
  sed '1,/^\r\{0,1\}$/d' <&3; exec 3<&-
}
# claims JWT: the token's payload JSON.
claims() {
  local p; p=$(printf %s "$1" | cut -d. -f2 | tr '_-' '/+')
  while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
  printf %s "$p" | base64 -d
}
# num JSON KEY: a number member of a one-line JSON object.
num() { printf %s "$1" | grep -o "\"$2\": *[0-9]*" | grep -o '[0-9]*$'; }
ORG=$(uuid); PROJ=$(uuid); OTHER=$(uuid); USER_ID=$(uuid)
acct=$(aws --endpoint-url "$ep" sts get-caller-identity --query Account --output text) && ok "root identity: account $acct" || bad "root get-caller-identity"

"$work/keyless" issuer create --endpoint-url "$ep" --profile circleci --org-id "$ORG" >"$work/issuer.out" \
  && ok "issuer created" || bad "issuer create"
disc=$(http_get "/org/$ORG/.well-known/openid-configuration")
iss=$(printf %s "$disc" | grep -o '"issuer": *"[^"]*"' | cut -d'"' -f4)
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
c=$(claims "$tok")
want_sub="org/$ORG/project/$PROJ/user/$USER_ID/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"
if printf %s "$c" | grep -q "\"iss\": *\"https://oidc.circleci.com/org/$ORG\"" &&
   printf %s "$c" | grep -q "\"sub\": *\"$want_sub\"" &&
   printf %s "$c" | grep -Eq "\"aud\": *(\"$ORG\"|\[\"$ORG\"\])" &&
   printf %s "$c" | grep -q "\"oidc.circleci.com/project-id\": *\"$PROJ\"" &&
   [ $(( $(num "$c" exp) - $(num "$c" iat) )) -eq 3600 ]
then ok "token claims match CircleCI's"; else bad "token claims: $c"; fi

creds=$(aws --endpoint-url "$ep" sts assume-role-with-web-identity --role-arn "$role_arn" \
  --role-session-name CircleCI --web-identity-token "$tok" --duration-seconds 900 \
  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text) \
  && ok "assume-role-with-web-identity" || bad "assume-role-with-web-identity"
read -r ak sk st <<<"$creds"
arn=$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$st \
      aws --endpoint-url "$ep" sts get-caller-identity --query Arn --output text)
[ "$arn" = "arn:aws:sts::$acct:assumed-role/circleci-deploy/CircleCI" ] && ok "caller is $arn" || bad "caller identity '$arn'"

tok2=$("$work/keyless" token --endpoint-url "$ep" --org-id "$ORG" --project-id "$OTHER" --user-id "$USER_ID" --v2 \
  --vcs-origin github.com/acme/other --vcs-ref refs/heads/main)
out=$(aws --endpoint-url "$ep" sts assume-role-with-web-identity --role-arn "$role_arn" \
  --role-session-name CircleCI --web-identity-token "$tok2" 2>&1) && bad "other project was let in" \
  || { echo "$out" | grep -q AccessDenied && ok "other project denied (AccessDenied)" || bad "other project: $out"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
