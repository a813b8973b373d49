"""An in-process HTTP double of the few Hugging Face Hub endpoints that publishing and loading use, on 127.0.0.1.

It records every request, the files of each commit and the tags, so tests can assert what a publish did (or did not)
send. Only a transport double: the exported files themselves are checked with datasets.load_dataset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self, stall: bool = False, faults: dict[str, int] | None = None) -> None:
        """``faults``: how many times to inject each fault: "tag_500" (the tag POST answers 500), "commit_lost"
        (the commit is applied, then the connection is closed without a response), "commit_stall" (the commit POST
        hangs until the server stops), "status_503" (any request answers 503)."""
        self.stall = stall
        self.faults = dict(faults or {})
        self.release = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self.repos: dict[str, dict] = {}  # repo_id -> {"files": {path: bytes}, "commits": [oid], "tags": {tag: oid}}
        self.cards: dict[str, str] = {}   # repo_id -> README served before any commit
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, code: int, payload=None, raw: bytes | None = None, headers: dict | None = None,
                      head: bool = False) -> None:
                data = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append((method, path))
                if hub._fault("status_503"):  # the Hub is down: every request answers 503
                    self._body()
                    self._send(503, {"error": "Service Unavailable"})
                    return
                if hub.stall:
                    hub.release.wait(120)
                    return
                body = self._body() if method in ("POST", "PUT") else b""
                if method == "POST" and path == "/api/repos/create":
                    req = json.loads(body)
                    repo_id = f"{req.get('organization')}/{req['name']}" if req.get("organization") else req["name"]
                    if repo_id not in hub.repos:  # as the Hub: a new repo starts with an initial commit
                        files = {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"}
                        if repo_id in hub.cards:
                            files["README.md"] = hub.cards[repo_id].encode()
                        oid = hashlib.sha1(f"initial {repo_id}".encode()).hexdigest()
                        hub.repos[repo_id] = {"files": dict(files), "commits": [oid], "tags": {},
                                              "snapshots": {oid: dict(files)}}
                    return self._send(200, {"url": f"http://{self.headers['Host']}/datasets/{repo_id}", "name": repo_id})
                if method == "POST" and path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                m = re.match(r"^/api/datasets/([^/]+/[^/]+)/preupload/(.+)$", path)
                if m and method == "POST":
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                       "oid": None} for f in files]})
                m = re.match(r"^/api/datasets/([^/]+/[^/]+)/commit/(.+)$", path)
                if m and method == "POST":
                    if hub._fault("commit_stall"):
                        hub.release.wait(120)
                        return
                    repo = hub.repos[m.group(1)]
                    files, parent = {}, None
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                        if item["key"] == "header":
                            parent = item["value"].get("parentCommit")
                    head = repo["commits"][-1] if repo["commits"] else None
                    if parent is not None and parent != head:  # as the Hub: the branch moved since parent_commit
                        return self._send(412, {"error": "A commit has happened since. Please refresh and try again."})
                    oid = hashlib.sha1(json.dumps(sorted(files)).encode() + str(len(repo["commits"])).encode()).hexdigest()
                    repo["files"].update(files)
                    repo["commits"].append(oid)
                    repo.setdefault("snapshots", {})[oid] = dict(repo["files"])
                    if hub._fault("commit_lost"):
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    host = self.headers["Host"]
                    return self._send(200, {"commitUrl": f"http://{host}/datasets/{m.group(1)}/commit/{oid}",
                                            "commitOid": oid})
                m = re.match(r"^/api/datasets/([^/]+/[^/]+)/tag/(.+)$", path)
                if m and method == "POST" and hub._fault("tag_500"):
                    return self._send(500, {"error": "Internal Error"})
                m2 = re.match(r"^/api/datasets/([^/]+/[^/]+)/refs$", path)
                if m2 and method == "GET":
                    repo = hub.repos.get(m2.group(1))
                    if repo is None:
                        return self._send(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
                    head = repo["commits"][-1] if repo["commits"] else None
                    return self._send(200, {
                        "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": head}] if head else [],
                        "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": o} for t, o in repo["tags"].items()],
                        "converts": []})
                if m and method == "POST":
                    hub.repos[m.group(1)]["tags"][json.loads(body)["tag"]] = m.group(2)
                    return self._send(200, {})
                m = re.match(r"^/api/datasets/([^/]+/[^/]+)/revision/(.+)$", path)
                if m and method == "GET":
                    repo = hub.repos.get(m.group(1))
                    if repo is None:
                        return self._send(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
                    oid = repo["tags"].get(m.group(2), m.group(2) if m.group(2) in repo["commits"] else None)
                    if m.group(2) == "main" and repo["commits"]:
                        oid = repo["commits"][-1]
                    if oid is None:
                        return self._send(404, {"error": "Revision not found"}, headers={"X-Error-Code": "RevisionNotFound"})
                    files = repo["snapshots"][oid]
                    return self._send(200, {"id": m.group(1), "sha": oid, "private": False,
                                            "siblings": [{"rfilename": f} for f in sorted(files)]})
                m = re.match(r"^/api/datasets/([^/]+/[^/]+)/tree/([^/]+)", path)
                if m and method == "GET":
                    repo = hub.repos[m.group(1)]
                    files = repo["snapshots"][m.group(2)]
                    return self._send(200, [{"type": "file", "path": f, "size": len(d),
                                             "oid": hashlib.sha1(d).hexdigest()} for f, d in sorted(files.items())])
                m = re.match(r"^/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
                if m and method in ("GET", "HEAD"):
                    repo_id, rev, fname = m.groups()
                    repo = hub.repos.get(repo_id)
                    if repo is None or not repo["commits"]:
                        card = hub.cards.get(repo_id)
                        if card is not None and fname == "README.md":  # as the Hub: ETag and commit headers
                            return self._send(200, raw=card.encode(), head=method == "HEAD",
                                              headers={"ETag": f'"{hashlib.sha256(card.encode()).hexdigest()}"',
                                                       "X-Repo-Commit": "0" * 40})
                        return self._send(404, {"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"},
                                          head=method == "HEAD")
                    oid = repo["tags"].get(rev) or (repo["commits"][-1] if rev == "main" else rev)
                    data = repo["snapshots"].get(oid, {}).get(fname)
                    if data is None:
                        return self._send(404, {"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"},
                                          head=method == "HEAD")
                    etag = hashlib.sha256(data).hexdigest()
                    return self._send(200, raw=data, head=method == "HEAD",
                                      headers={"ETag": f'"{etag}"', "X-Repo-Commit": oid})
                return self._send(404, {"error": f"fake hub: no route for {method} {path}"})

            def do_GET(self):
                self._handle("GET")

            def do_HEAD(self):
                self._handle("HEAD")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _fault(self, name: str) -> bool:
        if self.faults.get(name, 0) > 0:
            self.faults[name] -= 1
            return True
        return False

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
