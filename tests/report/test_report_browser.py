"""The HTML report opened in a real headless Chromium (Debian's `chromium`, driven by playwright).

Checks the DOM the way a reader sees it: every plot and the findings are there, token text is
text (never markup), the page makes no network request and raises no script or console error.
One screenshot goes to out/report-screenshot.png for a human to look at.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from headentropy import EntropyTrace
from headentropy.report import build_report, write_report

from ..cli.helpers import XSS, smollm2_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "report-screenshot.png"
PLOT_IDS = ["layer-profile", "head-heatmap", "timeline", "head-variance"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page plus everything it reported: errors, console errors, dialogs, requests."""

    def __init__(self, browser, path: Path):
        self.errors, self.console, self.dialogs, self.requests = [], [], [], []
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def clean(self) -> None:
        assert self.errors == [] and self.console == [] and self.dialogs == []
        assert self.requests == [self.url]  # self-contained: nothing but the file itself


@pytest.fixture(scope="module")
def smol_page(browser):
    page = Page(browser, smollm2_report().dir / "index.html")
    yield page
    page.page.close()


def test_page_loads_without_errors_or_requests(smol_page):
    smol_page.clean()
    assert "SmolLM2-135M-Instruct" in smol_page.page.title()


@pytest.mark.parametrize("section", PLOT_IDS)
def test_every_plot_is_an_inline_svg_with_content(smol_page, section):
    svg = smol_page.page.locator(f"#{section} svg")
    assert svg.count() == 1
    box = svg.bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    if section == "head-heatmap":  # imshow embeds the layer x head grid as one raster image
        assert svg.locator("image").count() >= 1
    assert svg.locator("path").count() >= 8  # axes, ticks, lines, bars: matplotlib drew something


def test_plot_ids_are_unique_across_svgs(smol_page):
    dupes = smol_page.page.evaluate(
        "() => { const c = {}; for (const e of document.querySelectorAll('[id]')) c[e.id] = (c[e.id] || 0) + 1;"
        " return Object.keys(c).filter(k => c[k] > 1); }")
    assert dupes == []


def test_tokens_are_text_and_coloured(smol_page):
    rep = smollm2_report().data
    seq = rep["sequences"][0]
    page = smol_page.page
    spans = page.locator("#tokens .tok")
    assert spans.count() == len(seq["tokens"])
    # The prompt's markup is shown as text, and no element was created from it.
    assert XSS in page.locator("#tokens-0").inner_text()
    assert page.locator("script").count() == 0
    assert page.evaluate("() => document.querySelectorAll('#tokens script, #tokens img').length") == 0
    # Generated tokens are marked; hovering shows the numbers.
    assert page.locator("#tokens .tok.gen").count() == sum(seq["generated"])
    i = next(k for k, h in enumerate(seq["entropy"]) if h is not None)
    title = spans.nth(i).get_attribute("title")
    assert f"Shannon H/log n = {seq['entropy'][i]:.3f}" in title
    colours = {spans.nth(k).evaluate("e => getComputedStyle(e).backgroundColor") for k in range(spans.count())}
    assert len(colours) > 5  # entropy actually varies the colour


def test_findings_section_matches_report(smol_page):
    rep = smollm2_report().data
    page = smol_page.page
    assert page.locator("#findings").count() == 1
    if rep["findings"]:
        assert page.locator("#findings .finding").count() == len(rep["findings"])
    else:
        assert page.locator("#no-findings").count() == 1


def test_screenshot(smol_page):
    SCREENSHOT.parent.mkdir(exist_ok=True)
    smol_page.page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000


def _collapsed_trace() -> EntropyTrace:
    """A hand-made trace whose heads are all near one-hot: diagnose() reports entropy collapse."""
    B, L, H, N = 1, 4, 4, 24
    n_keys = torch.arange(1, N + 1, dtype=torch.int32).expand(B, L, N).clone()  # [B, L, N] causal
    g = torch.Generator().manual_seed(0)
    shannon = 0.01 * torch.rand(B, L, H, N, generator=g) * torch.log(n_keys.float())[:, :, None, :]
    return EntropyTrace(shannon=shannon, renyi2=shannon * 0.8, sink_mass=torch.full_like(shannon, 0.9),
                        valid=torch.ones(B, N, dtype=torch.bool), generated=torch.arange(N)[None] >= 16,
                        token_ids=torch.arange(N)[None].clone(), n_keys=n_keys, layers=list(range(L)),
                        model_name="synthetic <b>model</b>")


def test_findings_render_with_causes_and_mitigations(browser, tmp_path):
    report = build_report(_collapsed_trace(), None, settings={"source": "synthetic"})
    kinds = [f["kind"] for f in report["findings"]]
    assert "entropy_collapse" in kinds
    # A hostile summary must stay text too.
    report = copy.deepcopy(report)
    report["findings"][0]["evidence"]["summary"] = '<img src=x onerror="alert(2)">'
    write_report(tmp_path, report)
    page = Page(browser, tmp_path / "index.html")
    try:
        page.clean()
        cards = page.page.locator("#findings .finding")
        assert cards.count() == len(kinds)
        assert [cards.nth(i).get_attribute("data-kind") for i in range(cards.count())] == kinds
        first = cards.nth(0)
        assert first.locator("ul").nth(0).locator("li").count() == len(report["findings"][0]["causes"])
        assert first.locator("ul").nth(1).locator("li").count() == len(report["findings"][0]["mitigations"])
        assert '<img src=x onerror="alert(2)">' in first.locator("h3").inner_text()
        assert page.page.locator("#findings img").count() == 0
        assert "synthetic <b>model</b>" in page.page.title()
        for section in PLOT_IDS:
            assert page.page.locator(f"#{section} svg").count() == 1
    finally:
        page.page.close()


def test_report_json_has_no_nan(tmp_path):
    # report.json is strict JSON (allow_nan=False): missing values are null.
    report = build_report(_collapsed_trace(), None)
    write_report(tmp_path, report)
    text = (tmp_path / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert report["sequences"][0]["entropy"][0] is None  # the first token sees one key
    assert all(v is None or (0 <= v <= 1 and not math.isnan(v)) for v in report["sequences"][0]["entropy"])


def _spiky_trace() -> EntropyTrace:
    """Prompt positions near 0.4 normalised entropy, generated ones near 0.4 except one at 0.95."""
    B, L, H, N = 1, 3, 2, 40
    n_keys = torch.arange(1, N + 1, dtype=torch.int32).expand(B, L, N).clone()  # [B, L, N]
    g = torch.Generator().manual_seed(1)
    level = 0.4 + 0.02 * torch.rand(B, 1, 1, N, generator=g)
    level[..., 35] = 0.95  # the spike, in the generated part
    shannon = (level * torch.log(n_keys.float())[:, :, None, :]).expand(B, L, H, N).clone()
    return EntropyTrace(shannon=shannon, renyi2=0.8 * shannon, sink_mass=torch.full_like(shannon, 0.3),
                        valid=torch.ones(B, N, dtype=torch.bool), generated=torch.arange(N)[None] >= 30,
                        token_ids=torch.arange(N)[None].clone(), n_keys=n_keys, layers=list(range(L)), model_name="spiky")


def test_timeline_marks_spikes_and_shades_generation(browser, tmp_path):
    report = build_report(_spiky_trace(), None)
    assert [s["position"] for s in report["tokens"]["spikes"]] == [35]
    write_report(tmp_path, report)
    page = Page(browser, tmp_path / "index.html")
    try:
        page.clean()
        timeline = page.page.locator("#timeline svg")
        # plots.timeline_svg names the spike markers and the shaded generated span.
        assert timeline.locator("#tl-spikes-0").count() == 1
        assert timeline.locator("#tl-spikes-0 use").count() == 1  # one marker: one spike
        span = timeline.locator("#tl-generated-0").bounding_box()
        whole = timeline.bounding_box()
        assert 0.1 * whole["width"] < span["width"] < 0.5 * whole["width"]  # 10 of 40 positions
        legend = timeline.text_content()
        assert "spike" in legend and "generated" in legend
        assert page.page.locator('#findings .finding[data-kind="entropy_spike"]').count() == 1
        assert page.page.locator("#tokens .tok.gen").count() == 10
    finally:
        page.page.close()
