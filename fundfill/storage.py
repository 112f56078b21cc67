"""The bucket behind uploads when AWS_STORAGE_BUCKET_NAME is set (fundfill/media.py says who serves what).

Its own module so that boto3, a second's import, loads only where a bucket is configured.
"""

from storages.backends.s3 import S3Storage

from fundfill.media import cache_control


class MediaS3Storage(S3Storage):
    """django-storages' S3 backend, with each public object's Cache-Control set as it is uploaded.

    The bucket then answers image requests with the headers the app would send from MEDIA_ROOT.
    """

    def get_object_parameters(self, name):
        parameters = super().get_object_parameters(name)
        header = cache_control(name)
        if header:
            parameters.setdefault("CacheControl", header)
        return parameters
