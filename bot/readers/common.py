"""What every article reader shares: the file-name title and the navigation lines to drop."""

from __future__ import annotations

import re

NAVIGATION = re.compile(
    r"^(back to (blog|top|home|articles?|posts?)|share( this( post| article)?)?( on \w+)?|"
    r"previous( post| article)?|next( post| article)?|read more|continue reading|"
    r"skip to (main )?content|tags?:.*|categories:.*|posted in .*|leave a comment)$",
    re.IGNORECASE,
)


def prettify_name(name: str) -> str:
    """Turn 'my-article_name.txt' into 'My article name' (the title when an article has none)."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", name)
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else name
