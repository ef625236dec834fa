"""`berth serve` start-up as a user meets it: every option also as a BERTH_* variable, the
defaults (./berth-data, 127.0.0.1, http://HOST:PORT), what it prints, SIGINT, and usage errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from conftest import CLIENT_ENV, free_port


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if requests.get(f"{url}/v2/", timeout=1).status_code == 401:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"berth did not answer at {url}")


def serve(
    cwd: Path, *args: str, env: dict[str, str] | None = None, command: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*(command or (sys.executable, "-m", "berth")), "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"berth did not stop on signal {signum}:\n{out}") from None
    return process.returncode, out


def ecr(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "ecr-public",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def test_environment_variables_configure_serve(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "from-env"
    env = {
        "BERTH_HOST": "127.0.0.1",
        "BERTH_PORT": str(port),
        "BERTH_DATA": str(data),
        "BERTH_PUBLIC_URL": "https://registry.example.test/",
        "BERTH_ACCOUNT_ID": "210987654321",
        "BERTH_ALIAS": "envalias",
    }
    process = serve(tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process)
        client = ecr(url)
        registry = client.describe_registries()["registries"][0]
        assert registry["registryId"] == "210987654321"
        assert [a["name"] for a in registry["aliases"]] == ["envalias"]
        created = client.create_repository(repositoryName="env/app")["repository"]
        assert created["repositoryUri"] == "registry.example.test/envalias/env/app"
        assert created["repositoryArn"] == "arn:aws:ecr-public::210987654321:repository/env/app"
        challenge = requests.get(f"{url}/v2/", timeout=5).headers["WWW-Authenticate"]
        assert 'realm="https://registry.example.test/token"' in challenge
    finally:
        code, out = stop(process)
    assert code == 0, out
    assert (data / "berth.db").is_file()
    assert f"berth listening on http://127.0.0.1:{port}" in out
    assert "public URL https://registry.example.test" in out


def test_options_win_over_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {"BERTH_PORT": "1", "BERTH_ALIAS": "ignored"}
    process = serve(tmp_path, "--port", str(port), "--alias", "fromflag", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process)
        registry = ecr(url).describe_registries()["registries"][0]
        assert [a["name"] for a in registry["aliases"]] == ["fromflag"]
    finally:
        stop(process)


def test_defaults_data_folder_and_public_url(tmp_path: Path) -> None:
    """No --data: ./berth-data in the working directory; no --public-url: http://HOST:PORT."""
    port = free_port()
    process = serve(tmp_path, "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process)
        created = ecr(url).create_repository(repositoryName="defaults/app")["repository"]
        assert created["repositoryUri"] == f"127.0.0.1:{port}/berth/defaults/app"
        assert created["registryId"] == "123456789012"
    finally:
        code, out = stop(process, signal.SIGINT)
    assert code == 0, out
    assert (tmp_path / "berth-data" / "berth.db").is_file()
    assert "Traceback" not in out


def test_console_script_and_second_start_sees_the_first(tmp_path: Path) -> None:
    berth = Path(sys.executable).with_name("berth")
    command = (str(berth),) if berth.exists() else (sys.executable, "-m", "berth")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = serve(tmp_path, "--port", str(port), command=command)
    try:
        wait_for(url, first)
        ecr(url).create_repository(repositoryName="kept/app")
    finally:
        stop(first, signal.SIGINT)
    second = serve(tmp_path, "--port", str(port), command=command)
    try:
        wait_for(url, second)
        names = [r["repositoryName"] for r in ecr(url).describe_repositories()["repositories"]]
        assert names == ["kept/app"]
    finally:
        stop(second)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--auth", "strict"), "--auth strict needs --credentials"),
        (("--auth", "sometimes"), "Invalid value for '--auth'"),
        (("--port", "http"), "Invalid value for '--port'"),
        (("--port", "70000"), "70000 is not in the range"),
        (("--workers", "0"), "Invalid value for '--workers'"),
        (("--credentials", "/nonexistent/keys.toml"), "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "berth", "serve", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "berth-data").exists()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "berth", "serve", "--port", str(port), "--data", "d"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "address already in use" in output.lower()
    assert "berth listening" not in output
    assert "Traceback" not in output


def test_help_lists_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "berth", "serve", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--data",
        "--metadata",
        "--blobs",
        "--public-url",
        "--account-id",
        "--alias",
        "--auth",
        "--credentials",
        "--workers",
        "--redirect-blobs",
        "--gc-interval",
        "--gc-grace",
        "--upload-max-age",
        "--access-log",
        "--log-level",
    ):
        assert option in result.stdout, option


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--metadata", "bogus://x"), "unsupported metadata URL 'bogus://x'"),
        (("serve", "--metadata", "not a url"), "cannot open storage"),
        (("serve", "--blobs", "ftp://x"), "unsupported blob store URL 'ftp://x'"),
        (("serve", "--metadata", "postgresql://nobody@127.0.0.1:1/x"), "cannot open storage"),
        (("gc", "--data", "typo"), "no berth database at sqlite:///"),
        (("fsck", "--metadata", "sqlite:////nonexistent/dir/x.db"), "no berth database at"),
    ],
)
def test_unusable_storage_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "berth", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "typo").exists()  # gc and fsck never make an empty database
