"""Coding a passage in a real browser: select it with the mouse, pick a code, submit."""

from __future__ import annotations

import pytest

from observations import services
from observations.models import Coding
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# CR LF line ends (as a browser's textarea sends them) and a name before the passage:
# the offsets must count every character of the source, not of the page.
BODY = (
    "## Kickoff\r\n\r\nTanaka Ichiro showed the press line.\r\n"
    "Both firms 🏭 **agreed to visit** each other soon.\r\n"
)
PASSAGE = "agreed to visit"

SELECT_TEXT = """
([text, mode]) => {
  const source = document.getElementById("coding-source");
  const walker = document.createTreeWalker(source, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + text.length);
    if (mode === "select") {
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      return null;
    }
    const rects = range.getClientRects();
    const first = rects[0], last = rects[rects.length - 1];
    return [first.left + 1, (first.top + first.bottom) / 2, last.right - 1, (last.top + last.bottom) / 2];
  }
  throw new Error("not found: " + text);
}
"""


def test_researcher_selects_a_passage_with_the_mouse_and_codes_it(
    page, client, network, researcher, region_a
):
    factories.ParticipantFactory(network=network, full_name="Tanaka Ichiro")
    note = factories.ObservationFactory(network=network, body=BODY, title="Kickoff")
    trust = services.code_create(network=network, name="Trust", colour="#ff8800")
    client.force_login(researcher)  # pseudonymous: names in the text are masked
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.base}]
    )
    page.goto(f"{page.base}/n/{network.slug}/observations/{note.pk}/")
    source = page.locator("#coding-source")
    assert "Tanaka" not in source.inner_text()

    # A selection that includes a masked name is refused.
    page.evaluate(SELECT_TEXT, ["showed", "select"])
    page.evaluate(
        """() => {
      const source = document.getElementById("coding-source");
      const selection = window.getSelection();
      const range = selection.getRangeAt(0);
      range.setStart(source, 0);
      selection.removeAllRanges();
      selection.addRange(range);
    }"""
    )
    page.locator("#selection-message").wait_for(state="visible")
    assert page.locator("#passage-form input[name=start]").input_value() == ""

    # Drag the mouse over the passage.
    x1, y1, x2, y2 = page.evaluate(SELECT_TEXT, [PASSAGE, "measure"])
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move(x2, y2, steps=8)
    page.mouse.up()
    preview = page.locator("#passage-form [data-selection-preview]")
    preview.wait_for(state="visible")
    assert PASSAGE in preview.inner_text()
    assert page.locator("#selection-message").is_hidden()
    start = BODY.index(PASSAGE)
    form = page.locator("#passage-form")
    assert form.locator("input[name=start]").input_value() == str(start)
    assert form.locator("input[name=end]").input_value() == str(start + len(PASSAGE))

    form.locator("select[name=code]").select_option(label="Trust")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/observations/{note.pk}/#codings")

    coding = Coding.objects.get()
    assert (coding.code, coding.start, coding.end, coding.quote) == (
        trust,
        start,
        start + len(PASSAGE),
        PASSAGE,
    )
    assert coding.created_by == researcher
    mark = page.locator("#coding-source mark.coding-mark")
    assert mark.count() == 1 and mark.inner_text() == PASSAGE
    assert mark.get_attribute("data-start") == str(start)
    colour = mark.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(255, 136, 0)"
    assert page.locator("#coding-list", has_text="Trust").is_visible()
