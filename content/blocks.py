"""StreamField blocks for the site's own pages: how it works, terms, privacy, contact."""

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.blocks import ImageBlock

# What a call to action may link to: pages and mail, never `javascript:`.
SAFE_LINKS = ("https://", "http://", "/", "mailto:")


class HeadingBlock(blocks.StructBlock):
    """A section heading with a stable anchor, so other pages can link to it (`/how-it-works/#claims`)."""

    text = blocks.CharBlock()
    level = blocks.ChoiceBlock(choices=[("h2", "Section"), ("h3", "Subsection")], default="h2")
    anchor = blocks.RegexBlock(
        regex=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        required=False,
        error_messages={"invalid": "Lowercase letters, digits and single hyphens only, e.g. “claims”."},
        help_text="The #anchor links use; made from the text if left empty. Change it and links break.",
    )

    class Meta:
        icon = "title"
        template = "blocks/heading_block.html"

    def anchor_of(self, value) -> str:
        return value.get("anchor") or slugify(value.get("text", ""))

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        context["anchor"] = self.anchor_of(value)
        return context


class QuestionBlock(blocks.StructBlock):
    """One question and its answer, for a FAQ: rendered as a <details> the reader opens."""

    question = blocks.CharBlock()
    answer = blocks.RichTextBlock(features=["bold", "italic", "link", "ol", "ul"])

    class Meta:
        icon = "help"
        template = "blocks/question_block.html"


class CallToActionBlock(blocks.StructBlock):
    """A button-style link to one page of the site or one address (not both)."""

    text = blocks.CharBlock(help_text="What the reader does, e.g. “See the open funds”.")
    page = blocks.PageChooserBlock(required=False)
    url = blocks.CharBlock(required=False, help_text="A web address or a path such as /funds/, if no page.")

    class Meta:
        icon = "link"
        template = "blocks/call_to_action_block.html"

    def clean(self, value):
        value = super().clean(value)
        url = value.get("url", "").strip()
        if bool(value.get("page")) == bool(url):
            raise StructBlockValidationError(
                block_errors={"url": ValidationError("Choose a page or write an address: one of the two.")}
            )
        if url and not url.startswith(SAFE_LINKS):
            raise StructBlockValidationError(
                block_errors={
                    "url": ValidationError("Start the address with https://, http://, / or mailto:.")
                }
            )
        return value


class ContentBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(features=["bold", "italic", "link", "ol", "ul"])
    question = QuestionBlock()
    image = ImageBlock()
    call_to_action = CallToActionBlock()
