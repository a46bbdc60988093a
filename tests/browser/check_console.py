#!/usr/bin/python3
"""make check-browser: voucher-console in a real browser (headless Chromium
driven by Selenium), against a stack started by tests/console/stack.sh.

    check_console.py --url URL --idle-url URL --env STACK_ENV --screens DIR

URL is the stack's console; IDLE_URL a second console on the same database
whose session_idle_s is 5 (session expiry and the sign-in throttle are tried
there, so that their waiting and their lock touch nothing else).  STACK_ENV
is the stack's DIR/env (password, run ids).  Each check prints one line,
PASS, FAIL or PENDING with what it saw; a screenshot of each page (1400x1000) goes to DIR.

The browser trusts exactly the console's certificate (its public key is
pinned with --ignore-certificate-errors-spki-list, from --cert), not every
certificate.

PENDING names the checks of pages and features still being written (they
answer 501 for now): such a check still runs and says what it saw, but its
failure is reported as PENDING and does not fail the run.  Empty the list as
the pages land; a pending check that passes says so.
"""
import argparse
import base64
import glob
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,
                                        TimeoutException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# Checks expected to fail until their page or feature lands (then remove them).
PENDING = [
]

SCRIPT_NAME = "<script>alert(1)</script>"
SCRIPT_USCC = "91330483100000099G"  # stack.sh imports it (Tongxiang, 330483)
WIDTH, HEIGHT = 1400, 1000


class CheckFailed(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ------------------------------------------------------------------ the browser


def spki_pin(cert_pem):
    """base64(sha256(SubjectPublicKeyInfo)) of a PEM certificate, as
    Chromium's --ignore-certificate-errors-spki-list wants it."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Browser:
    """One headless Chromium with its own empty profile (a fresh session:
    no cookies), the viewport WIDTHxHEIGHT, console and network logs on."""

    def __init__(self, args, name):
        self.name = name
        self.downloads = tempfile.mkdtemp(prefix="browser-dl-", dir=args.work)
        o = webdriver.ChromeOptions()
        o.binary_location = args.chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--no-first-run", "--disable-extensions", "--disable-background-networking",
                  "--lang=zh-CN", "--window-size=%d,%d" % (WIDTH, HEIGHT)):
            o.add_argument(a)
        if args.cert:
            o.add_argument("--ignore-certificate-errors-spki-list=" + spki_pin(args.cert))
        else:
            o.add_argument("--ignore-certificate-errors")
        o.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        })
        o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.d = webdriver.Chrome(service=Service(args.chromedriver), options=o)
        self.d.set_page_load_timeout(30)
        # the screenshot is exactly the viewport: WIDTHxHEIGHT
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        self.d.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": self.downloads})
        self.status = None
        self.errors = []
        self.screens = args.screens
        self.shots = set()

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass

    def drain(self):
        self.d.get_log("browser")
        self.d.get_log("performance")

    def collect(self):
        """The HTTP status of the last document loaded and the SEVERE
        console entries since the last drain."""
        self.errors = [e["message"] for e in self.d.get_log("browser") if e.get("level") == "SEVERE"]
        for e in self.d.get_log("performance"):
            m = json.loads(e["message"]).get("message", {})
            if m.get("method") == "Network.responseReceived" and m["params"].get("type") == "Document":
                self.status = m["params"]["response"]["status"]
        return self.status, self.errors

    def get(self, url):
        self.drain()
        self.status = None
        self.d.get(url)
        return self.collect()

    def wait_loaded(self, old_html):
        WebDriverWait(self.d, 20).until(EC.staleness_of(old_html))
        WebDriverWait(self.d, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def click(self, element_id):
        """Clicks a button or link that loads a new page, and waits for it."""
        self.drain()
        self.status = None
        old = self.d.find_element(By.TAG_NAME, "html")
        try:
            self.d.find_element(By.ID, element_id).click()
        except WebDriverException:
            # Chromium sometimes answers a click with "Node ... does not
            # belong to the document" while the page is still settling (seen
            # under the sanitizers): if nothing was sent, find it and click again
            time.sleep(0.5)
            try:
                old.tag_name  # still the same page: the click did not happen
                self.d.find_element(By.ID, element_id).click()
            except StaleElementReferenceException:
                pass  # the first click did navigate
        self.wait_loaded(old)
        return self.collect()

    def text(self, element_id):
        els = self.d.find_elements(By.ID, element_id)
        return els[0].text if els else None

    def path(self):
        return re.sub(r"^https://[^/]+", "", self.d.current_url)

    def shot(self, name):
        """build/screens/NAME.png: the viewport now (a check takes its own at
        the moment that matters; otherwise Checks.run takes it at the end)."""
        self.shots.add(name)
        try:
            self.d.save_screenshot(os.path.join(self.screens, name + ".png"))
        except Exception:
            pass

    def no_alert(self):
        try:
            a = self.d.switch_to.alert
            txt = a.text
            a.dismiss()
            raise CheckFailed("an alert was raised: %r" % txt)
        except NoAlertPresentException:
            pass

    def sign_in(self, base, user, password):
        self.get(base + "/login")
        self.d.find_element(By.ID, "username").clear()
        self.d.find_element(By.ID, "username").send_keys(user)
        self.d.find_element(By.ID, "password").send_keys(password)
        return self.click("login")


# ------------------------------------------------------------------ the checks


class Checks:
    def __init__(self, args):
        self.args = args
        self.results = []  # (name, outcome, detail)

    def run(self, name, fn, browser=None, shot=None):
        pending = name in PENDING
        t0 = time.monotonic()
        if browser and shot:
            browser.shots.discard(shot)
        try:
            detail = fn() or ""
            outcome = "PASS (listed as pending: remove it from PENDING)" if pending else "PASS"
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way
            if isinstance(e, (CheckFailed, TimeoutException)):
                detail = str(e).strip() or type(e).__name__
            else:
                detail = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0] if str(e).strip() else "")
                if os.environ.get("BROWSER_TRACE"):
                    traceback.print_exc()
            outcome = "PENDING" if pending else "FAIL"
            if pending:
                detail = "pending page (listed in PENDING, expected to fail until it lands): " + detail
        if browser and shot and shot not in browser.shots:
            browser.shot(shot)
        ms = int((time.monotonic() - t0) * 1000)
        self.results.append((name, outcome, detail))
        label = "PASS" if outcome.startswith("PASS") else "PENDING" if pending else "FAIL"
        print("%-7s %-28s %6d ms  %s" % (label, name, ms, detail), flush=True)
        if outcome.startswith("PASS ("):
            print("        %s: %s" % (name, outcome), flush=True)

    def page_ok(self, b, path, expect_title=None):
        """Loads path: HTTP success and no SEVERE console entry."""
        status, errors = b.get(self.args.url + path)
        need(b.path().split("?")[0] == path.split("?")[0],
             "GET %s ended at %s (HTTP %s)" % (path, b.path(), status))
        if status is None or not 200 <= status < 300:
            body = b.d.find_element(By.TAG_NAME, "main").text if b.d.find_elements(By.TAG_NAME, "main") else ""
            raise CheckFailed("GET %s: HTTP %s (page says: %s)" % (path, status, body.replace("\n", " ")[:120]))
        need(not errors, "GET %s: browser console errors: %s" % (path, "; ".join(errors)[:400]))
        if expect_title:
            need(expect_title in b.d.title, "GET %s: title %r lacks %r" % (path, b.d.title, expect_title))
        b.no_alert()
        return "HTTP %d, no console error" % status


def fen_of(text):
    """'1,234.56' (yuan) -> 123456 fen, exactly."""
    m = re.fullmatch(r"(-?)([0-9][0-9,]*)\.([0-9]{2})", text.strip())
    if not m:
        raise CheckFailed("not an amount in yuan: %r" % text)
    v = int(m.group(2).replace(",", "")) * 100 + int(m.group(3))
    return -v if m.group(1) else v


def mask(uscc):
    return uscc[:6] + "********" + uscc[-4:]


def run_lines(b):
    """[(uscc, name, status)] of the lines on the run page shown."""
    rows = []
    for tr in b.d.find_elements(By.CSS_SELECTOR, "table#lines tr"):
        tds = tr.find_elements(By.TAG_NAME, "td")
        if len(tds) >= 10:
            rows.append((tds[0].text.strip(), tds[1].text, tds[9].text.strip()))
    return rows


def xlsx_total_fen(path):
    """The total payable of an exported workbook, in fen: the 合计 row of
    sheet 汇总 (column 本次拨付) if there is one, and the sum of the positive
    本次拨付 of sheet 明细; the two must agree where both exist."""
    import openpyxl
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    found = {}

    def fen(v):
        if isinstance(v, (int, float)):
            return round(v * 100)
        if isinstance(v, str) and v.strip():
            return fen_of(v)
        return None

    for ws in wb.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        head_row = col = None
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if isinstance(v, str) and v.startswith("本次拨付"):
                    head_row, col = i, j
                    break
            if col is not None:
                break
        if col is None:
            continue
        if ws.title == "汇总" or any(isinstance(r[0], str) and r[0].strip() == "合计" for r in rows if r):
            for r in rows[head_row + 1:]:
                if r and isinstance(r[0], str) and r[0].strip() == "合计" and len(r) > col:
                    found["sheet %s row 合计" % ws.title] = fen(r[col])
        else:
            s = 0
            for r in rows[head_row + 1:]:
                f = fen(r[col]) if len(r) > col else None
                if f is not None and f > 0:
                    s += f
            found["sheet %s sum of positive 本次拨付" % ws.title] = s
    wb.close()
    return found


def check_xlsx(b, base, run):
    """Downloads run RUN's XLSX (link download-xlsx of its page); it must open
    with openpyxl, and its totals equal the page's total-payable."""
    b.get(base + "/runs/" + run)
    page_total = fen_of(b.text("total-payable"))
    for f in os.listdir(b.downloads):
        os.remove(os.path.join(b.downloads, f))
    b.drain()
    href = b.d.find_element(By.ID, "download-xlsx").get_attribute("href")
    before = b.d.current_url
    b.d.find_element(By.ID, "download-xlsx").click()
    deadline = time.monotonic() + 20
    got = None
    while time.monotonic() < deadline:
        done = [f for f in os.listdir(b.downloads) if f.endswith(".xlsx")]
        if done:
            got = os.path.join(b.downloads, done[0])
            break
        if b.d.current_url != before:  # not a download: a page came back
            WebDriverWait(b.d, 10).until(
                lambda d: d.execute_script("return document.readyState") == "complete")
            status, _ = b.collect()
            main_el = b.d.find_elements(By.TAG_NAME, "main")
            raise CheckFailed("GET %s: HTTP %s, a page instead of a file (it says: %s)" % (
                href.replace(base, ""), status,
                main_el[0].text.replace("\n", " ")[:120] if main_el else ""))
        time.sleep(0.2)
    need(got, "no .xlsx downloaded from %s within 20 s (%s)" % (href, os.listdir(b.downloads)))
    totals = xlsx_total_fen(got)
    need(totals, "%s: no 本次拨付 column found in any sheet" % os.path.basename(got))
    bad = {k: v for k, v in totals.items() if v != page_total}
    need(not bad, "%s: totals %r differ from the page's %d fen" % (os.path.basename(got), bad, page_total))
    return "%s (%d bytes) opens; %s = page total %s" % (
        os.path.basename(got), os.path.getsize(got), ", ".join(totals), b.text("total-payable"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--idle-url", required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--screens", required=True)
    ap.add_argument("--work", default=tempfile.gettempdir())
    ap.add_argument("--cert", default="")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    os.makedirs(args.screens, exist_ok=True)
    for f in glob.glob(os.path.join(args.screens, "*.png")):
        os.remove(f)
    env = {}
    with open(args.env, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = (shlex.split(v) or [""])[0]
    password = env["STAFF_PASSWORD"]
    runs = env["RUNS"].split()
    need(len(runs) >= 2, "the stack settled fewer than two runs: %r" % env["RUNS"])
    run1, run2 = runs[0], runs[1]  # Tongxiang (with the script-named enterprise), Jiaxing
    base = args.url
    C = Checks(args)
    browsers = []

    def browser(name):
        b = Browser(args, name)
        browsers.append(b)
        return b

    # a SIGTERM (timeout) still closes the browsers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    t_start = time.monotonic()
    try:
        a = browser("staff")

        # 1. signing in --------------------------------------------------
        def login_refused():
            b = a
            b.get(base + "/login")
            b.d.find_element(By.ID, "username").send_keys("prep")
            b.d.find_element(By.ID, "password").send_keys("not the password")
            status, _ = b.click("login")
            need(status == 403, "wrong password: HTTP %s, expected 403" % status)
            msg = b.text("login-error")
            need(msg and "用户名或密码错误" in msg, "wrong password: message %r" % msg)
            need(b.d.find_element(By.ID, "login-error").is_displayed(), "the message is not visible")
            need(b.path().startswith("/login"), "wrong password: ended at %s" % b.path())
            need(not b.d.get_cookie("vc_session"), "a session cookie was set")
            return "HTTP 403, %s" % msg
        C.run("login_wrong_password", login_refused, a, "login-refused")

        def login():
            status, errors = a.sign_in(base, "prep", password)
            need(a.path() == "/runs", "signed in, ended at %s (HTTP %s): %s" % (a.path(), status,
                                                                               a.text("login-error")))
            user = a.text("user") or ""
            need(user.startswith("prep"), "the header names %r, not prep" % user)
            c = a.d.get_cookie("vc_session")
            need(c and c.get("httpOnly") and c.get("secure") and c.get("sameSite") == "Strict",
                 "the session cookie is not HttpOnly, Secure, SameSite=Strict: %r" % c)
            return "as %s, at /runs" % user
        C.run("login", login, a, "login")

        # 2. every page, without a console error ---------------------------
        C.run("page_runs", lambda: C.page_ok(a, "/runs", "结算批次"), a, "runs")

        def page_run():
            r = C.page_ok(a, "/runs/" + run1, "结算批次 #" + run1)
            need(a.text("status") == "草稿", "run %s is %r, not 草稿" % (run1, a.text("status")))
            return r
        C.run("page_run", page_run, a, "run")

        # 9. the script-named enterprise is text on the run page
        def xss_run_page():
            b = a
            if not b.path().startswith("/runs/" + run1):
                b.get(base + "/runs/" + run1)
            lines = run_lines(b)
            mine = [l for l in lines if l[0] == SCRIPT_USCC]
            need(mine, "%s is not among run %s's lines (%d lines)" % (SCRIPT_USCC, run1, len(lines)))
            row = b.d.find_element(By.XPATH, "//table[@id='lines']//td[a[text()='%s']]" % SCRIPT_USCC)
            b.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", row)
            b.shot("run-script-name")
            need(mine[0][1] == SCRIPT_NAME, "its name shows as %r, not as the text %r" % (mine[0][1], SCRIPT_NAME))
            need(not b.d.find_elements(By.TAG_NAME, "script"), "the page has a <script> element")
            need("&lt;script&gt;alert(1)&lt;/script&gt;" in b.d.page_source, "the name is not escaped in the source")
            b.no_alert()
            return "shown as text, no <script> element, no alert"
        C.run("xss_run_page", xss_run_page, a, "run-script-name")

        C.run("page_overview", lambda: C.page_ok(a, "/overview", "资金概览"), a, "overview")
        C.run("page_enterprises", lambda: C.page_ok(a, "/enterprises", "企业"), a, "enterprises")

        def page_enterprise():
            r = C.page_ok(a, "/enterprises/" + SCRIPT_USCC)
            need(SCRIPT_NAME in a.d.find_element(By.TAG_NAME, "main").text,
                 "the enterprise page does not show its name as text")
            return r
        C.run("page_enterprise", page_enterprise, a, "enterprise")

        def xss_enterprise_page():
            b = a
            if b.path() != "/enterprises/" + SCRIPT_USCC:
                b.get(base + "/enterprises/" + SCRIPT_USCC)
            need(b.status and 200 <= b.status < 300, "GET /enterprises/%s: HTTP %s" % (SCRIPT_USCC, b.status))
            need(SCRIPT_NAME in b.d.find_element(By.TAG_NAME, "main").text, "the name does not show as text")
            need(not b.d.find_elements(By.TAG_NAME, "script"), "the page has a <script> element")
            b.no_alert()
            return "shown as text, no <script> element, no alert"
        C.run("xss_enterprise_page", xss_enterprise_page, a)

        C.run("page_overrides", lambda: C.page_ok(a, "/overrides", "一事一议"), a, "overrides")

        # 6. the XLSX download matches the page's total ---------------------
        C.run("xlsx_download", lambda: check_xlsx(a, base, run1), a, "xlsx")

        # 3. the preparer's 批准 is refused ---------------------------------
        def approve_by_preparer():
            b = a
            b.get(base + "/runs/" + run1)
            need(b.text("status") == "草稿", "run %s is %r before, not 草稿" % (run1, b.text("status")))
            status, _ = b.click("approve")
            b.shot("refused")
            msg = b.text("refused")
            need(msg is not None, "no refusal (HTTP %s, at %s)" % (status, b.path()))
            need("编制人不能批准" in msg, "the refusal says %r" % msg)
            need(b.d.find_element(By.ID, "refused").is_displayed(), "the refusal is not visible")
            b.get(base + "/runs/" + run1)
            need(b.text("status") == "草稿", "after the refusal run %s is %r" % (run1, b.text("status")))
            return "HTTP %s: %s" % (status, msg)
        C.run("approve_refused_for_preparer", approve_by_preparer, a, "refused")

        # logout
        def logout():
            b = a
            b.get(base + "/runs")
            status, _ = b.click("logout")
            need(b.path() == "/login", "after 退出 at %s" % b.path())
            need(not b.d.get_cookie("vc_session"), "the session cookie is still there")
            b.shot("logout")
            b.get(base + "/runs")
            need(b.path() == "/login", "after logout /runs ended at %s" % b.path())
            need(b.text("login-error") is None, "a message after logout: %r" % b.text("login-error"))
            return "back at /login; /runs asks to sign in"
        C.run("logout", logout, a, "logout")

        # 4. a second finance user approves --------------------------------
        def approve_by_second():
            b = a
            b.sign_in(base, "appr", password)
            need(b.path() == "/runs", "appr: signed in at %s (%s)" % (b.path(), b.text("login-error")))
            b.get(base + "/runs/" + run1)
            status, _ = b.click("approve")
            b.shot("approved")
            need(b.path().startswith("/runs/%s?done=approve" % run1), "after 批准 at %s (HTTP %s; %s)" % (
                b.path(), status, b.text("refused")))
            need(b.text("status") == "已批准", "run %s is %r, not 已批准" % (run1, b.text("status")))
            need("已批准" in (b.text("done") or ""), "no confirmation: %r" % b.text("done"))
            return "run %s 已批准 by appr" % run1
        C.run("approve_by_second_user", approve_by_second, a, "approved")

        # 5. publishing, then the notice in a fresh session ------------------
        notice_path = "/notice/" + run1
        lines_run1 = []

        def publish():
            b = a
            b.get(base + "/runs/" + run1)
            lines_run1.extend(run_lines(b))
            status, _ = b.click("publish")
            b.shot("published")
            need(b.path().startswith("/runs/%s?done=publish" % run1), "after 发布公示 at %s (HTTP %s; %s)" % (
                b.path(), status, b.text("refused")))
            need(b.text("status") == "公示中", "run %s is %r, not 公示中" % (run1, b.text("status")))
            link = b.d.find_element(By.ID, "notice-link").get_attribute("href")
            need(link.endswith(notice_path), "the notice link is %s" % link)
            # the overview of the approved programme-year, for the README
            C.page_ok(b, "/overview?program=tongxiang-compute&year=2026")
            b.shot("overview-approved")
            return "run %s 公示中, notice at %s" % (run1, notice_path)
        C.run("publish", publish, a, "published")

        pub = browser("public")

        def notice():
            b = pub
            r = C.page_ok(b, notice_path, "公示")
            need(not b.d.get_cookie("vc_session"), "the fresh session has a session cookie")
            need(b.d.find_elements(By.ID, "user") == [], "the notice shows a signed-in user")
            payable = [l for l in lines_run1 if l[2] == "应拨付"]
            need(payable, "run %s had no payable line on its page" % run1)
            rows = []
            for tr in b.d.find_elements(By.CSS_SELECTOR, "table#notice-lines tr"):
                tds = tr.find_elements(By.TAG_NAME, "td")
                if len(tds) >= 5 and tds[0].text.strip().isdigit():
                    rows.append((tds[1].text, tds[2].text.strip()))
            names = {n for n, _ in rows}
            missing = [n for _, n, _ in payable if n not in names]
            need(not missing, "the notice lacks %r" % missing)
            for uscc, name, _ in payable:
                codes = [c for n, c in rows if n == name]
                need(mask(uscc) in codes, "%s is shown as %r, expected %s" % (name, codes, mask(uscc)))
            for code in (c for _, c in rows):
                need(re.fullmatch(r"[0-9A-Z]{6}\*{8}[0-9A-Z]{4}", code), "a code not masked: %r" % code)
            src = b.d.page_source
            full = [u for u, _, _ in lines_run1 if u in src]
            need(not full, "full credit codes in the page source: %r" % full)
            need(not b.d.find_elements(By.TAG_NAME, "script"), "the notice has a <script> element")
            b.no_alert()
            return "%s; %d enterprises listed, codes masked (e.g. %s), no full code in the source" % (
                r, len(rows), rows[0][1] if rows else "-")
        C.run("notice", notice, pub, "notice")

        # 7. a form without its CSRF token -----------------------------------
        def csrf_missing():
            b = a
            b.get(base + "/runs/" + run2)
            need(b.text("status") == "草稿", "run %s is %r, not 草稿" % (run2, b.text("status")))
            # WebDriver's scripts are not the page's: the CSP (no script at all) does not stop them
            removed = b.d.execute_script(
                "var f = document.getElementById('approve').form;"
                "var t = f.querySelector('input[name=csrf]'); if (!t) return false; t.remove();"
                "return f.querySelector('input[name=csrf]') === null;")
            need(removed, "could not remove the approve form's csrf input")
            status, _ = b.click("approve")
            b.shot("csrf")
            need(status == 403, "POST without csrf: HTTP %s, expected 403" % status)
            msg = b.text("error") or ""
            need("表单已失效" in msg, "the page says %r" % msg)
            b.get(base + "/runs/" + run2)
            need(b.text("status") == "草稿", "run %s became %r: the action happened" % (run2, b.text("status")))
            return "HTTP 403, %s; run %s still 草稿" % (msg[:20] + "…", run2)
        C.run("csrf_missing_refused", csrf_missing, a, "csrf")

        # the auditor's page ---------------------------------------------------
        def audit_page():
            b = a
            b.get(base + "/runs")
            if b.d.find_elements(By.ID, "logout"):
                b.click("logout")
            b.sign_in(base, "aud", password)
            need(b.path() in ("/audit", "/runs"), "aud: signed in at %s (%s)" % (b.path(), b.text("login-error")))
            return C.page_ok(b, "/audit", "审计")
        C.run("page_audit", audit_page, a, "audit")

        # 8. session expiry, on the console whose session_idle_s is 5 ---------
        idle = browser("idle")

        def session_expiry():
            b = idle
            b.sign_in(args.idle_url, "prep", password)
            need(b.path() == "/runs", "signed in at %s (%s)" % (b.path(), b.text("login-error")))
            time.sleep(7)
            b.get(args.idle_url + "/runs")
            b.shot("expired")
            need(b.path().startswith("/login"), "after 7 s idle /runs ended at %s" % b.path())
            msg = b.text("login-error") or ""
            need("会话已超时" in msg, "the login page says %r" % msg)
            return "after 7 s: %s, %s" % (b.path(), msg)
        C.run("session_expiry", session_expiry, idle, "expired")

        # the sign-in throttle (same console: its lock must not touch the main one)
        def throttle():
            b = idle
            user = "lockout_probe"
            seen = []
            for i in range(5):
                b.get(args.idle_url + "/login")
                b.d.find_element(By.ID, "username").send_keys(user)
                b.d.find_element(By.ID, "password").send_keys("wrong %d" % i)
                status, _ = b.click("login")
                seen.append(status)
                need(status == 403 and "用户名或密码错误" in (b.text("login-error") or ""),
                     "attempt %d: HTTP %s, %r" % (i + 1, status, b.text("login-error")))
            b.get(args.idle_url + "/login")
            b.d.find_element(By.ID, "username").send_keys(user)
            b.d.find_element(By.ID, "password").send_keys("wrong again")
            status, _ = b.click("login")
            msg = b.text("login-error") or ""
            need(status == 429 and "锁定" in msg, "the 6th attempt: HTTP %s, %r" % (status, msg))
            return "5 wrong passwords (HTTP %s), then HTTP 429: %s" % ("/".join(map(str, sorted(set(seen)))), msg)
        C.run("login_throttle", throttle, idle, "throttled")
    finally:
        for b in browsers:
            b.quit()

    took = time.monotonic() - t_start
    fails = [r for r in C.results if r[1] == "FAIL"]
    pend = [r for r in C.results if r[1].startswith("PENDING")]
    passes = [r for r in C.results if r[1].startswith("PASS")]
    stale = [r[0] for r in C.results if r[1].startswith("PASS (")]
    print("\ncheck-browser: %d checks in %.1f s: %d passed, %d failed, %d pending (expected to fail: %s)" % (
        len(C.results), took, len(passes), len(fails), len(pend), ", ".join(r[0] for r in pend) or "none"))
    if stale:
        print("check-browser: now passing though listed in PENDING (remove them): %s" % ", ".join(stale))
    print("check-browser: screenshots in %s" % args.screens)
    if fails:
        print("check-browser: FAILED: %s" % ", ".join(r[0] for r in fails))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
