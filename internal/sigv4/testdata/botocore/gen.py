# Regenerates botocore.json: requests signed by botocore's SigV4Auth and
# SigV4QueryAuth, an independent oracle for the verifier. Run with python3
# and botocore installed: python3 gen.py > botocore.json
import json

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
creds = Credentials("ASIAQWERTYUIOPASDFGH", SECRET, "session+token/with=chars")
plain = Credentials("AKIAIOSFODNN7EXAMPLE", SECRET)


def case(name, auth, method, url, body=b"", headers=None):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    auth.add_auth(req)
    p = req.prepare()
    return {
        "name": name,
        "method": p.method,
        "url": p.url,
        "headers": [[k, v] for k, v in p.headers.items()],
        "body": (p.body or b"").decode() if isinstance(p.body, bytes) else (p.body or ""),
        "timestamp": req.context["timestamp"],
        "secret": SECRET,
    }


form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
cases = [
    case("sts GetCallerIdentity", SigV4Auth(creds, "sts", "us-east-1"), "POST", "https://sts.keyless.test/",
         b"Action=GetCallerIdentity&Version=2011-06-15", dict(form)),
    case("sts with Date header", SigV4Auth(creds, "sts", "eu-central-1"), "POST", "https://sts.keyless.test:8443/",
         b"Action=GetCallerIdentity&Version=2011-06-15", dict(form, Date="x")),
    case("iam CreateRole long-term key", SigV4Auth(plain, "iam", "us-east-1"), "POST", "http://127.0.0.1:4566/",
         b"Action=CreateRole&RoleName=ci&Path=%2Fci%2F&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D&Version=2010-05-08",
         dict(form)),
    case("odd path is normalized and double-encoded", SigV4Auth(plain, "sts", "us-east-1"), "GET",
         "https://sts.keyless.test/foo%20bar/./baz//qux/../?Action=GetCallerIdentity&Version=2011-06-15&Empty=&Sp=a%20b"),
    case("presigned GetCallerIdentity", SigV4QueryAuth(creds, "sts", "us-west-2", expires=900), "GET",
         "https://sts.keyless.test/?Action=GetCallerIdentity&Version=2011-06-15"),
]
print(json.dumps(cases, indent=1))
