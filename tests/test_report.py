"""The report page builder (memlab.report) and `memlab report`, on result files the tests write themselves."""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import (
    FIG1_APPROX,
    FIG1_EXCESS,
    FIG1_SE,
    HOSTILE,
    PSI16,
    claims,
    m_star_over_n,
    png_bytes,
    write_figure1,
    write_figure2,
    write_verify_json,
)

import memlab.cli
from memlab.report import (
    PAPER_FIGURES,
    collect_report,
    default_verify_json,
    figure_command,
    render_report,
    section_of,
    verify_command,
    write_report,
)
from memlab.report._headline import crossing_window

REPORT_PACKAGE = Path(__file__).resolve().parents[1] / "memlab" / "report"


class _Page(HTMLParser):
    """The parts of a page the tests look at: verdict rows, images, links, every attribute value, texts."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.claim_rows: list[dict] = []
        self.images: list[dict] = []
        self.links: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def _inside(self, tag: str, **attrs: str) -> bool:
        return any(t == tag and all(a.get(k) == v for k, v in attrs.items()) for t, a in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attributes.extend((tag, k, v or "") for k, v in attrs.items())
        if tag == "tr" and self._inside("table", id="verdicts") and self._inside("tbody"):
            self.claim_rows.append(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag not in ("meta", "img", "col", "br", "input", "link"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def results(tmp_path) -> tuple[Path, Path]:
    figures = tmp_path / "figures"
    write_figure1(figures)
    write_figure2(figures)
    broken = figures / "figure6"
    broken.mkdir()
    (broken / "figure6.png").write_bytes(b"not a png at all")
    (broken / "figure6.json").write_text("{ malformed", encoding="utf-8")
    extra = figures / "my-experiment"
    extra.mkdir()
    (extra / "my-experiment.png").write_bytes(png_bytes())
    (figures / "cache").mkdir()  # no image, no JSON: not a figure
    return figures, write_verify_json(default_verify_json(figures))


def _page(figures: Path, verify_json: Path) -> tuple[str, _Page]:
    out = figures / "report.html"
    path, _ = write_report(out, figures_dir=figures, verify_json=verify_json)
    html = path.read_text(encoding="utf-8")
    return html, _Page(html)


def test_every_claim_gets_one_row_in_report_order_grouped_by_section(results):
    figures, verify_json = results
    _, page = _page(figures, verify_json)
    ids = [c["id"] for c in claims()]
    rows = page.claim_rows
    assert sorted(r["data-claim"] for r in rows) == sorted(ids)
    # grouped: Section 2, Section 3, equations, then appendices, report order within a part
    assert [r["data-claim"] for r in rows] == [
        "lemma-2.1",
        "thm-3.1",
        "thm-3.2",
        "eq-13",
        "app-B",
        "prop-C.4",
        "odd",
        "bare-claim",
    ]
    verdicts = {r["data-claim"]: r["data-verdict"] for r in rows}
    assert verdicts == {
        "lemma-2.1": "holds",
        "thm-3.1": "holds",
        "thm-3.2": "fails",
        "prop-C.4": "inconclusive",
        "eq-13": "error",
        "app-B": "holds",
        "bare-claim": "unknown",
        "odd": "unknown",
    }


def test_claim_rows_show_measured_se_tolerance_power_and_counterexample(results):
    figures, verify_json = results
    page = collect_report(figures, verify_json, link_from=figures)
    rows = {r.id: r for r in page.verification.rows}
    assert rows["lemma-2.1"].measured == "0.5 ± 0.01"
    assert (rows["lemma-2.1"].tolerance, rows["lemma-2.1"].tolerance_why) == ("3", "3 SE")
    assert rows["thm-3.1"].power == "2 %" and rows["thm-3.1"].power_method == "injected multiplicative errors"
    assert rows["lemma-2.1"].power == "—"  # no power field: a dash, not an error
    assert dict(rows["thm-3.2"].counterexample)["d"] == "10"
    assert rows["eq-13"].crash == "ValueError: boom"
    assert rows["bare-claim"].measured == "—" and rows["bare-claim"].paper_ref == "—"
    assert dict(page.verification.counts) == {"holds": 3, "fails": 1, "inconclusive": 1, "error": 1, "unknown": 2}


def test_missing_parts_are_listed_with_the_command_that_makes_them(tmp_path):
    figures = tmp_path / "figs"
    write_figure1(figures)
    verify_json = tmp_path / "v" / "verify.json"  # absent
    html, page = _page(figures, verify_json)
    listed = collect_report(figures, verify_json, link_from=figures).missing
    commands = [m.command for m in listed]
    assert commands == [verify_command(verify_json)] + [figure_command(n, figures) for n in range(2, 8)]
    assert commands[1] == f"memlab figure 2 --out {figures / 'figure2'}"
    assert figure_command(1, Path("figures")) == "memlab figure 1"
    for command in commands:
        assert command in page.text or command in html
    assert figure_command(1, figures) not in html  # Figure 1 exists
    assert page.claim_rows == []


def test_a_fresh_clone_gets_a_page_that_lists_everything(tmp_path):
    page = collect_report(tmp_path / "figures", tmp_path / "figures" / "verify" / "verify.json", link_from=tmp_path)
    assert len(page.missing) == 1 + len(PAPER_FIGURES)
    assert all(row.missing is not None for row in page.headline)
    html = render_report(page)
    assert "Not computed yet" in html


def test_everything_from_the_result_files_is_escaped(results):
    figures, verify_json = results
    html, page = _page(figures, verify_json)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert page.tags.count("script") == 1  # the page's own sorting script, nothing injected
    assert not any(tag == "img" and name == "onerror" for tag, name, _ in page.attributes)
    assert HOSTILE in "".join(page.text)  # shown as text, intact


def test_the_page_is_self_contained(results):
    figures, verify_json = results
    html, page = _page(figures, verify_json)
    assert re.search(r"https?://", html) is None
    assert re.search(r"//[a-z0-9.-]+\.[a-z]{2,}", html, flags=re.I) is None  # no protocol-relative URL either
    assert "<link" not in html and "@import" not in html and "url(" not in html
    srcs = [v for tag, name, v in page.attributes if name == "src"]
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not any(s.startswith("data:") for s in page.links)
    for href in page.links:  # in-page anchors or files beside the page, by relative path
        assert href.startswith("#") or ":" not in href.split("/")[0], href
        assert href.startswith("#") or (figures / href).exists(), href
    assert "default-src 'none'" in html  # the Content-Security-Policy forbids any network source


def test_figures_show_images_settings_and_links_to_their_files(results):
    figures, verify_json = results
    html, page = _page(figures, verify_json)
    entries = {e.key: e for e in collect_report(figures, verify_json, link_from=figures).figures}
    assert list(entries) == ["figure1", "figure2", "figure6", "my-experiment"]
    assert [link.label for link in entries["figure1"].links] == ["figure1.csv", "figure1.pdf", "figure1.json"]
    assert [link.href for link in entries["figure2"].links][:2] == [
        "figure2/figure2.csv",
        "figure2/figure2_baselines.csv",
    ]
    assert dict(entries["figure1"].settings)["draws"] == "100"
    assert entries["figure1"].run_time == "5.5 s"
    assert entries["figure6"].panels[0].src is None and "not a PNG" in entries["figure6"].panels[0].problem
    assert entries["figure6"].source.error and "malformed JSON" in entries["figure6"].source.error
    assert len(page.images) == 3  # figure1, figure2, my-experiment
    assert PAPER_FIGURES[1][1][:40] in html


def test_settings_and_run_time_from_nested_json_layouts(tmp_path):
    figures = tmp_path / "figures"
    folder = figures / "figure4"
    folder.mkdir(parents=True)
    (folder / "figure4.png").write_bytes(png_bytes())
    (folder / "figure4.json").write_text(
        json.dumps(
            {
                "settings": {
                    "data": {"k": 8, "seed": 0, "color_mean": [0.0]},
                    "recipe": {"epochs": 500, "chunk_size": None},
                    "preset": "cpu",
                },
                "data": {"k": 8, "color_mean": [0.0, 0.0, 0.0]},
                "seed": 0,
                "timings": {"training": 4.0, "sampling": 0.25},
            }
        ),
        encoding="utf-8",
    )
    (entry,) = collect_report(figures, tmp_path / "v.json", link_from=figures).figures
    settings = dict(entry.settings)
    assert settings["k"] == "8" and settings["epochs"] == "500" and settings["preset"] == "cpu"
    assert settings["color_mean"] == "[0]" and settings["data.color_mean"] == "[0, 0, 0]"
    assert "chunk_size" not in settings  # null: not set
    assert entry.run_time == "4.2 s (sum of training, sampling)"


def test_links_are_relative_to_where_the_page_is_written(results, tmp_path):
    figures, verify_json = results
    out = tmp_path / "elsewhere" / "deep" / "page.html"
    write_report(out, figures_dir=figures, verify_json=verify_json)
    hrefs = [h for h in _Page(out.read_text(encoding="utf-8")).links if not h.startswith("#")]
    assert "../../figures/figure1/figure1.csv" in hrefs
    assert all((out.parent / h).resolve().exists() for h in hrefs)


def test_headline_numbers_from_figure1_beside_the_paper(results):
    figures, verify_json = results
    ratio, _, verdict_32, crossing, transition, _, _, image = collect_report(
        figures, verify_json, link_from=figures
    ).headline
    assert ratio.measured == f"{FIG1_EXCESS / FIG1_APPROX:.5g}"
    assert ratio.error_bar.startswith(f"± {FIG1_SE / FIG1_APPROX:.2g}")
    # the paper's side: eq. 14 at t_16, C = 2 and C = 1, from the closed form written out in the fixture
    assert f"{200 * m_star_over_n(PSI16, 2.0):.5g} for C = 2" in crossing.paper
    assert f"{200 * m_star_over_n(PSI16, 1.0):.5g} for C = 1" in crossing.paper
    assert crossing.measured.startswith("188:")
    assert crossing.error_bar.startswith("M ∈ [187, 188]:")
    assert transition.measured.startswith("0.85 (M_pt = 170, N = 200)")
    assert "[0.75, 0.85]" in transition.error_bar
    assert "≈ 0.8" in transition.paper
    assert image.missing.command == figure_command(5, figures)
    assert verdict_32.verdict == "fails" and "[0.7, 3.5]" in verdict_32.measured


def test_crossing_window_is_the_span_of_M_within_two_standard_errors(tmp_path):
    path = tmp_path / "f.csv"
    lines = ["t,M,excess_pmem,excess_pmem_se,excess_gen,excess_gen_se"]
    for m in range(1, 11):  # pmem = 10 - M crosses gen = 5 at M = 5; 2 SE of the difference = 0.28
        lines.append(f"0.5,{m},{10 - m},0.1,5,0.1")
        lines.append(f"0.9,{m},{20 - m},0.1,5,0.1")  # another t: ignored
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert crossing_window(path, 0.5) == (5, 6)  # 5: equal, 6: first M below
    assert crossing_window(path, 0.9) is None  # 20 - M never comes near 5
    assert crossing_window(tmp_path / "absent.csv", 0.5) is None


@pytest.mark.parametrize(
    "ref, section",
    [
        ("Lemma 2.1", "Section 2"),
        ("Theorem 3.2 (proof, Thm. F.3)", "Section 3"),
        ("Theorem C.1, eq. 17", "Appendix C"),
        ("App. H.4", "Appendix H"),
        ("eq. 11-12 (Lemma 2.1 case)", "Section 2"),
        ("eq. 14 → M*", "Equations (main text)"),
        ("Proposition C.4 (proof)", "Appendix C"),
        ("a remark", "Other"),
    ],
)
def test_section_of_a_paper_reference(ref, section):
    assert section_of(ref)[1] == section


def test_broken_or_foreign_verify_json_is_a_problem_not_a_crash(tmp_path):
    figures = tmp_path / "figures"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2", encoding="utf-8")
    page = collect_report(figures, bad, link_from=tmp_path)
    assert not page.verification.present and any("malformed JSON" in p for p in page.problems)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"claims": "nope"}), encoding="utf-8")
    page = collect_report(figures, foreign, link_from=tmp_path)
    assert not page.verification.present and any("not a `memlab verify --json` report" in p for p in page.problems)
    render_report(page)


def test_unexpected_json_shapes_are_tolerated(tmp_path):
    figures = tmp_path / "figures"
    for number, content in (
        (1, []),
        (2, {"settings": "x", "transition": [1]}),
        (5, {"phase_transition": None}),
        (3, {"tuples": [{"n": 0}, "x", {"n": 10, "m_pt": None}]}),
        (7, {"transition": {}}),
    ):
        folder = figures / f"figure{number}"
        folder.mkdir(parents=True)
        (folder / f"figure{number}.json").write_text(json.dumps(content), encoding="utf-8")
    odd_claim = {
        "id": "x",
        "measured": [1, 2],
        "details": "text",
        "settings": None,
        "power": {"detectable_relative_error": "?"},
    }
    verify_json = write_verify_json(tmp_path / "v.json", [odd_claim])
    page = collect_report(figures, verify_json, link_from=tmp_path)
    assert [r.id for r in page.verification.rows] == ["x"]
    assert render_report(page)


def test_the_report_layer_imports_no_argparse_and_no_cli():
    for path in REPORT_PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [n for n in names if n == "argparse" or n.startswith("memlab.cli")], path.name
    assert (REPORT_PACKAGE / "report.html.j2").is_file()


# ----------------------------------------------------------------------------------------------------
# memlab report
# ----------------------------------------------------------------------------------------------------


def test_cli_writes_the_page(results, capsys):
    figures, _ = results
    out = figures / "report.html"
    assert memlab.cli.main(["report", "--figures", str(figures)]) == 0
    html = out.read_text(encoding="utf-8")
    assert len(_Page(html).claim_rows) == len(claims())
    printed = capsys.readouterr()
    assert (
        f"wrote {out}" in printed.out
        and "8 claims (3 holds, 1 fails, 1 inconclusive, 1 error, 2 unknown)" in printed.out
    )
    assert "memlab figure 3" in printed.out  # a not-computed part, with its command
    assert "malformed JSON" in printed.err  # figure6.json


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--figures", "{file}"], "not a directory"),
        (["--verify-json", "{tmp}/absent.json"], "file not found"),
        (["--out", "{tmp}"], "is a directory"),
        (["--out", "{file}/page.html"], "is not a directory"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, message):
    file = tmp_path / "a-file"
    file.write_text("x", encoding="utf-8")
    argv = [a.format(tmp=tmp_path, file=file) for a in argv]
    before = sorted(tmp_path.rglob("*"))
    assert memlab.cli.main(["report", "--figures", str(tmp_path / "figs"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before


def test_cli_unknown_compute_level_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        memlab.cli.main(["report", "--compute", "full"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_cli_compute_quick_runs_verify_figure1_figure4_first(tmp_path, monkeypatch, capsys):
    figures = tmp_path / "figures"
    calls = []
    real_main = memlab.cli.main

    def fake_main(argv):
        calls.append(argv)
        if argv[0] == "verify":
            write_verify_json(Path(argv[argv.index("--json") + 1]))
        if argv[:2] == ["figure", "1"]:
            write_figure1(Path(argv[argv.index("--out") + 1]).parent)
        return 0 if argv[:2] != ["figure", "4"] else 1

    monkeypatch.setattr(memlab.cli, "main", fake_main)
    code = real_main(["report", "--figures", str(figures), "--compute", "quick"])
    assert calls == [
        ["verify", "--quick", "--json", str(figures / "verify" / "verify.json")],
        ["figure", "1", "--out", str(figures / "figure1")],
        ["figure", "4", "--out", str(figures / "figure4")],
    ]
    assert code == 1  # a step failed; the page is still written, with what exists
    assert "failed: memlab figure 4" in capsys.readouterr().err
    page = _Page((figures / "report.html").read_text(encoding="utf-8"))
    assert len(page.claim_rows) == len(claims()) and len(page.images) == 1
