"""The site's WSGI application, with the answering process's id in an `X-Worker-Pid` header.

A test that runs gunicorn with several workers reads it to know it reached each of them.
"""

import os

from fundfill.wsgi import application as site


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

    return site(environ, start)
