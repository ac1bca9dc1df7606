"""The console's browser for the scripted e2e suites: Debian's chromium,
headless, driven by python3-selenium (imported only when a browser is
started, so that a script's browserless parts need none of it).  The
sign-in every console script starts its walk with lives here once."""
import os

import harness


def browser(tmp):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              "--window-size=1280,1700", "--lang=en-US",
              "--user-data-dir=" + os.path.join(tmp, "chromium")):
        o.add_argument(a)
    # chromedriver's port from free_port: concurrent scripts (run.py's
    # jobs) never pick the same one.
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver",
                                         port=harness.free_port()), options=o)
    d.set_page_load_timeout(60)
    return d


def submit(d, el):
    """Clicks el and waits for the next page to replace this one."""
    from selenium.common.exceptions import StaleElementReferenceException, \
        WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    old = d.find_element("tag name", "html")
    el.click()

    def gone(_):
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            # Asked while the old document is being torn down.
            if "does not belong to the document" in str(e):
                return True
            raise
    WebDriverWait(d, 60).until(gone)


def signin(d, user, password, url=None):
    """Fills the sign-in form (of url, opened first when given) and
    submits it; the caller checks where that led, a wrong password
    included."""
    if url is not None:
        d.get(url)
    d.find_element("name", "username").send_keys(user)
    d.find_element("name", "password").send_keys(password)
    submit(d, d.find_element("id", "signin"))
