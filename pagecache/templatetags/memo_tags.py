"""`{% remember %}`: a fragment rendered once per publish and process (`pagecache.memo`); and
`{% personal %}`, a part that differs between readers (`pagecache.personal`).

    {% remember "fund-body" page.pk %}…{% endremember %}

The fragment is keyed on its name, the values after it, and the request's scheme and host
(fragments may hold absolute URLs). Outside a live page request (previews, forms, the admin)
it renders every time. Never wrap anything that changes without a publish: a fund's figures
or status, the time left, the signed-in user.

Why not Wagtail's `{% wagtailpagecache %}`: it keys on the page's own `cache_key`, which does
not change when something else the fragment shows is published (a news item under a fund, the
featured fund on the homepage), and each fragment costs a cache round trip. This tag is keyed
by the purge generation, which every such change moves, and lives in the process's memory.
"""

from django import template

from pagecache import memo
from pagecache import personal as personal_parts

register = template.Library()


class RememberNode(template.Node):
    def __init__(self, nodelist, vary_on):
        self.nodelist = nodelist
        self.vary_on = vary_on

    def render(self, context):
        request = context.get("request")
        if not memo.is_stamped(request):
            # Not a live page request (an error page for a refused Host header among them).
            return self.nodelist.render(context)
        key = ("fragment", request.scheme, request.get_host(), *(v.resolve(context) for v in self.vary_on))
        return memo.remember(request, key, lambda: self.nodelist.render(context))


@register.tag
def remember(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("{% remember %} needs a fragment name")
    nodelist = parser.parse(("endremember",))
    parser.delete_first_token()
    return RememberNode(nodelist, [parser.compile_filter(bit) for bit in bits[1:]])


@register.simple_tag(takes_context=True)
def personal(context, name):
    """`{% personal "account" %}`: a part of the page that differs between readers, rendered here
    for this request and marked, so a signed-in reader's page can be built from the cached
    anonymous one with only this part rendered for them (`pagecache.personal`)."""
    start, end = personal_parts.markers(name)
    user = getattr(context.get("request"), "user", None)
    with context.push(signed_in=bool(user is not None and user.is_authenticated)):
        html = context.template.engine.get_template(personal_parts.PARTS[name]).render(context)
    return start + html + end  # all three safe: the markers and the rendered template
