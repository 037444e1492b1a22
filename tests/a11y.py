"""axe-core (npm, node_modules/axe-core) run in a real Chromium page: the WCAG 2.2 A and AA
rules. A test calls :func:`violations` on a page it has driven to the state a person sees
and asserts the list is empty; the message names each rule, its help and the elements."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page, *, enhanced_contrast: bool = False) -> list[str]:
    """What axe finds on ``page`` at WCAG 2.2 AA; with ``enhanced_contrast`` also the 7:1
    contrast rule (AAA), which the card and the kiosk promise."""
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run `npm ci` (make install does)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    rules = {"color-contrast-enhanced": {"enabled": True}} if enhanced_contrast else {}
    found = page.evaluate(
        """([tags, rules]) => axe.run(document, {
               runOnly: {type: 'tag', values: tags.concat(Object.keys(rules).length ? ['wcag2aaa'] : [])},
               rules: rules, resultTypes: ['violations']})
             .then(r => r.violations.filter(v => !tags.length || v.tags.some(t => tags.includes(t))
                                              || (rules[v.id] && rules[v.id].enabled))
               .map(v => v.id + ': ' + v.help + ' -> ' +
                         v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' +
                                                 (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' | ')))""",
        [TAGS, rules])
    return found


def assert_clean(page, where: str = "", **options) -> None:
    found = violations(page, **options)
    assert not found, f"axe on {where or page.url}:\n" + "\n".join(found)
