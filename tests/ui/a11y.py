"""Accessibility and layout checks for the Selenium journeys, and screenshots as proof.

- `axe_check(browser)` runs axe-core (pinned and installed by the test set-up, see
  `tests.harness.services.ensure_axe`) on the current page and fails, with a readable list,
  on any violation of impact "serious" or "critical";
- `assert_no_horizontal_scroll(browser)`: the page is no wider than the window;
- `screenshot(browser, name)` saves the whole page as `tests/ui/screenshots/<name>.png`.
"""

import base64
import functools
import re
from pathlib import Path

from tests.harness.services import AXE_SCRIPT, AXE_VERSION

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
FAILING_IMPACTS = ("serious", "critical")

# Known findings the templates have not fixed yet, as {(rule, page name): reason}. The rule is an
# axe rule id, or HORIZONTAL_SCROLL for the page being wider than the window; the page name is the
# one the caller passes as `page=` (test_accessibility's names, e.g. "fund-voting"), "*" for every
# page. Keep this as short as possible: the goal is an empty list.
HORIZONTAL_SCROLL = "horizontal-scroll"
# e.g. (HORIZONTAL_SCROLL, "my-pledges"): "at 360 px table.ledger.pledges is 527 px wide".
ALLOWED: dict[tuple[str, str], str] = {}


# The ALLOWED entries that matched a finding in this process, so a test can name the stale ones.
USED_ALLOWANCES: set[tuple[str, str]] = set()


def allowed(rule: str, page: str | None) -> bool:
    """Whether a finding of `rule` on `page` is a known one (and remember that it was used)."""
    for key in ((rule, page), (rule, "*")):
        if key in ALLOWED:
            USED_ALLOWANCES.add(key)
            return True
    return False


_RUN_AXE = """
const [context, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(context || document, {resultTypes: ["violations"]})
  .then(results => done({violations: results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }))}))
  .catch(error => done({error: String(error && error.stack || error)}));
"""


@functools.cache
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():  # the set-up installs it; running without the plugin skips that
        raise AssertionError(f"axe-core {AXE_VERSION} is not installed at {AXE_SCRIPT}: see tests/harness")
    return AXE_SCRIPT.read_text()


def _short(html: str, limit: int = 240) -> str:
    html = re.sub(r"\s+", " ", html).strip()
    return html if len(html) <= limit else html[: limit - 1] + "…"


def axe_violations(browser, *, context=None, page=None) -> list[dict]:
    """The serious and critical violations axe finds on the current page, less the allowed ones."""
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(axe_source())
    result = browser.execute_async_script(_RUN_AXE, context)
    if "error" in result:
        raise AssertionError(f"axe.run failed on {browser.current_url}: {result['error']}")
    return [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS and not allowed(v["id"], page)]


def describe_violations(violations, where: str) -> str:
    impacts = " or ".join(FAILING_IMPACTS)
    lines = [f"axe-core {AXE_VERSION}: {len(violations)} violation(s) of impact {impacts} at {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:8]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {_short(node['html'])}")
            summary = (node.get("summary") or "").splitlines()
            if len(summary) > 1:
                lines.append(f"      {_short(' '.join(s.strip() for s in summary[1:]), 300)}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def axe_check(browser, *, context=None, page=None):
    """Fail when axe finds a serious or critical violation on the current page (or in `context`,
    an axe context: a CSS selector or {"include": [...], "exclude": [...]}). `page` names the page
    for the ALLOWED list."""
    violations = axe_violations(browser, context=context, page=page)
    assert not violations, describe_violations(violations, page or browser.current_url)


def horizontal_overflow(browser, *, page=None) -> str | None:
    """Why the page scrolls sideways (None when it does not, or `page` is allowed to): its width,
    and the outermost elements that stick out past the window's edge."""
    width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    if width <= inner or allowed(HORIZONTAL_SCROLL, page):
        return None
    culprits = browser.execute_script(
        """
        const inner = window.innerWidth, out = [];
        for (const el of document.body.querySelectorAll("*")) {
          const r = el.getBoundingClientRect();
          const parent = el.parentElement.getBoundingClientRect();
          if (r.right > inner + 0.5 && r.width > 0 && (el.parentElement === document.body || parent.right <= inner + 0.5)) {
            out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
              (el.classList.length ? "." + [...el.classList].join(".") : "") + " (right edge " +
              Math.round(r.right) + " px)");
          }
        }
        return out.slice(0, 6);
        """
    )
    return f"the page is {width} px wide in a {inner} px window; past the edge: {', '.join(culprits) or '?'}"


def assert_no_horizontal_scroll(browser, *, page=None):
    """Fail when the page is wider than the window (document.documentElement.scrollWidth > innerWidth)."""
    problem = horizontal_overflow(browser, page=page)
    assert problem is None, f"{browser.current_url}: {problem}"


def screenshot(browser, name: str) -> Path:
    """Save the whole page (not only the window) as tests/ui/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", name)
    path = SCREENSHOTS / f"{stem}.png"
    try:
        width, height = browser.execute_script(
            "return [window.innerWidth, Math.min(document.documentElement.scrollHeight, 16000)]"
        )
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
    except Exception:  # noqa: BLE001 - a browser without CDP still gets the window's screenshot
        browser.save_screenshot(str(path))
    return path
