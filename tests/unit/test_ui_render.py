"""Templates print any name: one that was not UTF-8 shows escaped, never fails the page."""

from __future__ import annotations

import os

from ripcord.ui.render import env


def test_a_name_that_is_not_utf8_is_shown_escaped_and_html_is_escaped() -> None:
    name = os.fsdecode(b"caf\xe9 <b>")
    html = env.from_string("<p>{{ name }}</p>").render(name=name)
    assert html == "<p>caf\\xe9 &lt;b&gt;</p>"
    html.encode()  # the page can be sent
