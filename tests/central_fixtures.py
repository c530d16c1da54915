"""A real S3-compatible server for the central-store tests: moto's server mode on 127.0.0.1.

The server runs in its own process: delta-rs holds the GIL during some calls (a delete, a
vacuum), so a server thread inside the test process could never answer them. Each test gets
its own bucket and the standard AWS variables pointing at the server; the secret key is a
distinctive string so tests can prove it never reaches a log, an error or a file.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0

SECRET = "Sup3rSECRET-key-never-logged-4c1d"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@dataclass
class Central:
    endpoint: str
    bucket: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/study"

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDTEST", aws_secret_access_key=SECRET)

    def object_keys(self) -> list[str]:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def body(self, key: str) -> bytes:
        return self.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def central(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Central:
    """A fresh bucket, the AWS variables, ``$FER_CENTRAL_STORE`` and ``$FER_SITE`` (siteA)."""
    for var in ("FER_CONFIG", "FER_LOG_ROOT", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./fer.toml
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")  # for Polars/deltalake called directly
    c = Central(s3_endpoint, f"fer-{uuid.uuid4().hex[:12]}")
    c.s3().create_bucket(Bucket=c.bucket)
    monkeypatch.setenv("FER_CENTRAL_STORE", c.uri)
    monkeypatch.setenv("FER_SITE", "siteA")
    return c


def synthetic_store(root: Path, sessions: list[tuple[str, str, int]]) -> LogStore:
    """A local store of closed synthetic sessions: (subject, session, rows) each."""
    store = LogStore(root, fsync=False)
    for subject, session, n in sessions:
        with store.open_session(subject, session, started_at=T0, source="synthetic",
                                synthetic=True) as w:
            w.append_many(synthetic_rows(n, T0))
    return store
