"""Downloads: a file of a snapshot as it was, or a folder as a tar, tar.gz or zip
(`?format=`), streamed as it is read.

A download may take long and read much: it gets a repository connection of its
own (Site.connect_fresh) holding a shared lock, so the pages go on meanwhile and no
prune deletes what it is about to read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ripcord.archive.node import DIR, FILE, Node
from ripcord.repository import Repository
from ripcord.ui.archives import FORMATS, write_file, write_tar, write_zip
from ripcord.ui.paths import disposition, path_after
from ripcord.ui.pipe import pieces, relayed, started
from ripcord.ui.reading import answered, locate
from ripcord.ui.site import Site

_TYPES = {"tar": "application/x-tar", "tar.gz": "application/gzip", "zip": "application/zip"}


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/snapshots/{repo}/{snap}/download/{path:anypath}", _download)]


def _download(request: Request) -> Response:
    site: Site = request.app.state.site
    name, snap_id = request.path_params["repo"], request.path_params["snap"]
    at = locate(site, name, snap_id, path_after(request, 4))
    node = at.node
    if node.type == FILE:
        write = _file(node)
        filename, kind, length = at.name, "application/octet-stream", node.size
    elif node.type == DIR:
        fmt = request.query_params.get("format", "tar")
        if fmt not in FORMATS:
            raise HTTPException(400, f"format is one of {', '.join(FORMATS)}, not {fmt!r}")
        top = at.name or f"snapshot-{at.snapshot.id[:12]}".encode()
        write = _folder(node, top, fmt)
        filename, kind, length = top + b"." + fmt.encode(), _TYPES[fmt], None
    else:
        raise HTTPException(404, f"a {node.type} has no content to download")
    spec = site.spec(name)

    def produce(out: BinaryIO) -> None:
        with site.connect_fresh(spec) as repo, repo.reading():
            write(repo, out)

    headers = {"content-disposition": disposition(filename)}
    if length is not None:
        headers["content-length"] = str(length)  # a download cut short shows as one
    with answered():
        stream = started(pieces(produce, "ripcord-download"))
    return StreamingResponse(relayed(stream), media_type=kind, headers=headers)


def _file(node: Node) -> Callable[[Repository, BinaryIO], None]:
    return lambda repo, out: write_file(out, repo, node)


def _folder(top: Node, name: bytes, fmt: str) -> Callable[[Repository, BinaryIO], None]:
    if fmt == "zip":
        return lambda repo, out: write_zip(out, repo, top, name)
    return lambda repo, out: write_tar(out, repo, top, name, gzip=fmt == "tar.gz")
