"""Media in object storage: with AWS_STORAGE_BUCKET_NAME, uploads go to an S3 bucket through django-storages.

The bucket is moto's S3 server on a loopback port, which speaks the S3 wire protocol: the same
requests boto3 sends to AWS, MinIO or R2. The settings come from a real production start-up
(`fundfill.settings.production` with the operator's variables), so the in-process tests use
exactly what base.py builds from the environment.
"""

import json
import socket
import uuid

import boto3
import pytest
import requests
from django.core.files.base import ContentFile
from moto.server import ThreadedMotoServer
from wagtail.models import Collection, CollectionViewRestriction
from wagtail_factories import CollectionFactory, DocumentFactory, ImageFactory

from tests.fundfill.test_settings import manage, production_environment

IMMUTABLE = "public, max-age=31536000, immutable"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret"}

# Printed by a production start-up: which backend holds media, and every AWS_ setting it read.
PROBE = """
import json
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
name = default_storage.save("images/probe.txt", ContentFile(b"saved by production settings"))
print(json.dumps({
    "url": default_storage.url(name),
    "default": settings.STORAGES["default"],
    "WAGTAILDOCS_SERVE_METHOD": settings.WAGTAILDOCS_SERVE_METHOD,
    "img_src": settings.CONTENT_SECURITY_POLICY_REPORT_ONLY["DIRECTIVES"]["img-src"],
    "aws": {name: getattr(settings, name) for name in dir(settings) if name.startswith("AWS_")},
}))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def public_images_policy(bucket):
    """The bucket policy the README gives: anyone may read images, nobody documents (moto enforces it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicImages",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket}/images/*", f"arn:aws:s3:::{bucket}/original_images/*"],
            }
        ],
    }


def make_bucket(endpoint):
    name = f"fundfill-media-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(public_images_policy(name)))
    return name


@pytest.fixture(scope="module")
def production_start(s3_endpoint, tmp_path_factory):
    """Start production settings with the bucket variables, save one file, and report what they read."""
    bucket = make_bucket(s3_endpoint)
    scratch = tmp_path_factory.mktemp("production")
    env = production_environment(
        scratch,
        MEDIA_ROOT=str(scratch / "media"),  # anything not sent to the bucket lands here, not in the repo
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_S3_CUSTOM_DOMAIN="",  # not a CDN from the developer's shell
        **CREDENTIALS,
    )
    result = manage("shell", "-c", PROBE, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"bucket": bucket, **json.loads(result.stdout.strip().splitlines()[-1])}


def test_production_puts_media_in_the_bucket(production_start, s3_endpoint):
    assert production_start["default"]["BACKEND"] == "fundfill.storage.MediaS3Storage"
    assert production_start["url"] == f"{s3_endpoint}/{production_start['bucket']}/images/probe.txt"
    # Documents still go through Wagtail's view, which streams them from the bucket after its checks.
    assert production_start["WAGTAILDOCS_SERVE_METHOD"] == "serve_view"
    assert s3_endpoint in production_start["img_src"]
    # Credentials stay in the environment (django-storages and boto3 read them there), not in settings.
    assert "AWS_SECRET_ACCESS_KEY" not in production_start["aws"]

    response = requests.get(production_start["url"], timeout=10)

    assert response.status_code == 200
    assert response.content == b"saved by production settings"


@pytest.fixture
def s3_media(db, production_start, s3_endpoint, settings, monkeypatch):
    """This process's settings switched to what production read, on a bucket of its own."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name, value in production_start["aws"].items():
        setattr(settings, name, value)
    settings.AWS_STORAGE_BUCKET_NAME = make_bucket(s3_endpoint)
    settings.STORAGES = {**settings.STORAGES, "default": production_start["default"]}
    return settings


def test_a_rendition_is_uploaded_to_the_bucket_and_served_from_it(s3_media, s3_endpoint, make_fund, client):
    image = ImageFactory(
        title="Bootloader",
        file__filename="bootloader.png",
        file__format="PNG",
        file__width=640,
        file__height=360,
    )
    fund = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt", image=image)

    page = client.get(fund.url).content.decode()
    rendition = image.renditions.get(filter_spec="fill-960x400")
    bucket_url = f"{s3_endpoint}/{s3_media.AWS_STORAGE_BUCKET_NAME}/"

    assert rendition.url.startswith(bucket_url + "images/bootloader.")
    assert f'src="{rendition.url}"' in page  # the page links straight to the bucket
    response = requests.get(rendition.url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    with rendition.file.open("rb") as f:
        assert response.content == f.read()
    assert response.headers["Cache-Control"] == IMMUTABLE

    original = requests.get(image.file.url, timeout=10)
    assert original.status_code == 200
    assert original.headers["Cache-Control"] == "public, max-age=86400"


def test_two_uploads_of_one_name_keep_both_files(s3_media):
    first = ImageFactory(file__filename="shot.png", file__color="red")
    second = ImageFactory(file__filename="shot.png", file__color="blue")

    assert first.file.name != second.file.name
    assert (
        requests.get(first.file.url, timeout=10).content != requests.get(second.file.url, timeout=10).content
    )


def test_bucket_documents_go_through_wagtails_checks(s3_media, client):
    collection = CollectionFactory(parent=Collection.get_first_root_node(), name="Board papers")
    CollectionViewRestriction.objects.create(
        collection=collection, restriction_type=CollectionViewRestriction.LOGIN
    )
    public = DocumentFactory(title="Plan", file=ContentFile(b"step,owner\n", name="plan.csv"))
    private = DocumentFactory(
        title="Minutes", collection=collection, file=ContentFile(b"secret minutes", name="minutes.csv")
    )
    assert public.url == f"/documents/{public.pk}/{public.filename}"  # the app's URL, not the bucket's

    response = client.get(public.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"step,owner\n"
    assert response["Content-Disposition"].startswith("attachment")

    refused = client.get(private.url)
    assert refused.status_code == 302 and "/login/" in refused["Location"]
    # Nor can the bucket be asked for it: only the app, with its credentials, reads documents/.
    assert requests.get(private.file.url, timeout=10).status_code == 403
