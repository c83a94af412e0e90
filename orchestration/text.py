"""Text from the data (file names, errors that quote them, names in the feeds) as people are shown it:
never a terminal control, never markup."""

from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation character, and nothing else.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def printable(text: str) -> str:
    """`text` with every character a terminal would act on or not show as itself (newlines, escape
    sequences, other control and format characters such as bidi overrides) written as a Python
    repr writes it: `\\n`, `\\x1b`, `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def markdown_text(text: str) -> str:
    """`text` as literal Markdown: printable, every punctuation character escaped, so that no part
    of it is a link, an image, HTML, emphasis or a table cell's end."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", printable(text))
