"""Uploaded media: who serves it, and how long browsers and CDNs may keep it.

Two deployments (README, "Media files"):

- **Object storage** (``AWS_STORAGE_BUCKET_NAME`` set): django-storages writes uploads to the
  bucket and image URLs point at it (or at ``AWS_S3_CUSTOM_DOMAIN``); `fundfill.storage.MediaS3Storage`
  stamps each object with the Cache-Control below, so the bucket answers with the same headers.
- **One box** (no bucket): `serve` streams images from ``MEDIA_ROOT`` through the app, uploads
  made after start-up included (WhiteNoise only knows the files it found when it started).

Only Wagtail's image folders are ever served here. Documents are not: their links are Wagtail's
``/documents/<id>/<name>``, whose view checks collection privacy and sends Content-Disposition
(``WAGTAILDOCS_SERVE_METHOD = "serve_view"``), so a raw ``/media/documents/…`` would bypass it.
"""

import posixpath
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import storages
from django.http import FileResponse, Http404
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

# Folder → Cache-Control. Wagtail names a rendition after its original plus a hash of the filter
# spec and focal point, so a new crop or a replaced file is a new URL: a year, immutable. (The one
# reuse: delete an image, then upload another under the same file name; caches may show the old
# picture until they expire or the CDN is purged.) An original keeps its uploaded name, which a
# later upload can take again once the image is deleted: a day.
CACHE_CONTROL = {
    "images": "public, max-age=31536000, immutable",
    "original_images": "public, max-age=86400",
    "avatar_images": "public, max-age=86400",  # the admin's user avatars
}


def cache_control(name: str) -> str | None:
    """The Cache-Control for a stored file, or None when it is not public media (documents)."""
    return CACHE_CONTROL.get(name.split("/", 1)[0]) if "/" in name else None


@require_safe
def serve(request, path):
    """Stream one image from MEDIA_ROOT with its cache headers; 404 for anything else.

    Not django.views.static.serve, which Django documents as unfit for production and which would
    serve every file under MEDIA_ROOT, documents included.
    """
    header = cache_control(path)
    # One canonical spelling only: no "..", ".", empty segments, backslashes or NULs.
    if header is None or posixpath.normpath(path) != path or "\\" in path or "\x00" in path:
        raise Http404
    storage = storages["default"]
    try:
        folder = Path(storage.path(path.split("/", 1)[0])).resolve()
        file = Path(storage.path(path)).resolve(strict=True)  # follows symlinks, then we check where to
    except (NotImplementedError, SuspiciousFileOperation, OSError, ValueError):
        raise Http404 from None  # a bucket (no local paths), an escape, or no such file
    if not file.is_relative_to(folder) or not file.is_file():
        raise Http404
    modified = file.stat().st_mtime
    not_modified = get_conditional_response(request, last_modified=int(modified))
    if not_modified is not None:
        not_modified["Cache-Control"] = header
        return not_modified
    response = FileResponse(file.open("rb"))  # sent with wsgi.file_wrapper (sendfile under gunicorn)
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = header
    # Viewed on its own, an image runs nothing and loads nothing.
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
