"""The one HTML parser for tests: rendered pages read as a tree of elements, with html.parser.

Tests read HTML through this module, never by splitting or pattern-matching the markup:

- `parse_html(html)` gives the document as `Element`s: `find` / `find_all` by tag, class
  and attributes, `text` (the readable text, whitespace collapsed), `get(attribute)`,
  `outline()` (the element as nested tuples, to compare two renders of it).
- `field_value(html, name)` is a form field's value; `link_targets(document)` is where a
  reader can go from the page (what the site crawl follows).
- `parse_page(html)` reads it the way a link-preview crawler does (meta tags, links,
  <title>, and every attribute value and text in <head> and in the hero).
"""

import re
from html.parser import HTMLParser

# Elements that never have an end tag (html.parser reports only their start).
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    """One element: its tag, attributes and children (elements and text, in document order)."""

    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list = []

    def __repr__(self):
        return f"<{self.tag} {self.attrs}>"

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    def iter(self):
        """This element and every element inside it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def matches(self, tag=None, class_=None, **attrs) -> bool:
        """`class_` is one class among the element's; an attribute given as True need only be present."""
        if tag is not None and self.tag != tag:
            return False
        if class_ is not None and class_ not in self.classes:
            return False
        for name, value in attrs.items():
            name = name.rstrip("_").replace("_", "-")  # aria_valuenow= → aria-valuenow, for_= → for
            if value is True and name not in self.attrs:
                return False
            if value is not True and self.attrs.get(name) != value:
                return False
        return True

    def find_all(self, tag=None, class_=None, **attrs) -> list["Element"]:
        """Every element inside this one (not itself) that matches, in document order."""
        return [el for el in self.iter() if el is not self and el.matches(tag, class_, **attrs)]

    def find(self, tag=None, class_=None, **attrs) -> "Element":
        """The first matching element inside this one; fails the test if there is none."""
        found = self.find_all(tag, class_, **attrs)
        assert found, f"no {tag or 'element'} with class={class_!r} {attrs} in {self!r}"
        return found[0]

    def strings(self):
        """Every piece of text inside, in document order (scripts and styles included)."""
        for child in self.children:
            if isinstance(child, Element):
                yield from child.strings()
            else:
                yield child

    @property
    def text(self) -> str:
        """The text inside, runs of ASCII whitespace collapsed to one space.

        A non-breaking space (U+00A0) stays: it is content, as a reader sees it.
        """
        return " ".join(re.split(r"[ \t\n\r\f]+", "".join(self.strings()))).strip()

    def outline(self) -> tuple:
        """This element as nested tuples (tag, attributes, children), its text as written: equal outlines, equal markup."""
        children = tuple(child.outline() if isinstance(child, Element) else child for child in self.children)
        return (self.tag, tuple(self.attrs.items()), children)

    def values(self):
        """Every non-empty attribute value and every text inside, this element's own attributes first."""
        yield from (value for value in self.attrs.values() if value)
        for child in self.children:
            if isinstance(child, Element):
                yield from child.values()
            else:
                yield child


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, dict(attrs), self.stack[-1]))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        # Close up to the matching open element (a missing end tag, e.g. </p>, closes with its parent).
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(html: str | bytes) -> Element:
    """The document as a tree of `Element`s (the root is a `#document` element)."""
    builder = _TreeBuilder()
    builder.feed(html.decode() if isinstance(html, bytes) else html)
    builder.close()
    return builder.root


def field_value(html: str | bytes, name: str) -> str | None:
    """The value of the first <input> called `name`; fails the test if there is none."""
    return parse_html(html).find("input", name=name).get("value")


def link_targets(document: Element) -> list[str]:
    """Where a reader can go from here, in document order: every <a href> and every GET form's action.

    What a crawler follows (a form that POSTs is not followed).
    """
    targets = []
    for element in document.iter():
        if element.tag == "a" and element.get("href"):
            targets.append(element.get("href"))
        elif element.tag == "form" and element.get("action"):
            if (element.get("method") or "get").lower() == "get":
                targets.append(element.get("action"))
    return targets


class Page:
    """A page read the way a link-preview crawler does, from `parse_html`'s tree."""

    def __init__(self, document: Element):
        self.document = document
        self.meta = {}  # og:title / twitter:card / description → content (first one wins)
        self.meta_counts = {}
        self.links = {}  # rel → href (first one wins)
        for meta in document.find_all("meta"):
            if key := meta.get("property") or meta.get("name"):
                self.meta.setdefault(key, meta.get("content", ""))
                self.meta_counts[key] = self.meta_counts.get(key, 0) + 1
        for link in document.find_all("link"):
            if link.get("rel"):
                self.links.setdefault(link.get("rel"), link.get("href", ""))
        self.title = "".join("".join(title.strings()) for title in document.find_all("title"))
        self.head = [value for head in document.find_all("head") for value in head.values()]
        heroes = [
            section
            for section in document.find_all("section", class_="hero")
            if not any(p.matches("section", class_="hero") for p in _ancestors(section))
        ]
        self.hero = [value for hero in heroes for value in hero.values()]  # attributes and text in the hero


def _ancestors(element: Element):
    while element.parent is not None:
        element = element.parent
        yield element


def parse_page(html: str | bytes) -> Page:
    return Page(parse_html(html))


def head_and_hero_text(parsed) -> str:
    """Everything the <head> and the hero say, as one string to search."""
    return "\n".join(parsed.head + parsed.hero)
