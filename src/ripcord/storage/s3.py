"""A repository in an S3 bucket (AWS or any S3-compatible server), via boto3.

Write-once is a conditional put (`If-None-Match: *`, on the single PUT or on
CompleteMultipartUpload), so two writers racing for one name cannot both win
and nothing is ever overwritten: the server answers 412 to the loser. S3 deletes
are idempotent, so `delete` asks HEAD first to report a missing object; a
delete racing another delete of the same name may then report success twice.

With Object Lock (`retain_new_objects`, set by the repository from its
config), every object is written with a retain-until date of now + retention:
per-object retention, never a bucket default, because lock objects under
`locks/` must stay deletable by their holders and are written unlocked.

Credentials come from the standard AWS chain (environment, config files,
instance roles). Transient faults (throttling, 5xx, dropped connections) are
retried with backoff by botocore's "standard" retry mode.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ripcord.errors import RepositoryNotFound, StoreError, UsageError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import ObjectExists, ObjectNotFound

MULTIPART_THRESHOLD = 16 << 20  # larger objects go up in parts of this size
_PART_WORKERS = 4
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"412", "PreconditionFailed"}
# a conditional write that raced another on the same key: AWS says retry it
_CONFLICT = {"409", "ConditionalRequestConflict"}
_CONFLICT_RETRIES = 5


class S3Store:
    capabilities = Capabilities(object_lock=True)

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint: str | None = None,
        region: str | None = None,
        *,
        part_size: int = MULTIPART_THRESHOLD,
        max_attempts: int = 8,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self._where = f"s3://{bucket}/{self.prefix}"
        self._retention: tuple[str, timedelta] | None = None
        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=2 * _PART_WORKERS,
        )
        try:
            self._s3: Any = _session().client(
                "s3", endpoint_url=endpoint, region_name=region, config=config
            )
        except BotoCoreError as e:
            raise StoreError(f"cannot use {self._where}: {e}") from None

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        """Open `s3://bucket[/prefix][?endpoint=URL&region=R]` (AWS when no endpoint)."""
        u = urlsplit(url)
        options = dict(parse_qsl(u.query, keep_blank_values=True))
        if u.scheme != "s3" or not u.netloc or set(options) - {"endpoint", "region"}:
            raise UsageError(
                f"invalid S3 location {url!r}: expected s3://bucket[/prefix][?endpoint=URL&region=R]"
            )
        return cls(
            u.netloc,
            unquote(u.path),
            endpoint=options.get("endpoint") or None,
            region=options.get("region") or None,
        )

    def retain_new_objects(self, mode: str, period: timedelta) -> None:
        """Lock every object written from now on (`locks/` excepted: holders delete them)."""
        self._retention = (mode.upper(), period)

    def object_lock_configuration(self) -> dict[str, Any] | None:
        """The bucket's Object Lock configuration; None if the bucket was made without it."""
        try:
            r = self._s3.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as e:
            if _code(e) == "ObjectLockConfigurationNotFoundError":
                return None
            self._fail(e, "the Object Lock configuration", "read")
        except BotoCoreError as e:
            self._fail(e, "the Object Lock configuration", "read")
        config: dict[str, Any] = r.get("ObjectLockConfiguration", {})
        return config if config.get("ObjectLockEnabled") == "Enabled" else None

    def _lock_args(self, name: str) -> dict[str, Any]:
        """The retention arguments of a put or multipart upload of `name`."""
        if self._retention is None or name.startswith("locks/"):
            return {}
        mode, period = self._retention
        return {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": datetime.now(UTC) + period}

    def _key(self, name: str) -> str:
        name = validate_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        key = self._key(name)
        for _ in range(_CONFLICT_RETRIES):
            try:
                lock = self._lock_args(name)
                if len(data) > self.part_size:
                    self._put_multipart(key, data, lock)
                else:
                    self._s3.put_object(
                        Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*", **lock
                    )
                return
            except ClientError as e:
                if _code(e) not in _CONFLICT:
                    self._fail(e, name, "write")
            except BotoCoreError as e:
                self._fail(e, name, "write")
        raise StoreError(f"cannot write {name} to {self._where}: conflicting writers kept racing")

    def _put_multipart(self, key: str, data: bytes, lock: dict[str, Any]) -> None:
        """Upload parts in parallel; the conditional complete decides who wins."""
        upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key, **lock)["UploadId"]
        view = memoryview(data)

        def part(i: int) -> dict[str, Any]:
            chunk = view[i * self.part_size : (i + 1) * self.part_size]
            r = self._s3.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=i + 1, Body=bytes(chunk)
            )
            return {"ETag": r["ETag"], "PartNumber": i + 1}

        try:
            count = -(-len(data) // self.part_size)
            with ThreadPoolExecutor(min(_PART_WORKERS, count)) as pool:
                parts = list(pool.map(part, range(count)))
            self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            # parts left behind cost money until a lifecycle rule clears them
            with contextlib.suppress(ClientError, BotoCoreError):
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        key = self._key(name)
        if length == 0:
            self.stat(name)  # nothing to read, but a missing object is still an error
            return b""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            args["Range"] = f"bytes={offset}-{end}"
        try:
            body = self._s3.get_object(**args)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data
        except ClientError as e:
            if _code(e) == "InvalidRange":  # the range starts at or past the end
                return b""
            self._fail(e, name, "read")
        except BotoCoreError as e:
            self._fail(e, name, "read")

    def stat(self, name: str) -> ObjectInfo:
        try:
            r = self._s3.head_object(Bucket=self.bucket, Key=self._key(name))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "stat")
        return ObjectInfo(name, int(r["ContentLength"]))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Page through the listing lazily; S3 promises nothing about order."""
        key = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key)
        try:
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(obj["Key"][strip:], int(obj["Size"]))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, prefix, "list")

    def delete(self, name: str) -> None:
        self.stat(name)
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(name))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "delete")

    def close(self) -> None:
        self._s3.close()

    def _fail(self, e: ClientError | BotoCoreError, name: str, doing: str) -> NoReturn:
        """Raise the storage error that `e` means, with a message a user can act on."""
        code = _code(e) if isinstance(e, ClientError) else ""
        if code in _NOT_FOUND:
            raise ObjectNotFound(f"{name} not found") from None
        if code in _EXISTS:
            raise ObjectExists(f"{name} already exists") from None
        if code == "NoSuchBucket":
            raise RepositoryNotFound(f"no bucket {self.bucket!r} at this S3 endpoint") from None
        if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            raise StoreError(
                f"cannot {doing} {name} in {self._where}: access denied ({code}); "
                "check the AWS credentials and the bucket policy"
            ) from None
        raise StoreError(f"cannot {doing} {name} in {self._where}: {e}") from e


@functools.cache
def _loader() -> Any:
    """botocore's model loader, shared: loading the S3 model takes ~0.15 s per session."""
    return botocore.session.get_session().get_component("data_loader")


def _session() -> Any:
    """A fresh session (credentials are resolved anew, as the environment says now)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core)


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))
