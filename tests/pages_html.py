"""Reading rendered pages the way a link-preview crawler does: html.parser, tags and attributes."""

from html.parser import HTMLParser


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta = {}  # og:title / twitter:card / description → content (first one wins)
        self.meta_counts = {}
        self.links = {}  # rel → href
        self.title = ""
        self.head = []  # every attribute value and text in <head>
        self.hero = []  # every attribute value and text in <section class="hero">
        self._in_head = False
        self._in_title = False
        self._hero_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "head":
            self._in_head = True
        if tag == "title":
            self._in_title = True
        if tag == "section" and "hero" in (attrs.get("class") or "").split():
            self._hero_depth = 1
        elif self._hero_depth and tag == "section":
            self._hero_depth += 1
        if tag == "meta":
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.meta.setdefault(key, attrs.get("content", ""))
                self.meta_counts[key] = self.meta_counts.get(key, 0) + 1
        if tag == "link" and attrs.get("rel"):
            self.links.setdefault(attrs["rel"], attrs.get("href", ""))
        values = [v for v in attrs.values() if v]
        if self._in_head:
            self.head.extend(values)
        if self._hero_depth:
            self.hero.extend(values)

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False
        if tag == "title":
            self._in_title = False
        if tag == "section" and self._hero_depth:
            self._hero_depth -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_head:
            self.head.append(data)
        if self._hero_depth:
            self.hero.append(data)


def parse_page(html: str | bytes) -> _PageParser:
    parser = _PageParser()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    parser.close()
    return parser


def head_and_hero_text(parsed) -> str:
    """Everything the <head> and the hero say, as one string to search."""
    return "\n".join(parsed.head + parsed.hero)
