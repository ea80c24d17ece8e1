"""The command line, tokens, the Host check and the Origin check."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

import pytest
from serverproc import ServerProcess
from wire import Socket, arun, get, line_op, send_ops


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livepanel", *args], capture_output=True, text=True, timeout=timeout)


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("livepanel 0.")


def test_port_in_use_is_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "cannot listen on 127.0.0.1" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "argument --port: port 70000 is not between 0 and 65535"),
        (["--port", "abc"], "argument --port: 'abc' is not a whole number"),
        (["--body-timeout", "soon"], "argument --body-timeout: 'soon' is not a number"),
        (["--store", "redis"], "store must be 'sqlite', 'memory' or a postgresql://"),
        (["--max-payload", "lots"], "is not a size"),
    ],
)
def test_bad_flags_are_explained(args, message, tmp_path):
    out = run_cli("serve", "--data-dir", str(tmp_path), *args)
    assert out.returncode == 2 and message in out.stderr


def test_replay_to_a_url_that_is_no_server_url_says_so_with_nothing_spooled(tmp_path):
    out = run_cli("replay", "--url", "ftp://127.0.0.1:9", "--spool", str(tmp_path / "empty"))
    assert out.returncode == 1 and "livepanel replay: url must look like 'http://127.0.0.1:8097'" in out.stderr


def test_prints_url_and_serves_under_base_url(server_factory):
    srv = server_factory("--base-url", "/lp/")
    with urllib.request.urlopen(srv.url + "/lp/api/v1/health") as resp:
        assert resp.status == 200
    assert send_ops(srv.url, [line_op("e", "w", [1], [1])])[0] == 404  # not under the prefix
    from wire import post

    from livepanel import protocol

    body = protocol.packb({"client": "client-base", "seq": 1, "ops": [line_op("e", "w", [1], [1])]})
    assert post(srv.url, body, path="/lp/api/v1/ingest")[0] == 200
    with urllib.request.urlopen(srv.url + "/lp") as resp:  # redirected to /lp/
        assert resp.url.endswith("/lp/")
    assert f"http://127.0.0.1:{srv.port}/lp/" in srv.log.read_text()


def test_beyond_loopback_requires_a_generated_token(tmp_path):
    srv = ServerProcess(tmp_path / "data", "--host", "0.0.0.0").start()
    try:
        printed = srv.log.read_text()
        assert "?token=" in printed
        token = printed.split("?token=")[1].split()[0]
        status, answer = send_ops(srv.url, [line_op("e", "w", [1], [1])])
        assert status == 401 and "needs a token" in answer["error"]
        assert send_ops(srv.url, [line_op("e", "w", [1], [1])], token="wrong")[0] == 401
        assert send_ops(srv.url, [line_op("e", "w", [1], [1])], token=token)[0] == 200
        assert get(srv.url, "/api/v1/envs")[0] == 401
        assert get(srv.url, "/api/v1/envs", token=token)[0] == 200
        # A browser: ?token= sets a cookie and redirects to the clean URL.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(f"{srv.url}/?token={token}&env=e") as resp:
            assert "token" not in resp.url and resp.url.endswith("/?env=e")
        with opener.open(f"{srv.url}/api/v1/envs") as resp:
            assert resp.status == 200

        async def sockets():
            with pytest.raises(Exception, match="401"):
                await Socket(srv.url).connect()
            sock = await Socket(srv.url, token=token).connect()
            assert (await sock.recv())["type"] == "hello"
            sock.close()

        arun(sockets())
    finally:
        srv.stop()


def test_explicit_token_on_loopback(server_factory):
    srv = server_factory("--token", "s3cret-token")
    assert send_ops(srv.url, [line_op("e", "w", [1], [1])])[0] == 401
    assert send_ops(srv.url, [line_op("e", "w", [1], [1])], token="s3cret-token")[0] == 200


def test_no_auth_must_be_explicit(tmp_path):
    srv = ServerProcess(tmp_path / "data", "--host", "0.0.0.0", "--no-auth").start()
    try:
        assert "WARNING" in srv.log.read_text()
        assert send_ops(srv.url, [line_op("e", "w", [1], [1])])[0] == 200
    finally:
        srv.stop()


def test_token_and_no_auth_together_are_refused():
    out = subprocess.run(
        [sys.executable, "-m", "livepanel", "serve", "--no-auth", "--token", "abc", "--store", "memory"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--token and --no-auth contradict each other" in out.stderr
    assert "Traceback" not in out.stderr


def test_foreign_host_header_is_refused_without_token(server):
    req = urllib.request.Request(server.url + "/api/v1/envs", headers={"Host": "evil.example:8097"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 403
    err.value.close()


def test_cross_origin_websocket_is_refused(server):
    async def run():
        with pytest.raises(Exception, match="403"):
            await Socket(server.url, origin="http://evil.example").connect()
        sock = await Socket(server.url, origin=server.url).connect()
        assert (await sock.recv())["type"] == "hello"
        sock.close()

    arun(run())


def test_sigint_shuts_down_cleanly(tmp_path):
    import signal

    srv = ServerProcess(tmp_path / "data").start()
    assert send_ops(srv.url, [line_op("e", "w", [1], [1])])[0] == 200
    assert srv.stop(signal.SIGINT) == 0
    assert "Traceback" not in srv.log.read_text()


def test_free_port_zero_prints_actual_port(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "livepanel", "serve", "--port", "0", "--store", "memory"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving at http://127.0.0.1:" in line and ":0/" not in line
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
