"""Run selected tests of moto's own IAM/STS suite against `keyless serve`.

moto's tests run in its server mode (TEST_SERVER_MODE=true): every boto3
client they create talks to TEST_SERVER_MODE_ENDPOINT, which is a keyless
server this runner starts. moto expects a fresh backend per test (it would
POST /moto-api/reset, which keyless does not have), so each test gets a new
`keyless serve` on a new data directory, on the same port.

Each selected test is reported as
  pass              it passed against keyless;
  moto-specific     it failed, and classification.txt says why the test
                    asserts moto's own behaviour rather than AWS's;
  differs-from-AWS  it failed and is not classified: a difference to fix.
Tests moto itself skips in server mode are reported as skipped.

Usage: run.py KEYLESS_BINARY MOTO_CHECKOUT [pytest args...]
Exit status: 0 when nothing differs from AWS, 1 otherwise, 2 on setup errors.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"  # moto's DEFAULT_ACCOUNT_ID, which its tests assert
ROOT_KEY = "AKIAKEYLESSMOTOSUITE"
ROOT_SECRET = "keyless-moto-suite-root-secret-0123456789"


def read_classification(path):
    """Returns (selected prefixes, {prefix: reason})."""
    selected, moto = [], {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, rest = line.partition(" ")
            if kind == "select":
                selected.append(rest.strip())
            elif kind == "moto":
                test, sep, reason = rest.partition(" -- ")
                if not sep or not reason.strip():
                    raise SystemExit(f"{path}:{n}: a moto-specific test needs ' -- reason'")
                moto[test.strip()] = reason.strip()
            else:
                raise SystemExit(f"{path}:{n}: unknown line kind {kind!r}")
    return selected, moto


def matches(nodeid, prefix):
    # "file::func" selects every parametrization "file::func[...]".
    return nodeid == prefix or nodeid.startswith(prefix + "[")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keyless:
    """A `keyless serve` started afresh for each test."""

    def __init__(self, binary, port, logdir):
        self.binary, self.port, self.logdir = binary, port, logdir
        self.proc, self.datadir, self.n = None, None, 0

    def start(self):
        self.n += 1
        self.datadir = tempfile.mkdtemp(prefix="keyless-moto-")
        log = open(os.path.join(self.logdir, f"serve-{self.n}.log"), "wb")
        env = dict(os.environ, KEYLESS_ROOT_ACCESS_KEY_ID=ROOT_KEY, KEYLESS_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET)
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--addr", f"127.0.0.1:{self.port}", "--data-dir", self.datadir,
             "--account-id", ACCOUNT, "--log-level", "warn"],
            stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + 60  # generous: CI machines are loaded
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keyless serve exited with {self.proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_keyless/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("keyless serve did not become healthy within 60s")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir = None


class Plugin:
    def __init__(self, pytest, server, selected, moto):
        self.server, self.selected, self.moto = server, selected, moto
        self.results = {}  # nodeid -> (outcome, detail)

        @pytest.fixture(autouse=True)
        def keyless_server():
            server.start()
            yield
            server.stop()

        self.keyless_server = keyless_server

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            (keep if any(matches(item.nodeid, p) for p in self.selected) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            if report.nodeid in self.results and self.results[report.nodeid][0] != "passed":
                return  # keep the first failure (setup or call), not teardown's
            detail = ""
            if report.outcome == "failed":
                detail = first_line(report.longreprtext)
            elif report.outcome == "skipped":
                detail = skip_reason(report)
            self.results[report.nodeid] = (report.outcome, detail)


def first_line(text):
    for line in reversed(text.splitlines()):
        if line.startswith("E "):
            return line[1:].strip()[:300]
    return (text.strip().splitlines() or [""])[-1][:300]


def skip_reason(report):
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2])
    return str(lr)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    binary, checkout, extra = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3:]
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # moto reads these when it is imported, so before pytest collects.
    for k in list(os.environ):
        if k.startswith("AWS_") or k.startswith("MOTO_"):
            del os.environ[k]
    os.environ.update({
        "TEST_SERVER_MODE": "true",
        "TEST_SERVER_MODE_ENDPOINT": endpoint,
        "MOTO_CALL_RESET_API": "false",  # keyless has no /moto-api; each test gets a fresh server instead
        "AWS_ACCESS_KEY_ID": ROOT_KEY,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    # Debian's python3-pytest and python3-freezegun, for a python that lacks
    # them; appended, so this python's own packages come first.
    sys.path.append("/usr/lib/python3/dist-packages")
    import pytest

    # moto's mock_aws would replace the credentials with FOOBARKEY/FOOBARSECRET,
    # which keyless (rightly) refuses; sign with keyless's root key instead.
    from moto.core.config import default_user_config
    default_user_config["core"]["mock_credentials"] = False

    selected, moto = read_classification(os.path.join(HERE, "classification.txt"))
    logdir = tempfile.mkdtemp(prefix="keyless-moto-logs-")
    server = Keyless(binary, port, logdir)
    plugin = Plugin(pytest, server, selected, moto)
    files = sorted({p.split("::")[0] for p in selected})
    os.chdir(checkout)
    args = ["-q", "-p", "no:cacheprovider", "-o", "addopts=", "--tb=short", "-rN", *files, *extra]
    try:
        pytest.main(args, plugins=[plugin])
    finally:
        server.stop()

    counts = {"pass": 0, "moto-specific": 0, "differs-from-AWS": 0, "skipped": 0}
    stale = []
    print("\n== keyless vs moto", endpoint)
    for nodeid in sorted(plugin.results):
        outcome, detail = plugin.results[nodeid]
        reason = next((r for p, r in moto.items() if matches(nodeid, p)), None)
        if outcome == "passed":
            verdict = "pass"
            if reason is not None:
                stale.append(nodeid)
            line = ""
        elif outcome == "skipped":
            verdict, line = "skipped", detail
        elif reason is not None:
            verdict, line = "moto-specific", reason
        else:
            verdict, line = "differs-from-AWS", detail
        counts[verdict] += 1
        print(f"{verdict:17} {nodeid}" + (f"\n{'':17} {line}" if line else ""))
    print("\n== summary: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for nodeid in stale:
        print(f"note: {nodeid} passes but is classified moto-specific; drop it from classification.txt")
    if counts["differs-from-AWS"]:
        print(f"server logs: {logdir}")
        return 1
    shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
