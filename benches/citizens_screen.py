#!/usr/bin/env python3
"""Benchmark (not a test) of the desktop app at 10,000 people, in the real app under Xvfb over
WebDriver: the time from a click on "Người dân" until the list is drawn, from a typed search
until the list and its count are redrawn, and from clearing the search until the register is
back; and the time to open the home screen. Each is measured inside the page (performance.now()
around the event, until the DOM shows the answer), median of several runs. Then: the cold start
(a new app process until the home screen shows the register's count), an import of 10,000 more
people through the import screen (preview, then commit), and the memory of every app process
(PSS of the app and its WebKit processes) at the end, beside an empty Tauri 2 window's measured
the same way in the same run (the `empty_window` example of src-tauri).

Usage: benches/citizens_screen.py TARGET_DIR [PEOPLE]   (where sotay and sotay-app were built)
"""

import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "ui_scenario", os.path.join(HERE, "..", "tests", "e2e", "ui_scenario.py"))
ui = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ui)

# Runs `act` (JS statements) and waits, in the page, until `check` (a JS expression) holds and
# the frame showing it is painted. The page's CSP forbids eval, so both are written into the
# script that WebDriver injects.
MEASURE = """
const done = arguments[arguments.length - 1];
const t0 = performance.now();
{act}
const poll = () => {{
  if ({check}) {{
    requestAnimationFrame(() => done(performance.now() - t0));
  }} else {{
    setTimeout(poll, 1);
  }}
}};
poll();
"""


def measure(driver, act, check, *args):
    """`act` may read `args` as arguments[0], arguments[1], …"""
    script = MEASURE.format(act=act, check=check)
    return driver.call("POST", "/execute/async", {"script": script, "args": list(args)})


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def process_tree(root):
    """`root` and every process below it, each with its command name."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/comm") as f:
                tree.append((pid, f.read().strip()))
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return tree


def app_pid(app):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == app:
                    return int(entry)
            except OSError:
                pass
    return None


def tree_pss(pid):
    """KiB of PSS of `pid` and of the processes below it (WebKit's), with their names."""
    tree = process_tree(pid)
    own = sum(pss_kib(p) for p, _ in tree if p == pid)
    others = sum(pss_kib(p) for p, _ in tree if p != pid)
    return own, others, ", ".join(sorted({name for p, name in tree if p != pid}))


def app_pss(app):
    """`tree_pss` of the running app; None when it is not running."""
    pid = app_pid(os.path.realpath(app))
    return tree_pss(pid) if pid else None


def empty_window_pss(binary, env, *args):
    """KiB of PSS of an empty Tauri 2 window (the `empty_window` example, given `args`) and of
    its WebKit processes, once its page is shown and has settled; None when it was not built."""
    if not os.path.exists(binary):
        print(f"(no {binary}: build it with `cargo build --release -p sotay-app --example empty_window`)")
        return None
    window = subprocess.Popen([binary, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not any(
                name.startswith("WebKitWeb") for _, name in process_tree(window.pid)):
            time.sleep(0.1)
        # The page is blank: a few seconds are ample for it to load and the processes to settle.
        time.sleep(3)
        return tree_pss(window.pid)[:2]
    finally:
        window.terminate()
        window.wait(timeout=10)


def cold_start(driver, app, args):
    """Seconds from asking for a new app window until its first screen (the passphrase) takes
    input."""
    t0 = time.perf_counter()
    driver.start(app, args)
    while True:
        try:
            if driver.js("return !!document.querySelector('#passphrase')"):
                return time.perf_counter() - t0
        except RuntimeError:
            pass
        time.sleep(0.01)


def unlock(driver, people):
    """Milliseconds from the passphrase given until the home screen shows the register."""
    driver.type("#passphrase", ui.PASSPHRASE)
    return measure(driver, "document.querySelector('#unlock').click();",
                   "(document.querySelector('#stat-citizens')?.innerText || '')"
                   f".replace(/[.,\\s]/g, '') === '{people}'")


def register_csv(people):
    families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
    middles = ["Văn", "Thị", "Ngọc", "Minh", "Hồng", "Đức", "Thu", "Quang"]
    givens = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hạnh", "Hùng", "Lan", "Long", "Mai", "Nam",
              "Oanh", "Phúc", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Uyên", "Vân", "Yến"]
    lines = ["Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại"]
    for i in range(people):
        name = f"{families[i % 12]} {middles[(i // 12) % 8]} {givens[(i // 96) % 22]}"
        lines.append(f"{name},{'Nữ' if i % 2 else 'Nam'},{1940 + i % 60},Thôn {i % 40},09{i:08d}")
    return "\n".join(lines) + "\n"


def main():
    target = os.path.abspath(sys.argv[1])
    people = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    app, cli = os.path.join(target, "sotay-app"), os.path.join(target, "sotay")
    work = tempfile.mkdtemp(prefix="sotay-bench-")
    procs = []
    driver = ui.WebDriver(ui.free_port())
    try:
        # The CLI reads the laptop's passphrase from here; the app asks on its lock screen.
        os.environ["SOTAY_PASSPHRASE"] = ui.PASSPHRASE
        laptop = os.path.join(work, "laptop.sqlite")
        subprocess.check_output([cli, "--db", laptop, "init", "--team", "Đội bench", "--org", "youth",
                                 "--province", "38", "--commune", "14758", "--volunteer", "Lê Thị Hoa"])
        csv = os.path.join(work, "danh-sach.csv")
        with open(csv, "w") as f:
            f.write(register_csv(people))
        # Namesakes are possible duplicates; every row is a person here, so all are added.
        subprocess.check_output([cli, "--db", laptop, "citizen", "import", csv,
                                 "--consent-by", "Cán bộ xã", "--consent-date", "01/11/2025"] +
                                [f"--add-anyway={r}" for r in range(2, people + 2)])

        env = dict(os.environ)
        env["TAURI_WEBVIEW_AUTOMATION"] = "true"
        if not env.get("DISPLAY"):
            procs.append(subprocess.Popen(["Xvfb", ":96", "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            env["DISPLAY"] = ":96"
            time.sleep(1)
        port = int(driver.base.rsplit(":", 1)[1])
        tauri_driver = shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver")
        procs.append(subprocess.Popen([tauri_driver, "--port", str(port), "--native-driver",
                                       "/usr/bin/WebKitWebDriver"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ui.wait_port(port)
        args = ["--db", laptop, "--out-dir", os.path.join(work, "out")]
        starts, unlocks = [], []
        for _ in range(5):
            starts.append(cold_start(driver, app, args))
            unlocks.append(unlock(driver, people))
            driver.quit()
        driver.start(app, args)
        unlock(driver, people)
        driver.find("#nav-citizens")
        count = "(document.querySelector('#citizen-count')?.innerText || '')"
        rows = "document.querySelectorAll('#citizen-list tbody tr').length"
        search = ("const e = document.querySelector('#citizen-search'); e.value = '{}';"
                  "e.dispatchEvent(new Event('input', {{bubbles: true}}));")
        everyone = f"{count}.startsWith('{people} ')"
        # "nguyen van an": the Nguyễn Văn An of the generated register.
        matching = sum(1 for i in range(people) if i % 12 == 0 and (i // 12) % 8 == 0 and (i // 96) % 22 == 0)
        filtered = f"{count}.startsWith('{matching} ') && {rows} === {min(matching, 50)}"
        results = {"show the screen (click “Người dân”)": [], "filter (type “nguyen van an”)": [],
                   "clear the search": [], "open the home screen": []}
        for _ in range(5):
            driver.click("#nav-home")
            driver.find("#stat-citizens")
            results["show the screen (click “Người dân”)"].append(measure(
                driver, "document.querySelector('#nav-citizens').click();", f"{rows} > 0 && {everyone}"))
            results["filter (type “nguyen van an”)"].append(measure(
                driver, search.format("nguyen van an"), filtered))
            results["clear the search"].append(measure(
                driver, search.format(""), f"{everyone} && {rows} === 50"))
            results["open the home screen"].append(measure(
                driver, "document.querySelector('#nav-home').click();",
                f"(document.querySelector('#stat-citizens')?.innerText || '') === '{people}'"))
        # The first round follows the app's start: the register's order is built then.
        print(f"| citizens screen, {people} people | median of 5 (ms) | first, cold (ms) |")
        print("| --- | --- | --- |")
        for what, times in results.items():
            print(f"| {what} | {statistics.median(times):.0f} | {times[0]:.0f} |")
        print(f"\ncold start to the first screen taking input (the passphrase; WebDriver session "
              f"start included): median {statistics.median(starts) * 1000:.0f} ms of 5 "
              f"({', '.join(f'{s * 1000:.0f}' for s in starts)})")
        print(f"unlock to the home screen showing {people} people: median "
              f"{statistics.median(unlocks):.0f} ms of 5 ({', '.join(f'{u:.0f}' for u in unlocks)})")

        before_import = app_pss(app)
        if before_import:
            print(f"memory (PSS) before the import: app {before_import[0] / 1024:.0f} MiB, its other "
                  f"processes {before_import[1] / 1024:.0f} MiB")

        # An import of as many new people through the import screen: the preview, then the
        # commit, each from the volunteer's action until the screen shows the outcome.
        driver.click("#nav-citizens")
        for field, value in [("#import-consent-by", "Cán bộ xã"), ("#import-consent-date", "01/11/2025")]:
            driver.js("const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                      "e.dispatchEvent(new Event('input', {bubbles: true}));", field, value)
        lines = ["Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại"]
        lines += [f"Lò Thị Người{i},Nữ,{1940 + i % 60},Bản Mới {i % 40},09{people + i:08d}"
                  for i in range(people)]
        more = "\n".join(lines) + "\n"
        digits = "(document.querySelector('{}')?.innerText || '').replace(/[.,\\s]/g, '')"
        preview = measure(
            driver,
            "const dt = new DataTransfer();"
            "dt.items.add(new File([arguments[0]], 'them.csv', {type: 'text/csv'}));"
            "const input = document.querySelector('#import-file'); input.files = dt.files;"
            "input.dispatchEvent(new Event('change', {bubbles: true}));",
            f"{digits.format('#import-preview')}.includes('{people}ngườimới')", more)
        commit = measure(
            driver, "document.querySelector('#import-commit').click();",
            f"{digits.format('#citizens-message')}.includes('Đãnhập{people}người')")
        print(f"import of {people} new people in the app: preview {preview:.0f} ms, "
              f"commit {commit:.0f} ms, together {preview + commit:.0f} ms")

        after = app_pss(app)
        # PSS divides a shared library's pages among the processes mapping them: the empty
        # window is measured alone, once the app has exited, as the app was.
        driver.quit()
        deadline = time.time() + 30
        while app_pid(os.path.realpath(app)):
            if time.time() > deadline:
                raise RuntimeError(f"{app} still runs 30 s after its session ended")
            time.sleep(0.1)
        if after:
            own, webkit, names = after
            print(f"memory (PSS) after the scenario: app {own / 1024:.0f} MiB, its other processes "
                  f"({names}) {webkit / 1024:.0f} MiB, together {(own + webkit) / 1024:.0f} MiB")
            binary = os.path.join(target, "examples", "empty_window")
            for what, args in [("as Tauri makes it", []),
                               ("given the app's web view settings (--like-app)", ["--like-app"])]:
                empty = empty_window_pss(binary, env, *args)
                if empty:
                    print(f"an empty Tauri 2 window {what}, same run: {empty[0] / 1024:.0f} MiB + its "
                          f"other processes {empty[1] / 1024:.0f} MiB = {sum(empty) / 1024:.0f} MiB; "
                          f"the app is {(own + webkit) / sum(empty):.2f} × that")
    finally:
        driver.quit()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
