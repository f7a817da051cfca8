#!/usr/bin/env python3
"""End-to-end test of the real desktop app: the built `sotay-app` binary in a WebKitGTK window
under Xvfb, driven over WebDriver (tauri-driver + Debian's WebKitWebDriver), against a real sync
server on 127.0.0.1. Standard library only: WebDriver is plain JSON over HTTP.

Scenario, on an English (US) system locale: first run → import 30 citizens from a CSV (one bad
row shown in the preview), search with the match count → a session dated dd/mm/yyyy (an
impossible date refused first) with 25 attendees, two look-alike names taken by search-and-Enter
and one walk-in, outcomes ticked → the numbers on the home screen → sync to the server → the
server's stats show them → a report for a typed period. Every screen is checked for English text
in the Vietnamese UI. Saves a screenshot of each main screen to
docs/screenshots/ and measures start-up time and resident memory (docs/benchmarks.md).

Usage: tests/e2e/ui_scenario.py TARGET_DIR   (where sotay and sotay-app were built)
"""

import base64
import getpass
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(ROOT, "docs", "screenshots")
TEAM = "Đội TNTN phường Hàm Rồng"
PASSPHRASE = "hoa sen trắng"
NEW_PASSPHRASE = "trăng rằm tháng tám"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None, timeout=120):
        if os.environ.get("SOTAY_E2E_TRACE"):
            print(f"  webdriver {method} {path}", file=sys.stderr)
        url = self.base + (f"/session/{self.session}" if self.session else "") + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        # tauri-driver reuses its connection to WebKitWebDriver, which sometimes has closed it;
        # the request then never reached the browser ("SendRequest" error), so sending it again
        # is safe.
        for attempt in range(4):
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    return json.loads(resp.read() or b"{}").get("value")
            except urllib.error.HTTPError as e:
                body = e.read().decode()
                if "SendRequest" in body and attempt < 3:
                    time.sleep(0.3)
                    continue
                raise RuntimeError(f"{method} {path}: {body[:500]}") from None
            except (ConnectionError, http.client.RemoteDisconnected):
                if attempt == 3:
                    raise
                time.sleep(0.3)

    def start(self, app, args, direct=False):
        options = ({"webkitgtk:browserOptions": {"binary": app, "args": args}} if direct
                   else {"tauri:options": {"application": app, "args": args}})
        caps = {"capabilities": {"alwaysMatch": options if direct else {"browserName": "wry", **options}}}
        value = self.call("POST", "/session", caps)
        self.session = value["sessionId"]

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "")
            except Exception:
                pass
            self.session = None

    def js(self, script, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css, timeout=20):
        end = time.time() + timeout
        while True:
            try:
                value = self.call("POST", "/element", {"using": "css selector", "value": css})
                return list(value.values())[0]
            except RuntimeError:
                if time.time() > end:
                    raise RuntimeError(f"no element {css}") from None
                time.sleep(0.2)

    def click(self, css):
        self.call("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        el = self.find(css)
        self.call("POST", f"/element/{el}/clear", {})
        self.call("POST", f"/element/{el}/value", {"text": text})

    def text(self, css):
        return self.call("GET", f"/element/{self.find(css)}/text")

    def wait_text(self, css, needle, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if needle in self.text(css):
                    return
            except RuntimeError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{css} never showed {needle!r}")

    def select(self, css, value):
        # Sets a <select> the way a user's choice does, firing the change the page listens to.
        self.js("const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                "e.dispatchEvent(new Event('change', {bubbles: true}));", css, value)

    def screenshot(self, name):
        # A screenshot documents the screen; WebKit sometimes never answers one, and that is no
        # reason to fail what the assertions proved.
        try:
            png = base64.b64decode(self.call("GET", "/screenshot", timeout=20))
        except (RuntimeError, OSError) as e:
            print(f"screenshot {name} skipped: {e}", file=sys.stderr)
            return
        os.makedirs(SHOTS, exist_ok=True)
        with open(os.path.join(SHOTS, name), "wb") as f:
            f.write(png)


def english_only_strings():
    """Texts of the English locale file that the Vietnamese one does not also use."""
    with open(os.path.join(ROOT, "ui", "src", "i18n", "en.json")) as f:
        en = json.load(f)
    with open(os.path.join(ROOT, "ui", "src", "i18n", "vi.json")) as f:
        vi = set(json.load(f).values())
    words = []
    for value in en.values():
        # The fixed part of each message (before any {placeholder}), long enough to be telling.
        fixed = max(value.split("{"), key=len).split("}")[-1].strip(" .:…")
        if value not in vi and len(fixed) >= 6:
            words.append(fixed)
    # What WebKit itself writes in English when a page leaves it to the browser.
    return words + ["Choose File", "No file chosen", "Fill out this field", "Please fill"]


def assert_vietnamese(driver, screen):
    """Everything a volunteer sees on this screen — text, placeholders, tooltips — is Vietnamese."""
    seen = driver.js(
        "return document.body.innerText + '\\n' + Array.from(document.querySelectorAll("
        "'[placeholder],[title],[aria-label]')).map(e => [e.placeholder, e.title,"
        " e.getAttribute('aria-label')].filter(Boolean).join('\\n')).join('\\n');")
    found = [w for w in english_only_strings() if w in seen]
    assert not found, f"English on the {screen} screen: {found}"


def csv_with_one_bad_row():
    lines = ["STT,Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại"]
    families = ["Nguyễn", "Trần", "Lê", "Phạm", "Đặng", "Bùi"]
    for i in range(1, 31):
        gender = "Nữ" if i % 2 else "Nam"
        phone = f"09{i:08d}"
        if i == 17:
            phone = "0212345"  # the bad row: a landline, too short
        lines.append(f"{i},{families[i % 6]} Thị Người{i:02d},{gender},{1940 + i},Thôn Đông,{phone}")
    return "\r\n".join(lines) + "\r\n"


def main():
    target = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug"))
    app = os.path.join(target, "sotay-app")
    cli = os.path.join(target, "sotay")
    work = tempfile.mkdtemp(prefix="sotay-e2e-")
    procs = []
    driver = WebDriver(free_port())
    results = {"passed": 0, "failed": 0}
    try:
        env = dict(os.environ)
        # What tauri-driver sets for the app it starts: allow WebKit's automation session.
        env["TAURI_WEBVIEW_AUTOMATION"] = "true"
        # An English (US) system, as on many volunteers' laptops: its date pickers read
        # month/day, so the app must not rely on them.
        env["LANG"] = "en_US.UTF-8"
        env["LANGUAGE"] = "en_US"
        # "Open the file" / "open the folder" call the desktop's xdg-open: a stand-in writes down
        # what it was asked to open instead of starting a viewer.
        bin_dir = os.path.join(work, "bin")
        os.makedirs(bin_dir)
        opened_log = os.path.join(work, "opened.log")
        with open(os.path.join(bin_dir, "xdg-open"), "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened_log}"\n')
        os.chmod(os.path.join(bin_dir, "xdg-open"), 0o755)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")

        def opened():
            if not os.path.exists(opened_log):
                return []
            with open(opened_log) as f:
                return f.read().splitlines()
        if not env.get("DISPLAY"):
            display = ":97"
            procs.append(subprocess.Popen(["Xvfb", display, "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            env["DISPLAY"] = display
            time.sleep(1)

        # The CLI reads the laptop's passphrase from here (the app asks on its lock screen).
        os.environ["SOTAY_PASSPHRASE"] = PASSPHRASE
        server_port = free_port()
        central = os.path.join(work, "central.sqlite")
        # The server speaks HTTPS with a self-signed certificate, as in a commune office.
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.check_call(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                               "-subj", "/CN=sotay", "-keyout", key, "-out", cert],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        enrolment = json.loads(subprocess.check_output(
            [cli, "--db", central, "server", "enroll", "--team", TEAM, "--org", "youth",
             "--province", "38", "--commune", "14758", "--tls-cert", cert, "--json"]))
        code, fingerprint = enrolment["code"], enrolment["certificate_fingerprint"]
        procs.append(subprocess.Popen([cli, "--db", central, "serve", "--listen", f"127.0.0.1:{server_port}",
                                       "--tls-cert", cert, "--tls-key", key],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(server_port)

        driver_port = int(driver.base.rsplit(":", 1)[1])
        tauri_driver = shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver")
        log = open(os.path.join(work, "tauri-driver.log"), "w")
        direct = bool(os.environ.get("SOTAY_E2E_DIRECT"))
        command = (["/usr/bin/WebKitWebDriver", f"--port={driver_port}"] if direct else
                   [tauri_driver, "--port", str(driver_port), "--native-driver", "/usr/bin/WebKitWebDriver"])
        procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_port(driver_port)

        laptop = os.path.join(work, "laptop.sqlite")
        out_dir = os.path.join(work, "out")
        started = time.time()
        driver.start(app, ["--db", laptop, "--out-dir", out_dir], direct)
        driver.find("#passphrase")
        startup = time.time() - started
        try:
            driver.call("POST", "/window/rect", {"width": 1366, "height": 768})
        except RuntimeError:
            pass

        # The very first screen: choose the passphrase that encrypts the laptop's data.
        assert "Bảo vệ dữ liệu bằng mật khẩu" in driver.text("#lock")
        driver.type("#passphrase", "1234")
        driver.type("#passphrase-again", "1234")
        driver.click("#unlock")
        driver.wait_text("#lock-error", "ít nhất 8 ký tự")
        driver.type("#passphrase", PASSPHRASE)
        driver.type("#passphrase-again", PASSPHRASE + " ")
        driver.click("#unlock")
        driver.wait_text("#lock-error", "không giống nhau")
        driver.type("#passphrase", PASSPHRASE)
        driver.type("#passphrase-again", PASSPHRASE)
        assert_vietnamese(driver, "choose-passphrase")
        driver.screenshot("00-choose-passphrase.png")
        driver.click("#unlock")
        driver.find("#team-name")
        with open(laptop, "rb") as f:
            assert not f.read(16).startswith(b"SQLite format 3"), "the laptop's file is not encrypted"

        # A second launch on the same database hands over to this window and exits.
        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            second = subprocess.run([app, "--db", laptop, "--out-dir", out_dir], env=env, timeout=30,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert second.returncode == 0, f"second instance: exit {second.returncode}"
            driver.find("#team-name")
        else:
            print("no D-Bus session: the one-window check is skipped", file=sys.stderr)

        # First run: create the team.
        driver.type("#team-name", TEAM)
        driver.select("#team-province", "38")
        driver.select("#team-commune", "14758")
        driver.type("#volunteer-name", "Lê Thị Hoa")
        assert_vietnamese(driver, "first-run")
        driver.screenshot("01-first-run.png")
        driver.click("#first-submit")
        driver.find("#nav-citizens")

        assert_vietnamese(driver, "home")
        # People whose names differ only slightly, for the search-and-Enter checks below.
        for name in ["Đặng Hồng Lan", "Hồ Hồng Lan", "Hà Ngọc Ánh", "Hà Ngọc Ân"]:
            subprocess.check_output([cli, "--db", laptop, "citizen", "add", "--name", name, "--gender", "nu",
                                     "--birth", "1961", "--village", "Thôn Nam", "--consent"])

        # Import: the preview shows the bad row before anything is stored.
        driver.click("#nav-citizens")
        driver.js("const dt = new DataTransfer();"
                  "dt.items.add(new File([arguments[0]], 'danh-sach.csv', {type: 'text/csv'}));"
                  "const input = document.querySelector('#import-file'); input.files = dt.files;"
                  "input.dispatchEvent(new Event('change', {bubbles: true}));", csv_with_one_bad_row())
        # Nobody is recorded without consent: a list with no consent column stores nobody until
        # the volunteer says who collected the consent, and when.
        driver.wait_text("#import-preview", "30 dòng lỗi")
        assert "Đồng ý" in driver.text("#import-errors")
        assert "danh-sach.csv" in driver.text("#import-file-name")
        for field, value in [("#import-consent-by", "Cán bộ văn hóa phường Hàm Rồng"),
                             ("#import-consent-date", "10/11/2025")]:
            driver.js("const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                      "e.dispatchEvent(new Event('input', {bubbles: true}));"
                      "e.dispatchEvent(new Event('change', {bubbles: true}));", field, value)
        driver.wait_text("#import-preview", "29 người mới")
        errors = driver.text("#import-errors")
        assert "18" in errors and "Số điện thoại" in errors, errors
        driver.screenshot("02-import-preview.png")
        driver.click("#import-commit")
        driver.wait_text("#citizens-message", "Đã nhập 29 người")

        # The same list's people again: nobody is dropped unseen. Row 2 (same name and phone) is
        # already registered; rows 3 and 4 may be, and row 4 is marked as another person.
        second = ("Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\r\n"
                  "Trần Thị Người01,Nữ,1941,Thôn Đông,0900000001\r\n"
                  "Lê Thị Người02,Nam,1942,Thôn Đông,\r\n"
                  "Phạm Thị Người03,Nữ,1943,Thôn Đông,0911111111\r\n")
        driver.js("const dt = new DataTransfer();"
                  "dt.items.add(new File([arguments[0]], 'lan-hai.csv', {type: 'text/csv'}));"
                  "const input = document.querySelector('#import-file'); input.files = dt.files;"
                  "input.dispatchEvent(new Event('change', {bubbles: true}));", second)
        driver.wait_text("#import-preview", "2 dòng có thể trùng")
        assert "Trần Thị Người01" in driver.text("#import-already")
        possible = driver.text("#import-possible")
        assert "Lê Thị Người02" in possible and "Phạm Thị Người03" in possible, possible
        driver.click("#import-possible input.add-anyway[data-row='4']")
        driver.wait_text("#import-commit", "Nhập 1 người")
        driver.screenshot("02b-import-duplicates.png")
        driver.click("#import-commit")
        driver.wait_text("#citizens-message", "Đã nhập 1 người")
        driver.type("#citizen-search", "nguoi07")
        driver.wait_text("#citizen-list", "Người07")
        driver.type("#citizen-search", "thi nguoi")
        driver.wait_text("#citizen-count", "30 người")
        driver.type("#citizen-search", "nguoi07")
        driver.wait_text("#citizen-count", "1 người")
        assert_vietnamese(driver, "citizens")
        driver.screenshot("03-citizens.png")
        # Edit: correct the village of the person found, and add a group and a note.
        driver.click("#citizen-list button")
        driver.type("#citizen-village", "Thôn Bắc")
        driver.click("#citizen-groups input[data-group='elderly']")
        driver.type("#citizen-note", "Nghe kém, cần nói to")
        driver.click("#citizen-save")
        driver.wait_text("#citizen-list", "Thôn Bắc")
        edited = json.loads(subprocess.check_output([cli, "--db", laptop, "citizen", "search", "nguoi07", "--json"]))[0]
        assert edited["groups"] == ["elderly"] and edited["note"] == "Nghe kém, cần nói to", edited

        # A session: 25 attendees found by search, one walk-in, outcomes ticked.
        driver.click("#nav-sessions")
        # Dates are typed day first, whatever the system's locale (first an impossible one).
        driver.type("#session-date", "31/02/2026")
        driver.type("#session-time", "08:30")
        driver.type("#session-place", "Nhà văn hóa thôn Đông")
        driver.click("#skill-0\\.1")
        driver.click("#skill-VNEID1")
        for n, i in enumerate([n for n in range(1, 31) if n != 17][:25]):
            # Typing as a volunteer does fires an input event per key; setting the value with one
            # input event is the same to the page and far faster over WebDriver.
            driver.js("const e = document.querySelector('#attendee-search'); e.value = arguments[0];"
                      "e.dispatchEvent(new Event('input', {bubbles: true}));", f"nguoi{i:02d}")
            driver.wait_text("#attendee-results", f"Người{i:02d}")
            driver.click("#attendee-results button")
            driver.wait_text("#attendee-list", f"Người{i:02d}")
        # Search-and-Enter takes the person typed, not a look-alike listed before them.
        for typed, wrong in [("Hồ Hồng Lan", "Đặng Hồng Lan"), ("Hà Ngọc Ân", "Hà Ngọc Ánh")]:
            driver.js("const e = document.querySelector('#attendee-search'); e.value = arguments[0];"
                      "e.dispatchEvent(new Event('input', {bubbles: true}));", typed)
            driver.wait_text("#attendee-results", typed)
            driver.wait_text("#attendee-count", "người khớp")
            driver.call("POST", f"/element/{driver.find('#attendee-search')}/value", {"text": "\ue007"})
            driver.wait_text("#attendee-list", typed)
            assert wrong not in driver.text("#attendee-list"), f"Enter on {typed!r} added {wrong!r}"
        driver.type("#walkin-name", "Hà Văn Mới")
        driver.select("#walkin-gender", "nam")
        driver.type("#walkin-birth", "1955")
        driver.type("#walkin-village", "Thôn Tây")
        driver.click("#walkin-consent")
        driver.click("#walkin-add")
        driver.wait_text("#attendee-list", "Hà Văn Mới")
        boxes = driver.call("POST", "/elements", {"using": "css selector",
                                                  "value": "#attendee-list input.achieved[data-skill='VNEID1']"})
        assert len(boxes) == 28, len(boxes)
        for box in boxes[:5]:
            driver.call("POST", f"/element/{list(box.values())[0]}/click", {})
        assert_vietnamese(driver, "sessions")
        driver.screenshot("04-session.png")
        driver.click("#session-save")
        driver.wait_text("#sessions-error", "Ngày: “31/02/2026” không phải ngày hợp lệ")
        driver.type("#session-date", "05/12/2026")
        driver.click("#session-save")
        driver.wait_text("#sessions-message", "28 người")
        stored = json.loads(subprocess.check_output([cli, "--db", laptop, "session", "list", "--json"]))
        assert [(s["date"], s["time"]) for s in stored] == [("2026-12-05", "08:30")], stored
        driver.wait_text("#session-list", "05/12/2026 08:30")

        # The home screen counts them.
        driver.click("#nav-home")
        driver.wait_text("#stat-citizens", "35")
        assert driver.text("#stat-sessions") == "1"
        assert driver.text("#stat-reached") == "28"
        assert driver.text("#stat-achieved") == "5", driver.text("#stat-achieved")
        # One definition of each number: the home screen's are the report's.
        report_file = os.path.join(work, "bao-cao.json")
        subprocess.check_output([cli, "--db", laptop, "report", "--format", "json", "--out", report_file])
        with open(report_file) as f:
            report = json.load(f)
        assert (report["totals"]["people"], report["people_confirmed"]) == (
            int(driver.text("#stat-reached")), int(driver.text("#stat-achieved"))), report["totals"]
        # The commune's targets, entered by the official on the home screen, and progress.
        driver.click("#target-edit")
        driver.type("#target-population", "56")
        driver.type("#target-basic", "100")
        driver.type("#target-confirmed-pct", "80")
        driver.click("#target-save")
        driver.wait_text("#target-reached", "50% người trưởng thành (chỉ tiêu 100%)")
        assert "8,9% (chỉ tiêu 80%)" in driver.text("#target-confirmed"), driver.text("#target-confirmed")
        targets = json.loads(subprocess.check_output([cli, "--db", laptop, "target", "list", "--json"]))
        assert [(t["commune_code"], t["adult_population"]) for t in targets] == [("14758", 56)], targets
        # Month by month at a glance, the report's own numbers.
        driver.wait_text("#home-months", "Theo tháng")
        months = json.loads(driver.js("return document.querySelector('#chart-home-month').dataset.series"))
        assert months["labels"] == ["2026-12"] and months["series"][0]["values"] == [28], months
        assert_vietnamese(driver, "home")
        driver.screenshot("05-home.png")

        # Sync to the server the test started.
        driver.click("#nav-sync")
        driver.type("#sync-server", f"https://127.0.0.1:{server_port}")
        driver.type("#sync-code", code)
        driver.type("#sync-volunteer", "Lê Thị Hoa")
        driver.type("#sync-fingerprint", fingerprint.replace(":", " ").lower())
        driver.click("#sync-enroll")
        driver.wait_text("#sync-certificate", fingerprint)
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        driver.wait_text("#pending-count", "Chờ đồng bộ: 0")
        assert_vietnamese(driver, "sync")
        driver.screenshot("06-sync.png")
        stats = json.loads(subprocess.check_output([cli, "--db", central, "server", "stats", "--json"]))
        team = next(t for t in stats if t["team_name"] == TEAM)
        assert (team["citizens"], team["sessions"], team["attendances"], team["achieved"]) == (35, 1, 28, 5), team

        # A teammate's laptop (the CLI) changes the same phone later than this one: this laptop's
        # value is replaced, listed on the Sync screen, and put back with one click.
        code_b = json.loads(subprocess.check_output(
            [cli, "--db", central, "server", "enroll", "--team", TEAM, "--org", "youth",
             "--province", "38", "--commune", "14758", "--tls-cert", cert, "--json"]))["code"]
        laptop_b = os.path.join(work, "laptop-b.sqlite")
        subprocess.check_output([cli, "--db", laptop_b, "sync", "enroll", "--server",
                                 f"https://127.0.0.1:{server_port}", "--code", code_b,
                                 "--volunteer", "Trần Văn Nam", "--fingerprint", fingerprint])
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        lan = json.loads(subprocess.check_output(
            [cli, "--db", laptop, "citizen", "search", "dang hong lan", "--json"]))[0]
        driver.click("#nav-citizens")
        driver.type("#citizen-search", "dang hong lan")
        driver.wait_text("#citizen-count", "1 người")
        driver.click("#citizen-list button")
        driver.type("#citizen-phone", "0911111111")
        driver.click("#citizen-save")
        driver.wait_text("#citizens-message", "Đã lưu")
        time.sleep(0.05)
        subprocess.check_output([cli, "--db", laptop_b, "citizen", "edit", lan["id"], "--phone", "0922222222"])
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        driver.wait_text("#conflicts", "Đặng Hồng Lan")
        table = driver.text("#conflicts")
        assert "0911111111" in table and "0922222222" in table and "máy này" in table, table
        assert_vietnamese(driver, "conflicts")
        driver.js("document.querySelector('#conflicts').scrollIntoView({block: 'center'})")
        driver.screenshot("06b-conflicts.png")
        driver.click("#conflicts button")
        driver.wait_text("#sync-message", "Đã dùng lại giá trị đó")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        shown = json.loads(subprocess.check_output([cli, "--db", laptop_b, "citizen", "show", lan["id"], "--json"]))
        assert shown["citizen"]["phone"] == "0911111111", shown

        driver.click("#nav-reports")
        driver.type("#report-from", "2026-12-01")
        driver.click("#report-export")
        driver.wait_text("#report-error", "Từ ngày: “2026-12-01” không phải ngày hợp lệ")
        driver.type("#report-from", "01/12/2026")
        driver.type("#report-to", "31/12/2026")
        driver.click("#report-export")
        driver.wait_text("#report-message", ".xlsx")
        # The Excel file carries native charts over its own tables (read back from the package).
        xlsx = driver.text("#report-message p.ok").split(": ", 1)[1].strip()
        with zipfile.ZipFile(xlsx) as book:
            charts = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/charts/chart")]
        assert any("'Theo thôn, xóm'!$A$2" in c for c in charts), "no village chart in the XLSX"
        assert any("'Theo kỹ năng'!$E$2" in c for c in charts), "no skill chart in the XLSX"
        # On screen: the numbers, the targets set on the home screen in their chart, and charts
        # by village, skill and month with their tables.
        driver.click("#report-show")
        driver.wait_text("#report-people", "28")
        target = json.loads(driver.js("return document.querySelector('#chart-target-14758').dataset.series"))
        assert target["series"][1]["values"] == [100, 80], target
        assert target["series"][0]["values"] == [50, 8.9], target
        for chart in ["village", "skill", "month"]:
            drawn = driver.js("const c = document.querySelector(arguments[0]);"
                              "const blank = document.createElement('canvas');"
                              "blank.width = c.width; blank.height = c.height;"
                              "return c.width > 0 && c.toDataURL() !== blank.toDataURL();", f"#chart-{chart}")
            assert drawn, f"the {chart} chart is not drawn"
        village = json.loads(driver.js("return document.querySelector('#chart-village').dataset.series"))
        assert "Thôn Đông" in village["labels"], village
        assert "Thôn Đông" in driver.text("#report-village")
        assert_vietnamese(driver, "reports")
        driver.screenshot("07-reports.png")
        driver.js("document.querySelector('#report-village').scrollIntoView()")
        driver.screenshot("07b-report-charts.png")

        # In English, the app's messages are English too, the core's included, naming the field.
        driver.click("#lang-switch")
        driver.click("#nav-citizens")
        driver.type("#citizen-phone", "0212")
        driver.click("#citizen-save")
        driver.wait_text("#citizens-error", "Full name: is empty")
        message = driver.text("#citizens-error")
        assert "Phone: “0212” must have 10 digits" in message and "bỏ trống" not in message, message
        driver.click("#lang-switch")

        # A person asks to be forgotten: erased here, then on the server by the next sync; the
        # counts stay.
        driver.click("#nav-citizens")
        driver.type("#citizen-search", "nguoi07")
        driver.wait_text("#citizen-count", "1 người")
        driver.click("#citizen-list button")
        driver.click("#citizen-forget")
        driver.wait_text("#citizen-forget-warning", "Không hoàn tác được")
        assert_vietnamese(driver, "forget")
        driver.screenshot("03b-forget.png")
        driver.click("#citizen-forget-confirm")
        driver.wait_text("#citizens-message", "Đã xóa thông tin cá nhân")
        driver.type("#citizen-search", "nguoi07")
        driver.wait_text("#citizen-count", "0 người")
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        stats = json.loads(subprocess.check_output([cli, "--db", central, "server", "stats", "--json"]))
        team = next(t for t in stats if t["team_name"] == TEAM)
        assert (team["citizens"], team["attendances"]) == (35, 28), team
        for path in [central, central + "-wal"]:
            if os.path.exists(path):
                with open(path, "rb") as f:
                    assert "Người07".encode() not in f.read(), f"the forgotten name is still in {path}"

        # A person's history: the session and its outcomes; a skill reached the next day is
        # marked achieved, with who confirmed it.
        sessions = json.loads(subprocess.check_output([cli, "--db", laptop, "session", "list", "--json"]))
        detail = json.loads(subprocess.check_output(
            [cli, "--db", laptop, "session", "show", sessions[0]["id"], "--json"]))
        who = next(a for a in detail["attendees"]
                   if "Người" in a["citizen"]["full_name"] and any(o["outcome"] == "taught" for o in a["outcomes"]))
        skill = next(o["skill"] for o in who["outcomes"] if o["outcome"] == "taught")
        driver.click("#nav-citizens")
        driver.type("#citizen-search", who["citizen"]["full_name"])
        driver.wait_text("#citizen-count", "1 người")
        driver.click("#citizen-list button")
        driver.wait_text("#citizen-history", "05/12/2026")
        assert "đã được hướng dẫn" in driver.text("#citizen-history")
        driver.click(f"#citizen-history button.mark-achieved[data-skill='{skill}']")
        driver.wait_text("#citizens-message", "Đã ghi nhận kết quả")
        driver.wait_text("#citizen-history", "xác nhận bởi Lê Thị Hoa")
        assert_vietnamese(driver, "history")
        driver.js("document.querySelector('#citizen-history').scrollIntoView({block: 'center'})")
        driver.screenshot("03c-history.png")
        history = json.loads(subprocess.check_output(
            [cli, "--db", laptop, "citizen", "show", who["citizen"]["id"], "--json"]))
        marked = next(o for o in history["sessions"][0]["outcomes"] if o["skill"]["code"] == skill)
        assert marked["outcome"] == "achieved" and marked["confirmed_by"] == "Lê Thị Hoa", marked

        # A past session corrected here (place, one person written down by mistake) is corrected
        # on the teammate's laptop after sync, and reprinted with its message on its row.
        driver.click("#nav-sessions")
        driver.click("#session-list button.session-edit")
        driver.wait_text("#session-form-title", "Sửa buổi ngày 05/12/2026")
        driver.type("#session-place", "Hội trường thôn Đông")
        mistaken = driver.js("return document.querySelector('#attendee-list tr:last-child').dataset.id")
        driver.click("#attendee-list tr:last-child button")
        driver.wait_text("#session-form", "Người tham dự (27)")
        driver.js("document.querySelector('#session-place').blur()")
        assert_vietnamese(driver, "session-edit")
        driver.screenshot("04b-session-edit.png")
        driver.click("#session-save")
        driver.wait_text("#sessions-message", "Đã sửa buổi: 27 người")
        driver.wait_text("#session-list", "Hội trường thôn Đông")
        driver.click("#session-list button.session-print")
        driver.wait_text("#print-message", ".pdf")
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        seen = json.loads(subprocess.check_output(
            [cli, "--db", laptop_b, "session", "show", sessions[0]["id"], "--json"]))
        assert seen["session"]["place"] == "Hội trường thôn Đông", seen["session"]
        assert len(seen["attendees"]) == 27, len(seen["attendees"])
        assert all(a["citizen"]["id"] != mistaken for a in seen["attendees"]), mistaken

        # The walk-in registered again on the teammate's laptop and taught there: the two records
        # are merged here, and are one person on the other laptop and in the server's report.
        def server_people():
            out = os.path.join(work, "bao-cao-tinh.json")
            subprocess.check_output([cli, "--db", central, "server", "report", "--format", "json", "--out", out])
            with open(out) as f:
                return json.load(f)["totals"]["people"]
        again = json.loads(subprocess.check_output(
            [cli, "--db", laptop_b, "citizen", "add", "--name", "Hà Văn Mới", "--gender", "nam", "--birth", "1955",
             "--village", "Thôn Tây", "--consent", "--json"]))["citizen"]["id"]
        subprocess.check_output([cli, "--db", laptop_b, "session", "add", "--date", "2026-12-06",
                                 "--place", "Nhà văn hóa thôn Tây", "--skills", "TTDT", "--attendee", again])
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        people_before = server_people()
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        driver.click("#nav-citizens")
        driver.click("#duplicates-toggle")
        driver.wait_text("#duplicates", "Hà Văn Mới")
        pick = ("return Array.from(document.querySelectorAll('#duplicates .duplicate-group'))"
                ".find((g) => g.textContent.includes('Hà Văn Mới'))")
        driver.js(pick + ".querySelector('button.duplicates-merge').click();")
        driver.wait_text("#duplicates", "Không hoàn tác được")
        assert_vietnamese(driver, "duplicates")
        driver.js(pick + ".scrollIntoView({block: 'center'});")
        driver.screenshot("03d-duplicates.png")
        driver.js(pick + ".querySelector('button.duplicates-confirm').click();")
        driver.wait_text("#duplicates-message", "Đã gộp 2 hồ sơ thành một: Hà Văn Mới")
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        subprocess.check_output([cli, "--db", laptop_b, "sync"], stderr=subprocess.DEVNULL)
        found = json.loads(subprocess.check_output([cli, "--db", laptop_b, "citizen", "search", "ha van moi", "--json"]))
        assert len(found) == 1, found
        both = json.loads(subprocess.check_output([cli, "--db", laptop_b, "citizen", "show", found[0]["id"], "--json"]))
        assert sorted(s["date"] for s in both["sessions"]) == ["2026-12-05", "2026-12-06"], both["sessions"]
        assert server_people() == people_before - 1, (people_before, server_people())

        # Settings: the folder for saved files, chosen here; a reprint lands there under a name
        # with its date and place, and "open the file" / "open the folder" hand exactly those to
        # the desktop (a stand-in xdg-open on PATH writes down what it was asked to open).
        driver.click("#nav-settings")
        driver.wait_text("#settings-database", "laptop.sqlite")
        chosen = os.path.join(work, "Tài liệu đội")
        driver.type("#settings-folder", "tai-lieu")
        driver.click("#settings-folder-save")
        driver.wait_text("#settings-folder-error", "không phải đường dẫn đầy đủ")
        driver.type("#settings-folder", chosen)
        driver.click("#settings-folder-save")
        driver.wait_text("#settings-folder-message", chosen)
        driver.click("#nav-sessions")
        driver.click("#session-list button.session-print")
        driver.wait_text("#print-message", "diem-danh-2026-12-06-nha-van-hoa-thon-tay-")
        sheet = os.path.join(chosen, next(n for n in os.listdir(chosen)
                                          if n.startswith("diem-danh-2026-12-06-nha-van-hoa-thon-tay-")))
        driver.click("#print-message button.open-file")
        driver.click("#print-message button.open-folder")
        deadline = time.time() + 10
        while time.time() < deadline and len(opened()) < 2:
            time.sleep(0.2)
        assert opened() == [sheet, chosen], opened()
        # Language from Settings too.
        driver.click("#nav-settings")
        driver.click("#settings-lang-en")
        driver.wait_text("#nav-settings", "Settings")
        driver.click("#settings-lang-vi")
        driver.wait_text("#nav-settings", "Cài đặt")
        # The admin revoked this laptop (reported lost, then found): with a new code of its team
        # it enrols again from Settings, and the next sync sends everything without counting
        # anything twice.
        device = driver.text("#settings-device")
        before = next(t for t in json.loads(subprocess.check_output(
            [cli, "--db", central, "server", "stats", "--json"])) if t["team_name"] == TEAM)
        subprocess.check_output([cli, "--db", central, "server", "revoke", device])
        code_again = json.loads(subprocess.check_output(
            [cli, "--db", central, "server", "enroll", "--team", TEAM, "--org", "youth",
             "--province", "38", "--commune", "14758", "--tls-cert", cert, "--json"]))["code"]
        driver.click("#server-change summary")
        driver.type("#reenroll-server", f"https://127.0.0.1:{server_port}")
        driver.type("#reenroll-code", code_again)
        driver.type("#reenroll-fingerprint", fingerprint)
        assert_vietnamese(driver, "settings")
        driver.screenshot("10-settings.png")
        driver.click("#reenroll")
        driver.wait_text("#settings-server-message", "Đã đăng ký lại")
        driver.click("#nav-sync")
        driver.click("#sync-now")
        driver.wait_text("#sync-message", "Đồng bộ xong", timeout=60)
        after = next(t for t in json.loads(subprocess.check_output(
            [cli, "--db", central, "server", "stats", "--json"])) if t["team_name"] == TEAM)
        assert (after["citizens"], after["attendances"], after["records"]) == (
            before["citizens"], before["attendances"], before["records"]), (before, after)

        # A backup for the restore below, then a new passphrase (the old one is refused after).
        backup_file = os.path.join(work, "usb", "sao-luu.sqlite")
        subprocess.check_output([cli, "--db", laptop, "backup", "--out", backup_file])
        driver.click("#nav-settings")
        # A USB stick, as the desktop mounts one (/media/USER/LABEL): the backup goes onto it.
        usb = os.path.join("/media", getpass.getuser(), "SOTAY-E2E-USB")
        try:
            os.makedirs(usb, exist_ok=True)
        except OSError as e:
            usb = None
            print(f"cannot make a stand-in USB stick under /media ({e}): USB backup not checked", file=sys.stderr)
        if usb:
            try:
                driver.click("#backup-usb-find")
                driver.wait_text("#backup-usb", "SOTAY-E2E-USB")
                driver.js("Array.from(document.querySelectorAll('#backup-usb button'))"
                          ".find((b) => b.textContent.includes('SOTAY-E2E-USB')).click();")
                driver.wait_text("#settings-message", "Đã sao lưu vào USB")
                copies = [n for n in os.listdir(usb) if n.startswith("sao-luu-so-tay-")]
                assert len(copies) == 1, copies
                with open(os.path.join(usb, copies[0]), "rb") as f:
                    assert not f.read(16).startswith(b"SQLite format 3"), "the USB backup is not encrypted"
            finally:
                shutil.rmtree(usb, ignore_errors=True)
        driver.click("#passphrase-change summary")
        driver.type("#pass-current", PASSPHRASE)
        driver.type("#pass-new", NEW_PASSPHRASE)
        driver.type("#pass-again", NEW_PASSPHRASE)
        driver.click("#pass-change")
        driver.wait_text("#settings-message", "Đã đổi mật khẩu")

        pid = subprocess.check_output(["pgrep", "-n", "-f", app]).decode().split()[0]
        with open(f"/proc/{pid}/status") as f:
            rss = next(l for l in f if l.startswith("VmRSS")).split()[1]
        web = subprocess.run(["pgrep", "-f", "WebKitWebProcess"], capture_output=True, text=True).stdout.split()
        web_rss = 0
        for p in web:
            try:
                with open(f"/proc/{p}/status") as f:
                    web_rss += int(next(l for l in f if l.startswith("VmRSS")).split()[1])
            except (OSError, StopIteration):
                pass
        print(f"measure: launch to interactive first screen {startup:.2f} s; "
              f"resident memory after the scenario: app {int(rss) // 1024} MiB, "
              f"web processes {web_rss // 1024} MiB")

        # The next start opens on the lock: the old passphrase is refused, the new one opens.
        driver.quit()
        driver.start(app, ["--db", laptop, "--out-dir", out_dir], direct)
        driver.wait_text("#lock", "Mở khóa Sổ Tay")
        driver.type("#passphrase", PASSPHRASE)
        driver.click("#unlock")
        driver.wait_text("#lock-error", "mật khẩu không đúng")
        driver.click("#lock-forgot summary")
        assert_vietnamese(driver, "lock")
        driver.screenshot("08-lock.png")
        driver.type("#passphrase", NEW_PASSPHRASE)
        driver.click("#unlock")
        driver.wait_text("#stat-citizens", "35")

        # A file that is not Sổ Tay data: only the passphrase can tell; the volunteer puts a
        # backup in its place from the lock screen, and the file is kept aside as it was.
        driver.quit()
        damaged = os.path.join(work, "damaged.sqlite")
        with open(damaged, "wb") as f:
            f.write(b"not a database " * 100)
        driver.start(app, ["--db", damaged, "--out-dir", out_dir], direct)
        driver.type("#passphrase", PASSPHRASE)
        driver.click("#unlock")
        driver.wait_text("#lock-error", "không phải dữ liệu Sổ Tay")
        driver.click("#lock-forgot summary")
        driver.type("#restore-passphrase", PASSPHRASE)
        with open(backup_file, "rb") as f:
            backup_bytes = base64.b64encode(f.read()).decode()
        driver.js("const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));"
                  "const dt = new DataTransfer();"
                  "dt.items.add(new File([bytes], 'sao-luu.sqlite'));"
                  "const input = document.querySelector('#restore-file'); input.files = dt.files;"
                  "input.dispatchEvent(new Event('change', {bubbles: true}));", backup_bytes)
        driver.wait_text("#lock-message", "Đã khôi phục")
        aside = next(n for n in os.listdir(work) if n.startswith("damaged.sqlite.truoc-khi-khoi-phuc"))
        with open(os.path.join(work, aside), "rb") as f:
            assert f.read() == b"not a database " * 100, "the damaged file was changed"
        driver.type("#passphrase", PASSPHRASE)
        driver.click("#unlock")
        driver.wait_text("#stat-citizens", "35")

        # A damaged SQLite file: the window says it cannot be opened and offers a restore; the
        # file is left exactly as it was.
        driver.quit()
        broken = os.path.join(work, "broken.sqlite")
        broken_bytes = b"SQLite format 3\0" + b"not a database " * 100
        with open(broken, "wb") as f:
            f.write(broken_bytes)
        driver.start(app, ["--db", broken, "--out-dir", out_dir], direct)
        driver.type("#passphrase", PASSPHRASE)
        driver.type("#passphrase-again", PASSPHRASE)
        driver.click("#unlock")
        driver.wait_text("#unopened", "Không mở được dữ liệu")
        assert "giữ nguyên" in driver.text("#unopened")
        assert "không đọc được" in driver.text("#unopened-reason")
        assert driver.find("#restore-file")
        assert_vietnamese(driver, "unopened")
        driver.screenshot("09-unopened.png")
        with open(broken, "rb") as f:
            assert f.read() == broken_bytes, "the damaged file was changed"
        results["passed"] += 1
    except Exception as e:  # noqa: BLE001 - the runner reports any failure as one failed scenario
        print(f"e2e scenario failed: {e}", file=sys.stderr)
        try:
            with open(os.path.join(work, "tauri-driver.log")) as f:
                print("tauri-driver and app output (last lines):\n" + "".join(f.readlines()[-30:]), file=sys.stderr)
        except OSError:
            pass
        try:
            driver.screenshot("failure.png")
        except Exception:
            pass
        results["failed"] += 1
    finally:
        driver.quit()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)  # tauri-driver must get SIGTERM to stop WebKitWebDriver
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(f"e2e: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
