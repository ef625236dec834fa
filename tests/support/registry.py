"""A small `requests` client for /v2 protocol tests.

It speaks the Docker registry token flow the way real clients do: send the request, and
on a 401 parse `WWW-Authenticate: Bearer realm=...,service=...`, fetch a token from the
realm for `repository:<alias>/<repo>:<actions>` (with HTTP Basic `AWS:<password>` when
credentials are given, anonymously otherwise), then retry with `Authorization: Bearer`.

Nothing here asserts on the server's behaviour except where a helper cannot continue
(e.g. `push_blob` needs the 202 Location); tests check statuses and headers themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import urljoin

import requests

TIMEOUT = 30

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="x",service="y"` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


def _basic(creds: str | None) -> tuple[str, str] | None:
    if creds is None:
        return None
    user, _, password = creds.partition(":")
    return user, password


def _repo_name(server: Any, repo: str, alias: str | None = None) -> str:
    return f"{alias or server.alias}/{repo}"


def token_response(
    server: Any,
    repo: str,
    actions: str = "pull",
    creds: str | None = None,
    service: str | None = None,
    realm: str | None = None,
    alias: str | None = None,
    scope: str | None = None,
) -> requests.Response:
    """The raw /token answer for `repository:<alias>/<repo>:<actions>` (or `scope`)."""
    return requests.get(
        realm or f"{server.url}/token",
        params={
            "service": service or server.host,
            "scope": scope or f"repository:{_repo_name(server, repo, alias)}:{actions}",
        },
        auth=_basic(creds),
        timeout=TIMEOUT,
    )


def token(server: Any, repo: str, actions: str = "pull", creds: str | None = None) -> str:
    """A bearer token for `repo` (bare repository name, no alias); raises on a non-200."""
    response = token_response(server, repo, actions, creds)
    if response.status_code != 200:
        raise AssertionError(f"/token answered {response.status_code}: {response.text}")
    value: str = response.json()["token"]
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def error_codes(response: requests.Response) -> list[str]:
    """The `code`s of a spec error body; fails if the body is not that JSON shape."""
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    for error in body["errors"]:
        assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), body
    return [e["code"] for e in body["errors"]]


class Session:
    """Requests against one repository's `/v2/<alias>/<repo>/...`, with the token flow.

    `creds` ("AWS:<password>") authenticates token requests; None is anonymous. The
    bearer token is cached and refetched on every 401, following the server's challenge.
    `strict` (default) turns any 5xx answer into an AssertionError: no request a test
    makes may ever get a server error.
    """

    def __init__(
        self,
        server: Any,
        repo: str,
        creds: str | None = None,
        actions: str = "pull,push",
        *,
        alias: str | None = None,
        strict: bool = True,
    ) -> None:
        self.server = server
        self.repo = repo
        self.alias = alias
        self.strict = strict
        self.creds = creds
        self.actions = actions
        self.http = requests.Session()
        self.bearer: str | None = None
        self.token_requests = 0

    @property
    def base(self) -> str:
        return f"{self.server.url}/v2/{_repo_name(self.server, self.repo, self.alias)}/"

    def url(self, path: str) -> str:
        """Absolute URL: `path` relative to the repository base, or absolute (`/v2/...`)."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return urljoin(self.server.url, path)
        return self.base + path

    def _fetch_token(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme != "bearer" or "realm" not in params:
            raise AssertionError(f"not a Bearer challenge: {challenge!r}")
        response = token_response(
            self.server,
            self.repo,
            self.actions,
            self.creds,
            service=params.get("service"),
            realm=params["realm"],
            alias=self.alias,
            # Like docker and containerd: ask for the scope the challenge names, if any.
            scope=params.get("scope"),
        )
        self.token_requests += 1
        if response.status_code != 200:
            raise AssertionError(f"/token answered {response.status_code}: {response.text}")
        self.bearer = response.json()["token"]

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        if self.bearer is not None:
            headers["Authorization"] = f"Bearer {self.bearer}"
        response = self.http.request(method, url, headers=headers, **kwargs)
        challenge = response.headers.get("WWW-Authenticate")
        if response.status_code == 401 and challenge:
            self._fetch_token(challenge)
            headers["Authorization"] = f"Bearer {self.bearer}"
            response = self.http.request(method, url, headers=headers, **kwargs)
        if self.strict and response.status_code >= 500:
            raise AssertionError(
                f"{method} {url} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # --- uploads --------------------------------------------------------------------------

    def start_upload(self) -> requests.Response:
        return self.post("blobs/uploads/")

    def push_blob(
        self, data: bytes, digest: str | None = None, *, in_put_body: bool = True
    ) -> requests.Response:
        """POST an upload session, then `PUT <Location>?digest=` (the whole blob in the PUT
        body, or with `in_put_body=False` a PATCH of the bytes then an empty PUT).

        Returns the final response; raises only if the POST gives no 202 + Location.
        """
        digest = digest or sha256_digest(data)
        started = self.start_upload()
        if started.status_code != 202 or "Location" not in started.headers:
            raise AssertionError(f"upload POST answered {started.status_code}: {started.text}")
        location = started.headers["Location"]
        if not in_put_body:
            patched = self.patch(
                location,
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            if patched.status_code != 202:
                return patched
            location = patched.headers.get("Location", location)
        return self.put(
            location,
            params={"digest": digest},
            data=data if in_put_body else b"",
            headers={"Content-Type": "application/octet-stream"},
        )

    def push_blobs(self, blobs: list[bytes]) -> None:
        for data in blobs:
            response = self.push_blob(data)
            if response.status_code != 201:
                raise AssertionError(f"blob push answered {response.status_code}: {response.text}")

    def push_manifest(
        self, body: bytes, media_type: str, reference: str | None = None
    ) -> requests.Response:
        """PUT a manifest by tag or digest (default: its sha256 digest)."""
        return self.put(
            f"manifests/{reference or sha256_digest(body)}",
            data=body,
            headers={"Content-Type": media_type},
        )

    def push_image(self, image: Any, tag: str | None = None) -> requests.Response:
        """Push an `images.Image` (blobs, then manifest) or an `images.Index` (every child
        by digest, then the index). Returns the final manifest PUT's response."""
        for child in getattr(image, "images", []):
            response = self.push_image(child)
            if response.status_code != 201:
                raise AssertionError(f"child push answered {response.status_code}")
        if hasattr(image, "blobs"):
            self.push_blobs([blob.data for blob in image.blobs])
        return self.push_manifest(image.manifest, image.media_type, tag)

    def tags(self) -> requests.Response:
        return self.get("tags/list")


def push_blob(
    server: Any, repo: str, data: bytes, digest: str | None = None, creds: str | None = None
) -> requests.Response:
    """One-shot POST + PUT ?digest= with push credentials (default: `server.creds()`)."""
    return Session(server, repo, creds or server.creds()).push_blob(data, digest)


def push_manifest(
    server: Any,
    repo: str,
    body: bytes,
    media_type: str,
    reference: str | None = None,
    creds: str | None = None,
) -> requests.Response:
    return Session(server, repo, creds or server.creds()).push_manifest(body, media_type, reference)


def json_body(response: requests.Response) -> Any:
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    return json.loads(response.content)
