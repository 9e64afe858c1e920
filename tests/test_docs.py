"""The API reference page, in a real browser: headless Chromium (Debian's
package, installed by `make browser`) loads GET /docs from the running
stack, lists every operation of the OpenAPI document, and a "Try it out"
of GET /v1/products gets the catalog back. Screenshots go to .local/docs/
so a person can look at what the browser drew."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / ".local" / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def test_the_page_and_its_files_are_served_with_a_strict_policy(stack):
    page = stack.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    # Every file the page loads comes from this stack: nothing from a CDN.
    assert "http" not in page.text.lower().replace("http-equiv", "")
    script = stack.get("/docs?file=swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 1_000_000
    missing = stack.get("/docs?file=../Cargo.toml")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        message = (
            "\n\n*** tests/test_docs.py: Chromium or chromedriver is not installed and "
            "`make browser` could not install them (Debian packages chromium and "
            "chromium-driver). THE BROWSER TEST OF /docs DID NOT RUN. ***\n"
        )
        print(message, file=sys.stderr)
        pytest.skip("Chromium is not installed: the /docs browser test did not run")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine's network is closed: without the background-networking
    # flags Chromium keeps opening (refused) connections of its own.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="quiet-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_browser_lists_every_operation_and_tries_the_catalog(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    SHOTS.mkdir(parents=True, exist_ok=True)
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
    }

    browser.get(stack.url("/docs"))
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operations))
    listed = {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip(),
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute(
                "data-path"
            ),
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert listed == operations
    assert "Quiet Engine" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    browser.save_screenshot(str(SHOTS / "docs.png"))

    # Open GET /v1/products, press "Try it out", then "Execute".
    operation = browser.find_element(By.ID, "operations-catalog-list-products")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, "#operations-catalog-list-products .try-out__btn"))).click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, "#operations-catalog-list-products .execute"))).click()
    status = wait.until(
        seen.visibility_of_element_located(
            (By.CSS_SELECTOR, "#operations-catalog-list-products .live-responses-table tr.response .response-col_status")
        )
    )
    body = operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description pre"
    ).text
    browser.execute_script("arguments[0].scrollIntoView()", status)
    browser.save_screenshot(str(SHOTS / "try-it.png"))
    assert status.text.strip() == "200", body
    answered = json.loads(body)
    expected = stack.get("/v1/products").json()
    assert [p["sku"] for p in answered["items"]] == [p["sku"] for p in expected["items"]]
    assert answered["items"], "the seeded catalog is not empty"

    # The page's own policy let everything it needs through.
    refused = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refused == []
