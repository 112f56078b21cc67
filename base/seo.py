"""Link-preview metadata: what a page says about itself in <head>.

Every page type mixes in `SocialMetaMixin`, whose `social_meta(request)` returns a
`SocialMeta`; `get_context` puts it in the template context as `meta`, built when the
template first reads it (`LazySocialMeta`: a template that takes its <head> from elsewhere,
such as a remembered fragment, never builds it), and `templates/includes/meta.html` renders
it: <title>, the meta description, the canonical link, Open Graph and the Twitter card.
Pages override the pieces they know better (a fund has a summary and an image; news is an
article with its fund's image; the homepage keeps its own URL and names the site first, but
previews with its featured fund's title and image, as its hero does).

Absolute URLs are built on `settings.SITE_URL`, never on the request's Host header: a
link preview fetched through a proxy or a CDN must name the public address.
"""

from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.utils.functional import cached_property
from wagtail.images.models import SourceImageIOError
from wagtail.models import Site

# Open Graph's recommended large-card size (1.91:1); X and LinkedIn crop from it too.
SOCIAL_IMAGE_FILTER = "fill-1200x630"


def absolute_url(path: str) -> str:
    """`/funds/x/` → `https://fundfill.example/funds/x/`; already absolute URLs (a CDN's) stay as they are."""
    return urljoin(settings.SITE_URL + "/", path)


def site_name_for(request) -> str:
    site = Site.find_for_request(request) if request is not None else None
    return (site.site_name if site else "") or settings.WAGTAIL_SITE_NAME


@dataclass(frozen=True)
class SocialMeta:
    """Everything <head> says about one page, ready to render (all URLs absolute).

    `title` is what a link preview shows (og:title, twitter:title); the <title> is
    "title · site name" unless `head_title` says otherwise (the homepage: "Fundfill · its
    featured fund"). `published_time` (ISO 8601) is for articles.
    """

    title: str
    description: str
    url: str
    site_name: str
    type: str = "website"
    image_url: str = ""
    image_width: int | None = None
    image_height: int | None = None
    image_alt: str = ""
    head_title: str = ""
    published_time: str = ""

    @property
    def document_title(self) -> str:
        """The <title>: "Fund title · Fundfill", or just the site's name when that is the title."""
        if self.head_title:
            return self.head_title
        if not self.title or self.title == self.site_name:
            return self.site_name
        return f"{self.title} · {self.site_name}"

    @property
    def twitter_card(self) -> str:
        return "summary_large_image" if self.image_url else "summary"


def social_meta_for(
    page,
    request,
    *,
    title=None,
    description=None,
    image=None,
    image_alt=None,
    type="website",
    published_time="",
) -> SocialMeta:
    """Build a page's `SocialMeta`, defaulting to its promote-tab fields (SEO title, search description)."""
    image_url, width, height = "", None, None
    if image is not None:
        try:
            rendition = image.get_rendition(SOCIAL_IMAGE_FILTER)
        except SourceImageIOError:
            # The original is gone from storage: the page still renders, its preview has no image.
            image = None
        else:
            image_url, width, height = absolute_url(rendition.url), rendition.width, rendition.height
    # A page being previewed before its first save has no URL yet.
    url_parts = page.get_url_parts(request) if page.pk else None
    page_path = (url_parts[2] if url_parts else None) or "/"
    return SocialMeta(
        title=title if title is not None else (page.seo_title or page.title),
        description=description if description is not None else page.search_description,
        url=absolute_url(page_path),
        site_name=site_name_for(request),
        type=type,
        image_url=image_url,
        image_width=width,
        image_height=height,
        image_alt=image_alt if image_alt is not None else (image.default_alt_text if image else ""),
        published_time=published_time,
    )


class LazySocialMeta:
    """A `SocialMeta` built on first read: always true, so `{% if meta %}` builds nothing."""

    def __init__(self, build):
        self.build = build

    def __bool__(self):
        return True

    @cached_property
    def value(self) -> SocialMeta:
        return self.build()

    def __getattr__(self, name):
        return getattr(self.value, name)


class SocialMetaMixin:
    """For Page subclasses: puts `meta` (this page's `social_meta(request)`) in the template context."""

    def social_meta(self, request) -> SocialMeta:
        return social_meta_for(self, request)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["meta"] = LazySocialMeta(lambda: self.social_meta(request))
        return context
