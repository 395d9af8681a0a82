"""Upload and download of large files: multipart, parallel parts, progress, verified checksums.

* :func:`upload` sends a local file to an ``s3://`` URI (or copies it into a
  local mirror). On S3 it uses boto3's transfer manager: files above
  ``part_size`` go as a multipart upload whose parts are sent by
  ``max_workers`` threads. The object only appears when every part has arrived
  (``CompleteMultipartUpload``), so an interrupted upload leaves no partial
  object; boto3 aborts the multipart upload on errors. The file's SHA-256 is
  stored in the object's metadata (``sha256``) and the uploaded size is checked.
* :func:`download` fetches an object to a local file through a temporary file
  in the target folder, verifies its size and, when the object carries one,
  its SHA-256, and only then renames it into place: a failed or corrupt
  download never leaves a file that looks complete.

Progress bars use tqdm when ``progress=True``; ``on_progress`` receives the
number of bytes of each chunk as it is transferred.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from braingeneers.core.atomic import replacing
from braingeneers.core.endpoint import local_path
from braingeneers.core.errors import NotFoundError, StorageError
from braingeneers.core.storage import _s3_errors, _split, s3_client

__all__ = ["download", "sha256_of", "upload"]

_MIB = 1024 * 1024


def sha256_of(path: str | os.PathLike[str], chunk: int = 8 * _MIB) -> str:
    """Return the hex SHA-256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _progress(total: int, label: str, progress: bool, on_progress: Callable[[int], None] | None) -> Any:
    """Return ``(callback, close)`` for boto3's transfer callbacks."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label)

    def callback(count: int) -> None:
        if bar is not None:
            bar.update(count)
        if on_progress is not None:
            on_progress(count)

    def close() -> None:
        if bar is not None:
            bar.close()

    return callback, close


def _transfer_config(part_size: int, max_workers: int) -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=max_workers,
        use_threads=True,
    )


def _copy_atomically(source: Path, target: Path) -> None:
    with replacing(target) as temp:
        shutil.copyfile(source, temp)


def upload(
    source: str | os.PathLike[str],
    uri: str | os.PathLike[str],
    *,
    part_size: int = 64 * _MIB,
    max_workers: int = 8,
    progress: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> str:
    """Upload local file ``source`` to ``uri`` and return its SHA-256.

    Raises
    ------
    ~braingeneers.core.errors.NotFoundError
        ``source`` does not exist.
    ~braingeneers.core.errors.StorageError
        The transfer failed or the stored size differs from the file's.
    """
    source_path = Path(source)
    if not source_path.is_file():
        raise NotFoundError(f"{source_path} does not exist or is not a file")
    digest = sha256_of(source_path)
    total = source_path.stat().st_size
    target = local_path(uri)
    if target is not None:
        _copy_atomically(source_path, target)
        if on_progress is not None:
            on_progress(total)
        return digest
    bucket, key = _split(str(uri))
    callback, close = _progress(total, source_path.name, progress, on_progress)
    try:
        with _s3_errors(str(uri)):
            client = s3_client()
            client.upload_file(
                str(source_path),
                bucket,
                key,
                ExtraArgs={"Metadata": {"sha256": digest}},
                Callback=callback,
                Config=_transfer_config(part_size, max_workers),
            )
            stored = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except Exception as exc:
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"uploading {source_path} to {uri} failed: {exc}") from exc
    finally:
        close()
    if stored != total:
        raise StorageError(f"{uri}: stored {stored} bytes but {source_path} has {total}; upload again")
    return digest


def download(
    uri: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    part_size: int = 64 * _MIB,
    max_workers: int = 8,
    progress: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> str:
    """Download ``uri`` to local file ``target`` (replaced atomically) and return its SHA-256.

    Raises
    ------
    ~braingeneers.core.errors.NotFoundError
        The object does not exist.
    ~braingeneers.core.errors.StorageError
        The transfer failed, or the size or checksum does not match; ``target`` is left untouched.
    """
    target_path = Path(target)
    source = local_path(uri)
    if source is not None:
        if not source.is_file():
            raise NotFoundError(f"{source} does not exist")
        _copy_atomically(source, target_path)
        if on_progress is not None:
            on_progress(source.stat().st_size)
        return sha256_of(target_path)
    bucket, key = _split(str(uri))
    client = s3_client()
    with _s3_errors(str(uri)):
        head = client.head_object(Bucket=bucket, Key=key)
    total = int(head["ContentLength"])
    expected = head.get("Metadata", {}).get("sha256")
    callback, close = _progress(total, target_path.name, progress, on_progress)
    try:
        with replacing(target_path) as temp:
            with _s3_errors(str(uri)):
                client.download_file(
                    bucket, key, str(temp), Callback=callback, Config=_transfer_config(part_size, max_workers)
                )
            size = temp.stat().st_size
            if size != total:
                raise StorageError(f"{uri}: downloaded {size} bytes, expected {total}; download again")
            digest = sha256_of(temp)
            if expected and digest != expected:
                raise StorageError(
                    f"{uri}: SHA-256 {digest} does not match the stored {expected}; download again"
                )
    finally:
        close()
    return digest
