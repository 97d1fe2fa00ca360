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

A bucket with Object Lock keeps versions: an overwrite adds a newer version
and a plain delete a delete marker, and the version ripcord wrote stays. Since
every name ripcord writes is content-addressed and written once, the *oldest*
version of a name is ripcord's, so in such a bucket the store reads only that:
`list` names every key with a real version (a delete marker hides nothing), with
the original's size, and `get`/`stat` ask for the original's VersionId (cached
from listings; one ListObjectVersions request for a name not listed yet).
`delete` removes every version and marker of a name, the original last, and
raises ObjectLocked when a lock keeps it. `revisions` reports what was changed.

Whether to read this way is decided once per store, lazily, before the first
read: one GetObjectLockConfiguration request (or none, once
`retain_new_objects` was called). It has to be the bucket that says so, not
the repository's config: `config` and `keys/` are read before the config is
known, and an attacker must not be able to switch it off by overwriting
`config`. Object Lock cannot be turned off on a bucket, nor versioning
suspended on it. A client refused that request (a policy without
s3:GetBucketObjectLockConfiguration) reads plainly until the config turns the
lock on; on a bucket without Object Lock everything stays plain.

Credentials come from the standard AWS chain (environment, config files,
instance roles). Transient faults (throttling, 5xx, dropped connections) are
retried with backoff by botocore's "standard" retry mode. A put whose reply was
lost and whose retry meets 412 (or, completing a multipart upload, NoSuchUpload)
succeeds if the object holds exactly the bytes sent: its first try stored them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ripcord.errors import RepositoryNotFound, StoreError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, Revision, validate_name
from ripcord.storage.errors import ObjectExists, ObjectLocked, ObjectNotFound
from ripcord.storage.retry import holds
from ripcord.storage.s3_versions import History, histories
from ripcord.storage.urls import parse_s3_url

MULTIPART_THRESHOLD = 16 << 20  # larger objects go up in parts of this size
_PART_WORKERS = 4
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"412", "PreconditionFailed"}
# a conditional write that raced another on the same key: AWS says retry it
_CONFLICT = {"409", "ConditionalRequestConflict"}
_CONFLICT_RETRIES = 5
# a completion retried after the first completed: the upload is gone
_NO_UPLOAD = {"NoSuchUpload"}
_GONE = {"404", "NoSuchKey", "NoSuchVersion"}  # a version deleted since it was listed
# no retention on this version: AWS says the first, SeaweedFS the second
_UNLOCKED = {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}
_DENIED = {"AccessDenied", "403"}
T = TypeVar("T")


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
        self._versioned: bool | None = None  # None: not asked yet (see the module docstring)
        self._originals: dict[str, str] = {}  # name -> the VersionId ripcord wrote
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
        loc = parse_s3_url(url)
        return cls(loc.bucket, loc.prefix, endpoint=loc.endpoint, region=loc.region)

    def retain_new_objects(self, mode: str, period: timedelta) -> None:
        """Lock every object written from now on (`locks/` excepted: holders delete them)."""
        self._retention = (mode.upper(), period)
        self._versioned = True  # the repository says the bucket has Object Lock

    def versioned(self) -> bool:
        """Whether the bucket keeps versions that ripcord must choose from (Object Lock)."""
        if self._versioned is None:
            try:
                self._versioned = self._lock_configuration() is not None
            except ClientError as e:
                if _code(e) not in _DENIED | {"NotImplemented", "501"}:
                    self._fail(e, "the Object Lock configuration", "read")
                self._versioned = False  # not allowed to ask, or no Object Lock at all here
            except BotoCoreError as e:
                self._fail(e, "the Object Lock configuration", "read")
        return self._versioned

    def object_lock_configuration(self) -> dict[str, Any] | None:
        """The bucket's Object Lock configuration; None if the bucket was made without it."""
        try:
            return self._lock_configuration()
        except (ClientError, BotoCoreError) as e:
            self._fail(e, "the Object Lock configuration", "read")

    def _lock_configuration(self) -> dict[str, Any] | None:
        try:
            r = self._s3.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as e:
            if _code(e) == "ObjectLockConfigurationNotFoundError":
                return None
            raise
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
                if _retried(e) and _code(e) in _EXISTS | _NO_UPLOAD and holds(self, name, data):
                    return  # an earlier attempt stored it; only its reply was lost
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
        if length == 0:
            self.stat(name)  # nothing to read, but a missing object is still an error
            return b""
        extra: dict[str, Any] = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            extra["Range"] = f"bytes={offset}-{end}"

        def read(args: dict[str, Any]) -> bytes:
            body = self._s3.get_object(**args, **extra)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data

        try:
            return self._original(name, read)
        except ClientError as e:
            if _code(e) == "InvalidRange":  # the range starts at or past the end
                return b""
            self._fail(e, name, "read")
        except BotoCoreError as e:
            self._fail(e, name, "read")

    def stat(self, name: str) -> ObjectInfo:
        try:
            r = self._original(name, lambda args: self._s3.head_object(**args))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "stat")
        return ObjectInfo(name, int(r["ContentLength"]))

    def _original(self, name: str, request: Callable[[dict[str, Any]], T]) -> T:
        """`request` on the version of `name` that ripcord wrote (on the object itself in
        a bucket without versions). A cached version deleted since it was listed is
        looked up again: the name may have been written anew (a pack prune deleted and
        a later backup stored again)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(name)}
        if not self.versioned():
            return request(args)
        cached = self._originals.get(name)
        if cached is not None:
            try:
                return request({**args, "VersionId": cached})
            except ClientError as e:
                if _code(e) not in _GONE:
                    raise
                self._originals.pop(name, None)
        return request({**args, "VersionId": self._look_up(name)})

    def _look_up(self, name: str) -> str:
        """The VersionId ripcord wrote under `name`, asked of the server (and cached)."""
        history = self._history(name)
        original = history.original if history else None
        if original is None:
            raise ObjectNotFound(f"{name} not found")
        self._originals[name] = original.id
        return original.id

    def _version(self, name: str) -> str:
        """The VersionId ripcord wrote under `name`, cached or asked."""
        try:
            return self._originals.get(name) or self._look_up(name)
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "list the versions of")

    def _history(self, name: str) -> History | None:
        """Every version and delete marker of exactly `name` (its key is a prefix of
        longer ones' too)."""
        key = self._key(name)
        for h in self._histories(key):
            if h.key == key:
                return h
        return None

    def _histories(self, key_prefix: str) -> Iterator[History]:
        pages = self._s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=key_prefix
        )
        return histories(pages)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Page through the listing lazily; S3 promises nothing about order."""
        key = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            if self.versioned():
                for h in self._histories(key):
                    if h.original is not None:  # else: only delete markers, nothing to read
                        self._originals[h.key[strip:]] = h.original.id
                        yield ObjectInfo(h.key[strip:], h.original.size)
                return
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(obj["Key"][strip:], int(obj["Size"]))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, prefix, "list")

    def revisions(self, prefix: str = "") -> Iterator[Revision]:
        """Names overwritten (newer versions) or delete-marked since ripcord wrote them,
        each change with the time it first happened."""
        if not self.versioned():
            return
        key = self._key(prefix) + "/" if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for h in self._histories(key):
                name = h.key[strip:]
                if h.original is None:
                    continue  # nothing of ripcord's left to read: `list` does not name it
                if len(h.versions) > 1:
                    yield Revision(name, "overwritten", h.versions[-2].when, len(h.versions) - 1)
                if h.markers:
                    yield Revision(name, "deleted", h.markers[-1].when, len(h.markers))
        except (ClientError, BotoCoreError) as e:
            self._fail(e, prefix or "the repository", "list")

    def delete(self, name: str) -> None:
        if not self.versioned():
            self.stat(name)
            try:
                self._s3.delete_object(Bucket=self.bucket, Key=self._key(name))
            except (ClientError, BotoCoreError) as e:
                self._fail(e, name, "delete")
            return
        try:
            history = self._history(name)
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "delete")
        if history is None or history.original is None:
            raise ObjectNotFound(f"{name} not found")
        self._originals.pop(name, None)
        # newer versions and markers first: were the original to go while a (locked)
        # newer version stayed, that version would be read as ripcord's
        later = [*history.markers, *history.versions[:-1]]
        locked = [u for u in (self._delete_version(name, v.id) for v in later) if u]
        if not locked:
            until = self._delete_version(name, history.original.id)
            locked = [until] if until else []
        if locked:
            until = max(locked)
            raise ObjectLocked(
                f"{name} is locked until {until:%Y-%m-%d %H:%M} UTC (S3 Object Lock);"
                " it can be deleted after that",
                until,
            )

    def _delete_version(self, name: str, version: str) -> datetime | None:
        """Delete one version or marker; if a lock refuses it, when the lock ends."""
        key = self._key(name)
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
            return None
        except ClientError as e:
            if _code(e) not in _DENIED:
                self._fail(e, name, "delete")
            until = self._lock_of(name, version)[1]
            if until is None or until <= datetime.now(UTC):
                self._fail(e, name, "delete")  # refused for another reason: the policy
            return until
        except BotoCoreError as e:
            self._fail(e, name, "delete")

    def retained_until(self, name: str) -> datetime | None:
        """When the lock on the version ripcord wrote ends (None: never locked, or a
        bucket without Object Lock); a past date means the lock has run out."""
        if not self.versioned():
            return None
        version = self._version(name)
        return self._lock_of(name, version)[1]

    def extend_retention(self, name: str, until: datetime) -> None:
        """Lock the version ripcord wrote until `until` in the mode it has (or the
        repository's, if it has none); a lock that already runs as long is left."""
        if not self.versioned():
            raise StoreError(f"cannot lock {name}: {self._where} has no Object Lock")
        version = self._version(name)
        mode, current = self._lock_of(name, version)
        if current is not None and current >= until:
            return
        mode = mode or (self._retention[0] if self._retention else None)
        if mode is None:
            raise StoreError(f"cannot lock {name}: it is not locked and no lock mode is set")
        try:
            self._s3.put_object_retention(
                Bucket=self.bucket,
                Key=self._key(name),
                VersionId=version,
                Retention={"Mode": mode, "RetainUntilDate": until},
            )
        except (ClientError, BotoCoreError) as e:
            self._fail(e, name, "extend the lock of")

    def _lock_of(self, name: str, version: str) -> tuple[str | None, datetime | None]:
        """(mode, retain-until) of one version; (None, None) when it has no lock."""
        try:
            r = self._s3.get_object_retention(
                Bucket=self.bucket, Key=self._key(name), VersionId=version
            )
        except ClientError as e:
            if _code(e) in _UNLOCKED:
                return None, None
            self._fail(e, name, "read the lock of")
        except BotoCoreError as e:
            self._fail(e, name, "read the lock of")
        retention = r.get("Retention", {})
        until = retention.get("RetainUntilDate")
        return retention.get("Mode"), until.astimezone(UTC) if until else None

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
        if code in _DENIED | {"InvalidAccessKeyId", "SignatureDoesNotMatch"}:
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


def _retried(e: ClientError) -> bool:
    """Whether botocore sent the request more than once: an earlier try may have done it."""
    return int(e.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))
