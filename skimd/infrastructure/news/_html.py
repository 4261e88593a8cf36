"""A small, forgiving HTML tree built on the standard library's :mod:`html.parser`.

Only what reading the ASX announcements table needs: elements with attributes and children,
text with entities decoded (``&amp;`` → ``&``, ``&nbsp;`` → U+00A0), and the repairs
browsers make to tables written carelessly:

- a ``<td>``/``<th>`` closes the cell still open in the same row; a ``<tr>`` closes the row
  still open in the same table; ``<thead>``/``<tbody>``/``<tfoot>`` close their open sibling;
- an end tag with no matching open element is ignored (the real page closes a ``<tbody>``
  it never opened); an end tag never closes across a table or cell boundary it is not for,
  so a stray ``</div>`` inside a cell cannot end the table;
- void elements (``<br>``, ``<img>``, ...) never take children;
- comments are dropped, and so is the text of ``<script>``/``<style>``.

It never raises on malformed input: anything :class:`html.parser.HTMLParser` accepts becomes
some tree, and what the tree means is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html.parser import HTMLParser

VOID_TAGS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_SECTION_TAGS = frozenset({"thead", "tbody", "tfoot"})
_TABLE_PARTS = _CELL_TAGS | _SECTION_TAGS | {"tr", "caption"}
_RAW_TEXT_TAGS = frozenset({"script", "style"})


class Element:
    """One element: lower-case ``tag``, ``attrs`` (a missing value is ``""``), children.

    ``closed`` is True once the element's own end tag was seen (or it is void), so a
    document cut off part-way can be told from a complete one.
    """

    __slots__ = ("attrs", "children", "closed", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element | str] = []
        self.closed = tag in VOID_TAGS

    def __repr__(self) -> str:
        return f"<Element {self.tag} {self.attrs!r}>"

    def attr(self, name: str) -> str:
        return self.attrs.get(name, "")

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(self.attr("class").lower().split())

    def elements(self) -> Iterator[Element]:
        """Direct child elements, in order."""
        return (child for child in self.children if isinstance(child, Element))

    def iter(self, tag: str | None = None, *, into_tables: bool = True) -> Iterator[Element]:
        """Descendants (not ``self``) in document order, optionally only ``tag`` ones.

        With ``into_tables=False`` a nested ``<table>`` is yielded but not entered, so a
        table's own rows are not confused with the rows of a table inside one of its cells.
        """
        stack = list(reversed(list(self.elements())))
        while stack:
            node = stack.pop()
            if tag is None or node.tag == tag:
                yield node
            if into_tables or node.tag != "table":
                stack.extend(reversed(list(node.elements())))

    def text(self, stop: Callable[[Element], bool] | None = None) -> str:
        """The text of this element's descendants; ``<br>`` counts as a space.

        With ``stop``, text ends at the first descendant element for which ``stop`` is true
        (that element and everything after it are left out).
        """
        parts: list[str] = []
        self._collect(parts, stop)
        return "".join(parts)

    def _collect(self, parts: list[str], stop: Callable[[Element], bool] | None) -> bool:
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
                continue
            if stop is not None and stop(child):
                return True
            if child.tag == "br":
                parts.append(" ")
            elif child._collect(parts, stop):
                return True
        return False


def collapse(text: str) -> str:
    """``text`` with every run of whitespace (including U+00A0) turned into one space."""
    return " ".join(text.split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self._stack: list[Element] = [self.root]

    @property
    def _current(self) -> Element:
        return self._stack[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _CELL_TAGS:
            self._close_within({"td", "th"}, boundary={"tr", "table"})
        elif tag == "tr":
            self._close_within({"tr"}, boundary={"table"})
        elif tag in _SECTION_TAGS:
            self._close_within(set(_SECTION_TAGS), boundary={"table"})
        element = Element(tag, {k: v or "" for k, v in attrs}, self._current)
        self._current.children.append(element)
        if tag not in VOID_TAGS:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self._current)
        element.closed = True
        self._current.children.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return
        if tag == "table":
            boundary: set[str] = set()
        elif tag in _TABLE_PARTS:
            boundary = {"table"}
        else:
            boundary = {"table", "td", "th", "caption"}
        for depth in range(len(self._stack) - 1, 0, -1):
            open_tag = self._stack[depth].tag
            if open_tag == tag:
                self._stack[depth].closed = True
                del self._stack[depth:]
                return
            if open_tag in boundary:
                return

    def handle_data(self, data: str) -> None:
        if self._current.tag not in _RAW_TEXT_TAGS:
            self._current.children.append(data)

    def _close_within(self, tags: set[str], boundary: set[str]) -> None:
        """Close the nearest open element in ``tags`` unless a ``boundary`` comes first."""
        for depth in range(len(self._stack) - 1, 0, -1):
            open_tag = self._stack[depth].tag
            if open_tag in tags:
                del self._stack[depth:]
                return
            if open_tag in boundary:
                return


def parse_html(html: str) -> Element:
    """The document tree of ``html`` (a synthetic ``#document`` root element)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
