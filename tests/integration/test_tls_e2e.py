"""`facade up --tls-cert/--tls-key`: the control plane serves HTTPS with the certificate
given, the `facade` command talks to it trusting that certificate (SSL_CERT_FILE), plain HTTP
is not answered; a half-given or unusable pair stops it before anything starts; listening
beyond loopback without TLS is warned of."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration import nsclient
from tests.integration.controlplane import (
    FACADE,
    ControlPlane,
    cleanup,
    start_control_plane,
    stop_control_plane,
)
from tests.integration.kernel_lock import kernel_lock

pytestmark = pytest.mark.root


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Path]]:
    if os.geteuid() != 0:
        pytest.skip("needs root: real network namespaces")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(folder)
    with kernel_lock():
        home = folder / "home"
        home.mkdir()
        plane = start_control_plane(home, args=("--tls-cert", str(cert), "--tls-key", str(key)),
                                    scheme="https", verify=str(cert))
        try:
            yield plane, cert
        finally:
            stop_control_plane(plane)
            cleanup(home)
            assert not nsclient.sandbox_leftovers(home)


def test_the_api_is_served_over_https_with_the_certificate(
        tls_plane: tuple[ControlPlane, Path]) -> None:
    plane, cert = tls_plane
    assert plane.url.startswith("https://")
    r = httpx.get(plane.url + "/v1/accounts", verify=str(cert),
                  headers={"Authorization": f"Bearer {plane.token}"})
    assert r.status_code == 200 and any(a["name"] == "operator" for a in r.json()["items"])
    with pytest.raises(httpx.ConnectError):  # not a certificate anyone trusts by default
        httpx.get(plane.url + "/v1/health")
    plain = plane.url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):  # no clear-text answer on that port
        httpx.get(plain + "/v1/health", timeout=3)


def test_the_command_trusts_the_certificate_it_is_given(
        tls_plane: tuple[ControlPlane, Path]) -> None:
    plane, cert = tls_plane
    out = plane.cli("account", "list", "-o", "name", check=False)
    assert out.returncode != 0  # the system's trust store does not know it
    env = {**plane.env, "SSL_CERT_FILE": str(cert)}
    out = subprocess.run([FACADE, "account", "list", "-o", "name"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "operator" in out.stdout.split()


def _server(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACADE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "facade.api.server", *args], env=env,
                          capture_output=True, text=True, timeout=30)


def test_a_bad_pair_stops_it_before_anything_starts(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    home = tmp_path / "home"
    for args, words in ((("--tls-cert", str(cert)), "go together"),
                        (("--tls-cert", str(cert), "--tls-key", str(cert)), "cannot serve TLS"),
                        (("--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(key)),
                         "cannot serve TLS")):
        out = _server("--port", "1", *args, home=home)
        assert out.returncode == 2, out
        assert words in out.stderr and "Traceback" not in out.stderr
    assert not home.exists()  # nothing was made

