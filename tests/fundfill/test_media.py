"""Uploaded media on one box, as production serves it: images from MEDIA_ROOT, documents through Wagtail.

The test settings run with DEBUG off, so the URL conf here is the one production loads: nothing
is served because DEBUG happens to be on. Files are uploaded during the test, after the server
(this process) started, as an editor's would be.
"""

import os

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.http import http_date
from wagtail.models import Collection, CollectionViewRestriction
from wagtail_factories import CollectionFactory, DocumentFactory, ImageFactory

from tests.factories import UserFactory

IMMUTABLE = "public, max-age=31536000, immutable"


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def image(db):
    return ImageFactory(
        title="Bootloader",
        file__filename="bootloader.png",
        file__format="PNG",
        file__width=640,
        file__height=360,
    )


def test_a_rendition_is_served_with_its_bytes_and_cached_for_a_year(client, image):
    rendition = image.get_rendition("fill-320x180")
    assert rendition.url.startswith(settings.MEDIA_URL + "images/")

    response = client.get(rendition.url)

    assert response.status_code == 200
    assert response.streaming  # a FileResponse: the file is not read into memory
    assert response["Content-Type"] == "image/png"
    with rendition.file.open("rb") as f:
        assert body(response) == f.read()
    # A rendition's name carries a hash of its filter spec and focal point: new crop, new name.
    assert response["Cache-Control"] == IMMUTABLE
    assert response["Last-Modified"]


def test_an_original_is_served_but_not_marked_immutable(client, image):
    response = client.get(image.file.url)

    assert response.status_code == 200
    with image.file.open("rb") as f:
        assert body(response) == f.read()
    # An original keeps the name it was uploaded with, which a later upload may reuse once it is deleted.
    assert response["Cache-Control"] == "public, max-age=86400"
    assert "immutable" not in response["Cache-Control"]


def test_a_fresh_copy_is_answered_not_modified(client, image):
    rendition = image.get_rendition("fill-320x180")
    modified = os.stat(rendition.file.path).st_mtime

    response = client.get(rendition.url, HTTP_IF_MODIFIED_SINCE=http_date(modified + 1))

    assert response.status_code == 304
    assert response["Cache-Control"] == IMMUTABLE


def test_head_answers_without_a_body_and_writes_are_refused(client, image):
    head = client.head(image.file.url)
    assert head.status_code == 200 and body(head) == b""
    assert client.post(image.file.url).status_code == 405


def test_a_missing_file_is_not_found(client, image):
    rendition = image.get_rendition("fill-320x180")
    default_storage.delete(rendition.file.name)

    assert client.get(rendition.url).status_code == 404


@pytest.fixture
def private_document(db):
    """A document in a collection only signed-in users may see."""
    collection = CollectionFactory(parent=Collection.get_first_root_node(), name="Board papers")
    CollectionViewRestriction.objects.create(
        collection=collection, restriction_type=CollectionViewRestriction.LOGIN
    )
    return DocumentFactory(
        title="Minutes", collection=collection, file=ContentFile(b"secret minutes", name="minutes.csv")
    )


def test_raw_document_files_are_never_served_from_media(client, private_document):
    assert default_storage.exists(private_document.file.name)
    assert private_document.file.name.startswith("documents/")

    response = client.get(settings.MEDIA_URL + private_document.file.name)

    assert response.status_code == 404
    assert b"secret minutes" not in body(response)


@pytest.mark.parametrize(
    "path",
    [
        "images/../documents/{document}",
        "images/%2e%2e/documents/{document}",
        "original_images/..%2fdocuments/{document}",
        "images//{document}",
        "images/./x.png",
        "../fundfill/settings/base.py",
        "%2e%2e/manage.py",
        "/etc/passwd",
        "images/\\..\\documents/{document}",
        "images/x.png%00.txt",
    ],
)
def test_paths_outside_the_image_folders_are_not_found(client, private_document, path):
    document = os.path.basename(private_document.file.name)

    response = client.get(settings.MEDIA_URL + path.format(document=document))

    assert response.status_code == 404
    assert b"secret minutes" not in body(response)


def test_a_symlink_out_of_the_image_folders_is_not_followed(client, image, private_document):
    link = os.path.join(settings.MEDIA_ROOT, "images", f"link-{private_document.pk}.png")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(private_document.file.path, link)
    try:
        response = client.get(settings.MEDIA_URL + f"images/link-{private_document.pk}.png")
    finally:
        os.unlink(link)

    assert response.status_code == 404


def test_documents_are_served_by_wagtail_as_attachments(client, db):
    document = DocumentFactory(title="Audit plan", file=ContentFile(b"step,owner\n", name="audit-plan.csv"))
    assert settings.WAGTAILDOCS_SERVE_METHOD == "serve_view"
    assert document.url == f"/documents/{document.pk}/{document.filename}"

    response = client.get(document.url)

    assert response.status_code == 200
    assert body(response) == b"step,owner\n"
    assert response["Content-Disposition"].startswith("attachment")
    assert f'filename="{document.filename}"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_private_collections_document_is_refused_to_anonymous_readers(client, private_document):
    response = client.get(private_document.url)

    assert response.status_code == 302
    assert f"/login/?next={private_document.url}" in response["Location"]  # Wagtail's login for restrictions
    assert b"secret minutes" not in body(response)

    client.force_login(UserFactory(username="board-member"))
    signed_in = client.get(private_document.url)
    assert signed_in.status_code == 200
    assert body(signed_in) == b"secret minutes"
    assert signed_in["Content-Disposition"].startswith("attachment")


def test_a_group_restricted_document_is_refused_to_other_users(client, private_document):
    restriction = CollectionViewRestriction.objects.get(collection=private_document.collection)
    restriction.restriction_type = CollectionViewRestriction.GROUPS
    restriction.save()
    restriction.groups.set([Group.objects.create(name="Board")])
    client.force_login(UserFactory(username="outsider"))

    response = client.get(private_document.url)

    assert response.status_code in (302, 403)
    assert b"secret minutes" not in body(response)
