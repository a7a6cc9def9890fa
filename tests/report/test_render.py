"""report.md is the one rendering of the blocks; index.html is that Markdown through markdown-it-py."""

import html
from html.parser import HTMLParser

import pytest

from sercross.report.render import (
    Details,
    Figure,
    Heading,
    Note,
    Paragraph,
    Table,
    html_page,
    markdown_to_html,
    md_text,
    to_markdown,
)


def html_of(*blocks) -> str:
    return markdown_to_html(to_markdown(blocks))


NASTY = [
    "a <script>alert(1)</script> & *b* [c](d) ![e](f) x\\y <!-- c --> &amp; lone ` tick",
    "_emphasis_ __strong__ and only_cls, demo_a__demo_b, w_i·L_i, x_ y",
    "1. not a list", "- nor this", "# nor a heading", "> nor a quote", "+ nor", "= nor", "2) nor",
]


@pytest.mark.parametrize("text", NASTY)
def test_plain_text_renders_as_itself(text):
    assert html_of(Paragraph(text)) == f"<p>{html.escape(text, quote=False)}</p>\n"
    assert html_of(Heading(3, text)) == f"<h3>{html.escape(text, quote=False)}</h3>\n"


def test_backtick_spans_are_code_and_intraword_underscores_stay_readable_in_markdown():
    text = "run `sercross train --source a_b --method only_cls <x>` for tlmlda_m"
    assert html_of(Paragraph(text)) == ("<p>run <code>sercross train --source a_b --method only_cls &lt;x&gt;</code> "
                                        "for tlmlda_m</p>\n")
    assert md_text(text) == text  # nothing to escape: report.md reads as written
    assert md_text("two\nlines") == "two lines"


def test_tables_keep_every_cell_and_right_align_numeric_columns():
    t = Table(["method", "WAR %", "run folder"], [["only_cls", "1 | 2", "`runs/a|b`"], ["*x*", "3.50", "`c`"]],
              frozenset({1}))
    assert to_markdown([t]) == ("| method | WAR % | run folder |\n|---|---:|---|\n"
                                "| only_cls | 1 \\| 2 | `runs/a\\|b` |\n| \\*x\\* | 3.50 | `c` |\n")
    assert html_of(t) == (
        '<table>\n<thead>\n<tr>\n<th>method</th>\n<th style="text-align:right">WAR %</th>\n<th>run folder</th>\n'
        '</tr>\n</thead>\n<tbody>\n<tr>\n<td>only_cls</td>\n<td style="text-align:right">1 | 2</td>\n'
        '<td><code>runs/a|b</code></td>\n</tr>\n<tr>\n<td>*x*</td>\n<td style="text-align:right">3.50</td>\n'
        "<td><code>c</code></td>\n</tr>\n</tbody>\n</table>\n"
    )


def test_figures_get_alt_text_caption_and_a_link_to_the_full_size_image():
    f = Figure("figures/a__b-2.png", "recall [a→b]", "Bars: *mean*; dashed line: chance level, 1/5 = 20.00 %.")
    assert html_of(f) == (
        '<figure><a href="figures/a__b-2.png"><img src="figures/a__b-2.png" alt="recall [a→b]" loading="lazy" />'
        "</a><figcaption>Bars: *mean*; dashed line: chance level, 1/5 = 20.00 %.</figcaption>\n</figure>\n"
    )
    assert html_of(Figure("figures/b.png", "b")) == (
        '<figure><a href="figures/b.png"><img src="figures/b.png" alt="b" loading="lazy" /></a></figure>\n')
    with pytest.raises(ValueError, match="needs quoting"):
        to_markdown([Figure("figures/a b.png", "x")])


def test_an_italic_paragraph_is_a_caption_only_right_after_a_figure():
    md = to_markdown([Paragraph("intro"), Figure("f.png", "f"), Paragraph("after")]) + "\n*just italic*\n"
    out = markdown_to_html(md)
    assert out.count("<figure>") == 1 and "<figcaption>" not in out and "<p><em>just italic</em></p>" in out


def test_notes_and_run_sections():
    assert html_of(Note("see `x` & <y>")) == (
        "<blockquote>\n<p><strong>Note.</strong> see <code>x</code> &amp; &lt;y&gt;</p>\n</blockquote>\n")
    d = Details("tlmlda, seed 0: WAR 20.00% <&>", [Figure("f.png", "f", "cap"), Note("n")])
    assert html_of(d) == (
        "<details>\n<summary>tlmlda, seed 0: WAR 20.00% &lt;&amp;&gt;</summary>\n"
        '<figure><a href="f.png"><img src="f.png" alt="f" loading="lazy" /></a><figcaption>cap</figcaption>\n'
        "</figure>\n<blockquote>\n<p><strong>Note.</strong> n</p>\n</blockquote>\n</details>\n"
    )


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("href", "src")]


def test_the_page_is_offline_readable_on_a_phone_and_scrolls_wide_tables_in_their_box():
    page = html_page("report: a→b <x>", to_markdown([Heading(1, "t"), Figure("figures/f.png", "f", "c")]))
    p = _Tags()
    p.feed(page)
    assert p.tags[:3] == ["html", "head", "meta"] and "script" not in p.tags and "link" not in p.tags
    assert p.refs == ["figures/f.png", "figures/f.png"]
    assert "<title>report: a→b &lt;x&gt;</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    css = page[page.index("<style>"): page.index("</style>")]
    table_rule = css[css.index("\ntable{"):].split("}")[0]
    assert "display:block" in table_rule and "overflow-x:auto" in table_rule and "max-width:100%" in table_rule
    assert "figure img{display:block;max-width:100%" in css and "@media (max-width:600px)" in css
