from django import template

from monitoring import requestid

register = template.Library()


@register.simple_tag
def request_id():
    """The current request's id, for error pages: the reference a user quotes to support."""
    return requestid.current()
