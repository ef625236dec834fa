"""--redirect-blobs: blob GETs answered with a 307 to a presigned URL of the
blob store, so the bytes bypass berth; the client's Range goes along."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import requests

from conftest import start_server
from support.registry import Session, sha256_digest
from support.stores import Store


def test_redirected_blob_gets(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    store = new_store()
    server = start_server(tmp_path / "data", None, "--redirect-blobs", store=store)
    try:
        server.ecr().create_repository(repositoryName="redirect/app")
        session = Session(server, "redirect/app", server.creds())
        data = os.urandom(300_000)
        digest = sha256_digest(data)
        assert session.push_blob(data).status_code == 201

        direct = session.get(f"blobs/{digest}", allow_redirects=False)
        head = session.head(f"blobs/{digest}", allow_redirects=False)
        assert head.status_code == 200  # HEAD never leaves berth
        assert head.headers["Content-Length"] == str(len(data))
        # A range no store could serve is refused here, not sent on (S3 would ignore it).
        for bad in ("bytes=500-0", f"bytes={len(data)}-", "bytes=-0"):
            refused = session.get(f"blobs/{digest}", headers={"Range": bad}, allow_redirects=False)
            assert refused.status_code == 416, bad
            assert refused.headers["Content-Range"] == f"bytes */{len(data)}"
            assert refused.json()["errors"][0]["code"] == "RANGE_INVALID"
        if "--blobs" not in store.args:
            # The filesystem store has no URL of its own: served directly.
            assert direct.status_code == 200
            assert direct.content == data
            return
        assert direct.status_code == 307
        assert direct.headers["Docker-Content-Digest"] == digest
        location = direct.headers["Location"]
        assert location.startswith("http") and "X-Amz-Signature" in location
        # The presigned URL needs no credentials of berth's, and honours Range.
        assert requests.get(location, timeout=30).content == data
        ranged = requests.get(location, headers={"Range": "bytes=10-19"}, timeout=30)
        assert ranged.status_code == 206
        assert ranged.content == data[10:20]
        # A client that follows redirects just gets the blob.
        followed = requests.get(
            session.url(f"blobs/{digest}"),
            headers={"Authorization": f"Bearer {session.bearer}"},
            timeout=30,
        )
        assert followed.status_code == 200
        assert followed.history[0].status_code == 307
        assert followed.content == data
    finally:
        server.stop()
