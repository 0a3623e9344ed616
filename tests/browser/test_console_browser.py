"""The console in a real browser: sign in, see an index and its blue model, search in the playground, start a
task and watch it reach 100%, cancel one, sign out; a search key gets no actions (the server refuses); a
form posted without its CSRF token is refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from functions.context import Context
from functions.records import TaskQuery
from functions.upsertion import indexes
from functions.upsertion.messages import CreateIndexRequest
from tests.conftest import ADMIN_KEY, SEARCH_KEY
from tests.support import reindex as support

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


async def an_index(ctx: Context, items: int = 30) -> str:
    name = f"shelf-{uuid.uuid4().hex[:8]}"
    await indexes.create_index(CreateIndexRequest(name=name), ctx)
    await support.seed(ctx, name, range(items))
    return name


def wait(driver: WebDriver, check: Callable[[WebDriver], object], timeout_s: float = 30) -> None:
    WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(check)


def sign_in(driver: WebDriver, web: str, key: str) -> None:
    driver.get(f"{web}/console/")
    wait(driver, lambda d: "/console/sign-in" in d.current_url)
    driver.find_element(By.NAME, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    wait(driver, lambda d: d.current_url.rstrip("/").endswith("/console"))


def task_row(driver: WebDriver) -> tuple[str, str, str]:
    """The focused task's (id, status, progress text) on the tasks page."""
    row = driver.find_element(By.CSS_SELECTOR, "#running tr.focus, #recent tr.focus")
    return row.get_attribute("data-task-id") or "", row.get_attribute("data-status") or "", row.text


def focused(driver: WebDriver, status: str) -> bool:
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr.focus[data-status="{status}"]')
    return bool(rows)


async def test_admin_signs_in_searches_runs_and_cancels_tasks_and_signs_out(
    web: str, gpu_worker: None, browser: WebDriver, ctx: Context
) -> None:
    index = await an_index(ctx)
    blue = await ctx.collections.blue(index)
    assert blue is not None
    sign_in(browser, web, ADMIN_KEY)

    card = browser.find_element(By.CSS_SELECTOR, f'.index-card[data-index="{index}"]')
    assert card.find_element(By.CSS_SELECTOR, ".blue-collection").text == blue.id
    assert card.find_element(By.CSS_SELECTOR, ".blue-model").text == f"{blue.model_name}@{blue.model_version}"

    browser.find_element(By.ID, "nav-playground").click()
    Select(browser.find_element(By.NAME, "index")).select_by_value(index)
    browser.find_element(By.NAME, "q").send_keys(support.text(7))
    browser.find_element(By.CSS_SELECTOR, "#playground button[type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#blue-results li.hit"))
    hits = browser.find_elements(By.CSS_SELECTOR, "#blue-results li.hit")
    assert hits[0].get_attribute("data-object-id") == support.oid(7)

    # A reindex into the same version: its progress, refreshed by the page, reaches 100%.
    browser.find_element(By.ID, "nav-actions").click()
    form = browser.find_element(By.ID, "reindex")
    Select(form.find_element(By.NAME, "index")).select_by_value(index)
    form.find_element(By.NAME, "model_version").send_keys(blue.model_version)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda d: "/console/tasks?focus=" in d.current_url)
    wait(browser, lambda d: focused(d, "done"), timeout_s=180)
    _, _, text = task_row(browser)
    assert browser.find_element(By.CSS_SELECTOR, "tr.focus .pct").get_attribute("data-progress") == "100.0"
    assert "reindex" in text

    # A deployment (the cpu pool, which this test does not run, so it waits), cancelled from its row:
    # the box must be ticked first.
    browser.find_element(By.ID, "nav-actions").click()
    form = browser.find_element(By.ID, "deploy")
    Select(form.find_element(By.NAME, "model")).select_by_value(f"embedloop-{index}")
    form.find_element(By.NAME, "version").send_keys(blue.model_version)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda d: "/console/tasks?focus=" in d.current_url)
    task_id = browser.current_url.rsplit("=", 1)[1]
    row = f'#running tr[data-task-id="{task_id}"]'
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} form.cancel"))
    browser.find_element(By.CSS_SELECTOR, f"{row} form.cancel button").click()
    assert "/cancel" not in browser.current_url  # the unticked box stops the form in the browser
    browser.find_element(By.CSS_SELECTOR, f"{row} input[name=confirm]").click()
    browser.find_element(By.CSS_SELECTOR, f"{row} form.cancel button").click()
    wait(browser, lambda d: focused(d, "cancelled"), timeout_s=60)
    task = await ctx.tasks.get(task_id)
    assert task is not None
    assert task.status == "cancelled"

    browser.find_element(By.CSS_SELECTOR, "#sign-out button").click()
    wait(browser, lambda d: "/console/sign-in" in d.current_url)
    browser.get(f"{web}/console/tasks")
    wait(browser, lambda d: "/console/sign-in" in d.current_url)


async def test_a_search_key_gets_no_actions_and_the_server_refuses_them(
    web: str, browser: WebDriver, ctx: Context
) -> None:
    index = await an_index(ctx, items=5)
    sign_in(browser, web, SEARCH_KEY)
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-scope") == "search"
    assert not browser.find_elements(By.ID, "nav-actions")
    browser.get(f"{web}/console/actions")
    assert browser.find_element(By.ID, "problem").get_attribute("data-status") == "403"
    # A hand-made form with a valid CSRF token (the page's sign-out form carries one) is still refused.
    browser.get(f"{web}/console/")
    browser.execute_script(
        """const f = document.createElement('form');
        f.method = 'post'; f.action = '/console/actions/rollback';
        for (const [k, v] of [['index', arguments[0]], ['confirm', 'yes']]) {
          const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
        f.appendChild(document.querySelector('#sign-out input[name=_csrf_token]').cloneNode());
        document.body.appendChild(f); f.submit();""",
        index,
    )
    wait(browser, lambda d: d.find_elements(By.ID, "problem"))
    assert browser.find_element(By.ID, "problem").get_attribute("data-status") == "403"
    index_row = await ctx.collections.get_index(index)
    assert index_row is not None
    assert index_row.previous_blue_collection_id is None


async def test_a_form_posted_without_its_csrf_token_is_refused(
    web: str, browser: WebDriver, ctx: Context
) -> None:
    index = await an_index(ctx, items=5)
    sign_in(browser, web, ADMIN_KEY)
    browser.get(f"{web}/console/actions")
    form = browser.find_element(By.ID, "fine-tune")
    Select(form.find_element(By.NAME, "index")).select_by_value(index)
    browser.execute_script("arguments[0].querySelector('input[name=_csrf_token]').remove()", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.ID, "problem"))
    problem = browser.find_element(By.ID, "problem")
    assert problem.get_attribute("data-status") == "403"
    assert "CSRF" in problem.text
    assert await ctx.tasks.page(TaskQuery()) == ([], None)
