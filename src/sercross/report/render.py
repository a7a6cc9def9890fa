"""Rendering: the blocks of a report as Markdown (report.md), and that Markdown as an offline HTML page.

report.md is the one rendering of the blocks; index.html is report.md turned into HTML by markdown-it-py
(CommonMark and its table extension), placed in a page with inline CSS. Images are referenced by relative path
and nothing is fetched, so the folder opens offline and can be moved as a whole.

Block text is plain text in which `backtick spans` are code; every other Markdown or HTML character in it is
escaped, so a corpus name or a path cannot turn into markup. The only raw HTML in report.md is the
``<details>`` of :class:`Details` (GitHub and CommonMark render it as a collapsible section).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Heading:
    level: int  # 1: the report's title, 2: a scheme's, 3: a part of it
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Prose, on one line in report.md."""

    text: str


@dataclass(frozen=True)
class Note:
    """Something the report could not show, and why (a highlighted paragraph)."""

    text: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: frozenset[int] = frozenset()  # right-aligned columns


@dataclass(frozen=True)
class Figure:
    src: str  # relative path of a PNG in the report folder, made of [A-Za-z0-9_./-] only
    alt: str
    caption: str = ""


@dataclass(frozen=True)
class Details:
    """A collapsible section: ``summary`` is shown, ``blocks`` open on a click."""

    summary: str
    blocks: Sequence[Block]


Block = Heading | Paragraph | Note | Table | Figure | Details

# --------------------------------------------------------------------------- Markdown

_CODE_SPAN = re.compile(r"(`[^`]+`)")
_SAFE_SRC = re.compile(r"[A-Za-z0-9_./-]+")
_ALWAYS = re.compile(r"([\\`*\[\]<&])")  # characters that can start markup anywhere in a line
_LIST_NUMBER = re.compile(r"\d+(?=[.)])")
_UNDERSCORES = re.compile(r"(?<!_)_+")


def _escape_plain(text: str) -> str:
    text = _ALWAYS.sub(r"\\\1", text)

    def underscores(m: re.Match) -> str:
        # Only a run of _ at a word boundary can open or close emphasis: only_cls stays as written.
        before, after = text[m.start() - 1: m.start()], text[m.end(): m.end() + 1]
        inner = before.isalnum() and after.isalnum()
        return m.group() if inner else m.group().replace("_", "\\_")

    return _UNDERSCORES.sub(underscores, text)


def _escape_block_start(text: str) -> str:
    """A paragraph starting like a heading, quote, list or rule stays a paragraph."""
    number = _LIST_NUMBER.match(text)
    if number:
        return text[: number.end()] + "\\" + text[number.end():]
    return "\\" + text if text[:1] and text[0] in "#>+=-" else text


def md_text(text: object) -> str:
    """``text`` as Markdown that renders to exactly that text, its `backtick spans` as code, on one line."""
    parts = _CODE_SPAN.split(" ".join(str(text).split("\n")))
    return "".join(p if k % 2 else _escape_plain(p) for k, p in enumerate(parts))


def _md_cell(text: object) -> str:
    return md_text(text).replace("|", "\\|")  # also inside code spans: a table splits its rows first


def _md_table(t: Table) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in t.headers) + " |",
             "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _md_figure(f: Figure) -> str:
    if not _SAFE_SRC.fullmatch(f.src):
        raise ValueError(f"figure path {f.src!r} needs quoting in Markdown")
    image = f"[![{md_text(f.alt)}]({f.src})]({f.src})"  # a click opens the full-size figure
    return image + (f"\n\n*{md_text(f.caption)}*" if f.caption else "")


def _md_block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"{'#' * b.level} {md_text(b.text)}"
    if isinstance(b, Paragraph):
        return _escape_block_start(md_text(b.text).lstrip())
    if isinstance(b, Note):
        return f"> **Note.** {md_text(b.text)}"
    if isinstance(b, Table):
        return _md_table(b)
    if isinstance(b, Figure):
        return _md_figure(b)
    if isinstance(b, Details):
        summary = html.escape(" ".join(b.summary.split()), quote=False)
        return f"<details>\n<summary>{summary}</summary>\n\n{to_markdown(b.blocks)}\n</details>"
    raise TypeError(f"not a report block: {b!r}")


def to_markdown(blocks: Sequence[Block]) -> str:
    """report.md: the blocks, separated by blank lines."""
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;
background:#fafafa;margin:0;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:1.2rem 2rem 4rem;background:#fff;overflow-wrap:break-word}
h1{font-size:1.7rem;border-bottom:2px solid #ddd;padding-bottom:.3rem}
h2{font-size:1.35rem;margin-top:2.4rem;border-bottom:1px solid #e4e4e4;padding-bottom:.2rem}
h3{font-size:1.1rem;margin-top:1.8rem}
table{display:block;width:max-content;max-width:100%;overflow-x:auto;border-collapse:collapse;
margin:.6rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #d8d8d8;padding:.28rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f3f7}
tr:nth-child(even) td{background:#fbfbfd}
td[style*=right],th[style*=right]{font-variant-numeric:tabular-nums}
td[style*=right]{white-space:nowrap}
figure{margin:.8rem 0 1.6rem}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88rem;color:#555;margin-top:.3rem}
blockquote{background:#fff8e1;border-left:4px solid #f0b400;padding:.45rem .8rem;margin:.6rem 0;font-size:.92rem}
blockquote p{margin:0}
details{border:1px solid #e2e2e2;border-radius:4px;padding:.3rem .8rem;margin:.5rem 0}
details>summary{cursor:pointer;font-weight:600;padding:.2rem 0}
code{background:#f2f2f2;padding:0 .2rem;border-radius:3px;overflow-wrap:anywhere}
td code{white-space:nowrap;overflow-wrap:normal}
@media (max-width:600px){main{padding:.6rem .8rem 3rem}h1{font-size:1.35rem}h2{font-size:1.15rem}
h3{font-size:1.02rem}table{font-size:.8rem}th,td{padding:.2rem .4rem}details{padding:.3rem .5rem}}
"""


def _inline_kinds(tokens: list, i: int) -> list[str]:
    """The inline token types of the paragraph at tokens[i] ([] if there is none)."""
    if i + 2 >= len(tokens) or tokens[i].type != "paragraph_open" or tokens[i + 2].type != "paragraph_close":
        return []
    return [c.type for c in tokens[i + 1].children or []]


def _figures(state) -> None:
    """markdown-it core rule: an image paragraph and the italic paragraph after it become figure/figcaption."""
    from markdown_it.token import Token

    tokens, out, i = state.tokens, [], 0
    while i < len(tokens):
        if _inline_kinds(tokens, i) != ["link_open", "image", "link_close"]:
            out.append(tokens[i])
            i += 1
            continue
        image = tokens[i + 1]
        image.children[1].attrSet("loading", "lazy")
        out += [Token("figure_open", "figure", 1, block=True), image]
        i += 3
        kinds = _inline_kinds(tokens, i)
        if kinds and kinds[0] == "em_open" and kinds[-1] == "em_close":
            caption = tokens[i + 1]
            caption.children = caption.children[1:-1]
            out += [Token("figcaption_open", "figcaption", 1, block=True), caption,
                    Token("figcaption_close", "figcaption", -1, block=True)]
            i += 3
        out.append(Token("figure_close", "figure", -1, block=True))
    state.tokens = out


def markdown_to_html(markdown: str) -> str:
    """The HTML of report.md (CommonMark with tables; figures with their captions as <figure>)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable("table")
    parser.core.ruler.push("report_figures", _figures)
    return parser.render(markdown)


def html_page(title: str, markdown: str) -> str:
    """index.html: report.md rendered, in a page that needs nothing but the figures next to it."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{markdown_to_html(markdown)}</main>\n</body>\n</html>\n"
    )
