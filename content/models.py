"""The site's own pages: how Fundfill works, its terms, privacy and contact, and any FAQ.

Plain Wagtail pages with no money on them: what they say about escrow, claims and votes
is written by editors, and the demo's copy follows the rules in `bounties/services/`.
"""

from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from base.seo import SocialMetaMixin, social_meta_for
from content.blocks import ContentBlock
from pagecache.serving import FastServeMixin


class ContentPage(FastServeMixin, SocialMetaMixin, Page):
    """A general page: a title, a short intro, then headings, paragraphs, questions and answers,
    images and calls to action. Headings carry anchors, so other pages (the claim and vote forms,
    the footer) can link to one section of it."""

    intro = models.TextField(
        blank=True, help_text="One or two plain sentences under the title; also the link preview's text."
    )
    body = StreamField(ContentBlock(), blank=True)

    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]

    # Under the homepage (How it works, Terms), or under another content page (a section of them).
    parent_page_types = ["home.HomePage", "content.ContentPage"]
    subpage_types = ["content.ContentPage"]

    class Meta:
        verbose_name = "content page"

    def social_meta(self, request):
        return social_meta_for(self, request, description=self.search_description or self.intro)

    def sections(self):
        """(anchor, text) for each top-level heading of the body: the page's table of contents."""
        return [
            (block.block.anchor_of(block.value), block.value["text"])
            for block in self.body
            if block.block_type == "heading" and block.value["level"] == "h2"
        ]
