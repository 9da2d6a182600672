"""End to end: the classroom page served by ``trustladder demo``'s command, driven in real headless Chromium.

Debian's Chromium (``scripts/install-browser.sh``; ``make test`` runs it) is
driven by Playwright; no browser is downloaded. The page's server runs on
127.0.0.1 on a free port for this module and is stopped after it. Every test
saves a screenshot into ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from sim.classroom.lessons import LESSONS
from sim.commands.demo import server_command, server_environment

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A projector's screen.
VIEWPORT = {"width": 1920, "height": 1080}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install-browser.sh"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen(server_command("127.0.0.1", port), env=server_environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the page's server exited with {proc.returncode}:\n{proc.stdout.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the page's server did not answer within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()


def open_page(page, url: str) -> None:
    """Open the page and wait until it has drawn and written its state into the address."""
    page.goto(url)
    page.locator("img.tl-figure").first.wait_for(state="visible", timeout=45_000)
    page.wait_for_function("() => window.location.search.includes('mode=')")


def shot(page, name: str) -> Path:
    """Save the page as a person sees it, and (taller) everything below the fold too."""
    ARTIFACTS.mkdir(exist_ok=True)
    # solara fades the page while it handles an address change; a person sees it settled
    page.wait_for_function("() => !document.querySelector('.solara-page-loading')")
    page.wait_for_timeout(800)  # and its fade back in
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    height = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 80, 4000)})
    page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"))
    page.set_viewport_size(VIEWPORT)
    return path


def figure_sources(page) -> list[str]:
    return page.locator("img.tl-figure").evaluate_all("imgs => imgs.map(i => i.src)")


def settings(page) -> str:
    return page.locator(".tl-settings").inner_text()


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_for_address(page, pattern: str) -> None:
    """Wait until the address (changed in place by the page, without a new load) matches ``pattern``."""
    page.wait_for_function("(p) => new RegExp(p).test(window.location.search)", arg=pattern)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the page's drop-down labelled ``label``."""
    page.locator(".v-select").filter(has=page.locator("label", has_text=re.compile(f"^{label}$"))).click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def click_button(page, name: str, times: int = 1) -> None:
    button = page.locator("button", has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")).first
    for _ in range(times):
        button.click()


def steps_shown(page) -> int:
    text = page.locator("text=/^Step: \\d+$/").inner_text()
    return int(text.split(":")[1])


def test_page_loads_with_network_ladder_and_plots(server, page):
    open_page(page, server)
    assert page.title().startswith("TrustLadder")
    # one partnership: its network-and-ladder figure and the time series
    assert len(figure_sources(page)) == 2
    wait_for_address(page, "mode=single")
    for button in ("Reset", "Step", "New seed"):
        assert page.locator("button", has_text=button).first.is_visible()
    assert "strategy stepwise" in settings(page)
    # the page's address now carries its state
    assert query(page)["mode"] == "single" and "seed" in query(page)
    shot(page, "page-loaded")
    assert not page.errors


def test_slider_change_and_steps_change_what_is_shown(server, page):
    open_page(page, server + "?seed=3")
    before = figure_sources(page)
    slider = page.locator(".v-input").filter(has=page.locator("label", has_text=re.compile("^n_orgs$")))
    slider.locator("[role=slider]").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    click_button(page, "Reset")
    page.wait_for_function("() => document.querySelector('.tl-settings').innerText.includes('n_orgs 8')")
    assert "n_orgs 8" in settings(page) and "seed 3" in settings(page)
    wait_for_address(page, "n_orgs=8")
    assert query(page)["seed"] == "3"
    click_button(page, "Step", times=3)
    page.wait_for_function("() => /^Step: 3$/m.test(document.body.innerText)")
    page.wait_for_function("(old) => Array.from(document.querySelectorAll('img.tl-figure')).map(i => i.src)"
                           ".every((s, k) => s !== old[k])", arg=before)
    assert steps_shown(page) == 3
    shot(page, "after-slider-and-steps")
    assert not page.errors


def test_side_by_side_shows_both_paths(server, page):
    open_page(page, server + "?seed=11")
    choose(page, "View", "Pair: stepwise vs funder_forced")
    page.wait_for_function("() => document.querySelectorAll('img.tl-figure').length === 3")
    wait_for_address(page, "mode=stepwise_vs_forced")
    # the compared setting has no slider: each side sets its own
    expect(page.locator("label", has_text=re.compile("^strategy$"))).to_have_count(0)
    before = figure_sources(page)
    click_button(page, "Step", times=2)
    page.wait_for_function("() => /^Step: 2$/m.test(document.body.innerText)")
    page.wait_for_function("(old) => Array.from(document.querySelectorAll('img.tl-figure')).map(i => i.src)"
                           ".every((s, k) => s !== old[k])", arg=before)
    assert page.locator(".tl-caption").inner_text().startswith("Same seed, same settings, same luck")
    assert "only strategy differs" in page.locator(".tl-caption").inner_text()
    shot(page, "side-by-side")
    assert not page.errors


def test_a_lesson_can_be_chosen_and_its_link_reproduces_it(server, page, browser):
    open_page(page, server)
    choose(page, "Lesson", "A forced marriage")
    wait_for_address(page, "lesson=forced_marriage")
    assert page.get_by_text("Before you press ▶, ask the class:").is_visible()
    lesson = LESSONS["forced_marriage"]
    assert query(page) == {"mode": lesson.mode, "lesson": lesson.name, "seed": str(lesson.seed)}
    link = page.locator(".tl-link input").input_value()
    assert link == page.url
    shot(page, "lesson-forced-marriage")
    # play until the forced partnership's story has been told, then pause
    before = figure_sources(page)
    click_button(page, "▶")
    page.wait_for_function("() => /^Step: (1[6-9]|[2-9]\\d)$/m.test(document.body.innerText)", timeout=60_000)
    click_button(page, "❚❚")
    assert figure_sources(page) != before
    shot(page, "lesson-forced-marriage-played")
    # a colleague opens the link: the same lesson, view, seed and settings
    other = browser.new_context(viewport=VIEWPORT).new_page()
    open_page(other, link)
    assert other.get_by_text("Before you press ▶, ask the class:").is_visible()
    assert settings(other) == settings(page)
    assert len(figure_sources(other)) == 3
    other.context.close()
    assert not page.errors


def test_a_link_with_parameters_opens_that_run_and_reports_bad_entries(server, page):
    open_page(page, server + "?seed=5&initial_trust=0.7&loss_rate=0.4&n_orgs=9&deadline=999999")
    text = settings(page)
    assert "seed 5" in text and "initial_trust 0.7" in text and "loss_rate 0.4" in text and "n_orgs 9" in text
    warning = page.get_by_text("deadline = 999999 is out of range")
    assert warning.is_visible()
    # the address is cleaned: the bad entry is dropped, the good ones kept
    wait_for_address(page, "mode=single")
    assert "deadline" not in query(page) and query(page)["n_orgs"] == "9"
    shot(page, "link-with-parameters")
    # the browser's Back returns to the run before a lesson was chosen
    choose(page, "Lesson", LESSONS["slow_and_steady"].title)
    wait_for_address(page, "lesson=slow_and_steady")
    page.go_back()
    wait_for_address(page, "initial_trust=0.7")
    page.wait_for_function("() => document.querySelector('.tl-settings').innerText.includes('seed 5 ')")
    assert page.locator(".tl-predict").count() == 0
    assert not page.errors
