"""A fund's SVG badge, shields.io-like: "Fundfill | $1,910 pledged · 42 backers".

Built here rather than in a template so the text is measured where it is laid out. No font
is embedded: like shields.io's badges it names Verdana and falls back, with widths estimated
per character (generous, so a wider fallback font still fits).
"""

from django.utils.html import format_html

from bounties.money import format_cents

LABEL = "Fundfill"
HEIGHT = 20
PAD = 6
CHAR_WIDTH = 7  # Verdana 11px averages about 6.5px a character; a little more, so nothing is clipped


def _text_width(text: str) -> int:
    return len(text) * CHAR_WIDTH + 2 * PAD


def badge_text(*, pledged_cents: int, backer_count: int) -> str:
    """ "$1,910 pledged · 42 backers" (the badge's right half, and its spoken label)."""
    return f"{format_cents(pledged_cents)} pledged · {backer_count} backer{'' if backer_count == 1 else 's'}"


def fund_badge(fund_page) -> str:
    """The SVG document for a fund page's badge, with its live figures (`FundPage.state`)."""
    state = fund_page.state
    value = badge_text(pledged_cents=state.pledged_cents, backer_count=state.backer_count)
    left, right = _text_width(LABEL), _text_width(value)
    width = left + right
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
        'aria-label="{label}: {value}">'
        "<title>{label}: {value}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        '<clipPath id="r"><rect width="{width}" height="{h}" rx="3" fill="#fff"/></clipPath>'
        '<g clip-path="url(#r)"><rect width="{left}" height="{h}" fill="#555"/>'
        '<rect x="{left}" width="{right}" height="{h}" fill="#0b6e4f"/>'
        '<rect width="{width}" height="{h}" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'font-size="11">'
        '<text x="{left_mid}" y="14">{label}</text><text x="{right_mid}" y="14">{value}</text></g></svg>',
        width=width,
        h=HEIGHT,
        left=left,
        right=right,
        left_mid=left / 2,
        right_mid=left + right / 2,
        label=LABEL,
        value=value,
    )
