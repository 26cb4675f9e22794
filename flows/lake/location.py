"""Where a bucket lake lives: `gs://bucket/prefix`, parsed and validated (a value type)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.errors import InvalidParameter
from flows.lake.layout import safe_segment

SCHEME = "gs://"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class BucketLocation:
    """`gs://bucket/prefix`: where a bucket lake lives."""

    bucket: str
    prefix: str  # '' or 'a/b/' (always ending in '/')

    @classmethod
    def parse(cls, url: str) -> BucketLocation:
        """Parse and validate a gs:// URL, naming it in the error."""
        if not url.startswith(SCHEME):
            raise InvalidParameter(f"lake {url!r} is not a gs://bucket/prefix URL")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise InvalidParameter(f"lake {url!r}: {bucket!r} is not a Cloud Storage bucket name")
        segments = prefix.strip("/").split("/") if prefix.strip("/") else []
        for segment in segments:
            safe_segment(segment, f"lake {url!r}: prefix segment")
        return cls(bucket, "".join(f"{s}/" for s in segments))

    def url(self, name: str = "") -> str:
        """The gs:// URL of an object name relative to the lake."""
        return f"{SCHEME}{self.bucket}/{self.prefix}{name}"

    def __str__(self) -> str:
        return self.url().rstrip("/")
