"""Fit an announcement into a network's length limit, keeping the link and the hashtag whole.

`compose("New bounty: …", url=fund_url, hashtag="#fundfill", limit=280, url_weight=23, weighted=True)`
returns `"<text, shortened with … if need be> <url> <#hashtag>"`. Each network counts differently:

- X: 280, every link counts as 23 whatever its length (t.co), and characters outside Latin and common
  punctuation (CJK, emoji) count twice (twitter-text's v3 weights, NFC-normalised).
- Mastodon: 500 characters, every link counted as 23 too (its StatusLengthValidator); counting code points
  is never more than Mastodon's own count, so it is safe.
- Bluesky: 300 graphemes (user-perceived characters: a family emoji or a flag is one), links counted whole.

Graphemes come from the `regex` module's `\\X` (extended grapheme clusters, Unicode's UAX #29) when it
is installed — it is pinned in requirements.txt — else from `_approximate_graphemes`, which joins
combining marks, variation selectors, emoji modifiers, zero-width-joiner sequences and regional-indicator
pairs to the character before them (right for the emoji and accents in announcements; it does not know
Hangul jamo or Indic conjunct rules, and may then count a few more graphemes than Bluesky, never fewer).

Text is only ever cut between graphemes (never inside an emoji or an accent), at a word boundary when one
is near, and the cut is marked with a single ellipsis character.
"""

from __future__ import annotations

import re
import unicodedata

try:  # pragma: no cover - which branch runs depends on the environment
    import regex as _regex
except ImportError:  # pragma: no cover
    _regex = None

ELLIPSIS = "…"

# A link with a scheme: what X and Mastodon replace by a 23-character placeholder. Trailing punctuation
# is not part of the link (both networks stop before it).
_URL = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$))", re.IGNORECASE)
# Something X may auto-link without a scheme (`fundfill.org/x`). Counted as max(its length, 23), which is
# right whether or not the network treats it as a link.
_BARE_DOMAIN = re.compile(r"(?<![\w@/.])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/[^\s]*)?", re.IGNORECASE)

# twitter-text v3: these code point ranges weigh 1, everything else 2; an emoji sequence weighs 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_TRAILING = " \t\n,;:-–—([{/|"


def split_graphemes(text: str) -> list[str]:
    """`text` split into user-perceived characters (extended grapheme clusters)."""
    if _regex is not None:
        return _regex.findall(r"\X", text)
    return _approximate_graphemes(text)


def _joins_previous(char: str, previous: str) -> bool:
    code = ord(char)
    if unicodedata.category(char) in ("Mn", "Me", "Mc"):
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= code <= 0x1F3FF:  # skin tone modifiers
        return True
    if 0xE0020 <= code <= 0xE007F:  # tag characters (subdivision flags)
        return True
    return char == "\u200d" or previous.endswith("\u200d")


def _approximate_graphemes(text: str) -> list[str]:
    clusters: list[str] = []
    for char in text:
        if clusters and _joins_previous(char, clusters[-1]):
            clusters[-1] += char
        elif (
            clusters
            and _is_regional_indicator(char)
            and _is_regional_indicator(clusters[-1][-1])
            and len(clusters[-1]) == 1
        ):
            clusters[-1] += char  # the second letter of a flag
        elif clusters and char == "\n" and clusters[-1] == "\r":
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _is_emoji(cluster: str) -> bool:
    return any(
        ord(c) >= 0x1F000 or 0x2600 <= ord(c) <= 0x27BF or c in "\u200d\ufe0f" or _is_regional_indicator(c)
        for c in cluster
    )


def _weigh_plain(text: str, *, graphemes_: bool, weighted: bool) -> int:
    if weighted:
        total = 0
        for cluster in split_graphemes(unicodedata.normalize("NFC", text)):
            if _is_emoji(cluster):
                total += 2
            else:
                total += sum(1 if any(lo <= ord(c) <= hi for lo, hi in _LIGHT_RANGES) else 2 for c in cluster)
        return total
    if graphemes_:
        return len(split_graphemes(text))
    return len(text)


def length(
    text: str, *, url_weight: int | None = None, graphemes: bool = False, weighted: bool = False
) -> int:
    """How long `text` is by a network's count (see the module docstring for the keywords)."""
    if url_weight is None:
        return _weigh_plain(text, graphemes_=graphemes, weighted=weighted)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        total += _weigh_bare(text[position : match.start()], url_weight, graphemes, weighted)
        total += url_weight
        position = match.end()
    return total + _weigh_bare(text[position:], url_weight, graphemes, weighted)


def _weigh_bare(text: str, url_weight: int, graphemes_: bool, weighted: bool) -> int:
    total = 0
    position = 0
    for match in _BARE_DOMAIN.finditer(text):
        total += _weigh_plain(text[position : match.start()], graphemes_=graphemes_, weighted=weighted)
        total += max(url_weight, _weigh_plain(match.group(), graphemes_=graphemes_, weighted=weighted))
        position = match.end()
    return total + _weigh_plain(text[position:], graphemes_=graphemes_, weighted=weighted)


def normalise_hashtag(hashtag: str) -> str:
    """`"Fund fill"` → `"#Fundfill"`; empty stays empty."""
    tag = "".join(hashtag.split()).lstrip("#")
    return f"#{tag}" if tag else ""


def _shorten(units: list[str], count: int) -> str:
    """The first `count` graphemes, backed off to a word boundary when one is near, with an ellipsis."""
    kept = units[:count]
    cut_mid_word = count < len(units) and not units[count].isspace() and kept and not kept[-1].isspace()
    if cut_mid_word:
        for i in range(len(kept) - 1, max(len(kept) * 7 // 10, 0) - 1, -1):
            if kept[i].isspace():
                kept = kept[:i]
                break
    return "".join(kept).rstrip(_TRAILING) + ELLIPSIS


def compose(
    text: str,
    *,
    url: str,
    hashtag: str = "",
    limit: int,
    url_weight: int | None = None,
    graphemes: bool = False,
    weighted: bool = False,
) -> str:
    """`text`, then `url`, then `hashtag`, shortened with an ellipsis to fit `limit` by the network's count.

    The URL and hashtag are never cut. Raises ValueError when they alone do not fit.
    """
    tail = " ".join(part for part in (url.strip(), normalise_hashtag(hashtag)) if part)
    body = " ".join(text.split())

    def measure(candidate: str) -> int:
        return length(candidate, url_weight=url_weight, graphemes=graphemes, weighted=weighted)

    def joined(head: str) -> str:
        return f"{head} {tail}" if head and tail else head or tail

    if measure(joined(body)) <= limit:
        return joined(body)
    if measure(tail) > limit:
        raise ValueError(f"the link and hashtag alone are longer than {limit}: {tail!r}")

    units = split_graphemes(body)
    # The longest prefix that fits (lengths grow with the prefix, so bisect).
    low, high = 0, len(units)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(joined(_shorten(units, middle))) <= limit:
            low = middle
        else:
            high = middle - 1
    head = _shorten(units, low) if low else ""
    if head == ELLIPSIS or not measure(joined(head)) <= limit:
        head = ""
    return joined(head)
