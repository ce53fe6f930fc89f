"""TLS through the vetting backend: the connection goes to the vetted IP, while the
certificate is checked against the URL's name and the name is sent as SNI."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.errors import FetchError
from knowledge.sources.fetch import Fetcher, FetchLimits
from tests.support.feedserver import FeedServer, Reply
from tests.support.network import RecordingBackend, table_resolver

NAME = "feeds.example.com"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for feeds.example.com (and its key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={NAME}",
            "-addext",
            f"subjectAltName=DNS:{NAME}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FeedServer]:
    """A feed server speaking TLS on 127.0.0.1 with the certificate for feeds.example.com."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with FeedServer(tls=context) as server:
        server.route("/feed.xml", Reply(body=b"<rss version='2.0'><channel/></rss>"))
        yield server


def _fetcher(certificate: tuple[Path, Path], backend: RecordingBackend) -> Fetcher:
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    names = {NAME: ["127.0.0.1"], "other.example.com": ["127.0.0.1"]}
    return Fetcher(
        FetchLimits(allow_private=True, connect_timeout_s=5, read_timeout_s=5),
        network_backend=backend,
        resolver=table_resolver(names),
        ssl_context=trust,
    )


async def test_tls_checks_the_name_while_connecting_to_the_vetted_address(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    backend = RecordingBackend()
    async with _fetcher(certificate, backend) as fetcher:
        fetched = await fetcher.get(f"https://{NAME}:{tls_server.port}/feed.xml")
    assert fetched.status == 200 and fetched.content.startswith(b"<rss")
    assert backend.connects == [("127.0.0.1", tls_server.port)]
    assert tls_server.server_names == [NAME]
    assert tls_server.requests[0].header("Host") == f"{NAME}:{tls_server.port}"


async def test_a_certificate_for_another_name_is_refused(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    backend = RecordingBackend()
    async with _fetcher(certificate, backend) as fetcher:
        with pytest.raises(FetchError, match="could not connect"):
            await fetcher.get(f"https://other.example.com:{tls_server.port}/feed.xml")
    assert tls_server.requests == []
