#!/usr/bin/env bash
# Checks the Windows installer as a volunteer's laptop would meet it, under Wine (Debian's wine):
#   1. every DLL the two executables import is a Windows system DLL or ships in the installer;
#   2. a silent install (/S) puts the app, the CLI, the WebView2 loader, the shortcuts and the
#      uninstall entry where they belong, without administrator rights;
#   3. the installed CLI runs and keeps its data in %APPDATA%\Binh dan hoc vu so\sotay;
#   4. installing again upgrades in place;
#   5. the silent uninstaller removes the program and keeps the data; /PURGE removes the data too.
# Usage: tests/windows/installer_check.sh INSTALLER.exe RELEASE_DIR   (run under xvfb-run)
set -euo pipefail
installer=$(realpath "$1")
release=$(realpath "$2")
passed=0
failed=0
ok() { echo "  ok: $*"; passed=$((passed + 1)); }
bad() { echo "  FAILED: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

echo "Windows installer: $(basename "$installer"), $(du -k "$installer" | cut -f1) KiB"

# 1. Imports. System DLLs of Windows 10/11 (lower case) and api-ms-win-* API sets.
system_dlls=" kernel32.dll user32.dll gdi32.dll advapi32.dll shell32.dll ole32.dll oleaut32.dll
 comctl32.dll comdlg32.dll ws2_32.dll bcrypt.dll bcryptprimitives.dll ntdll.dll crypt32.dll
 secur32.dll userenv.dll shlwapi.dll dwmapi.dll uxtheme.dll version.dll winmm.dll imm32.dll
 setupapi.dll propsys.dll dbghelp.dll msvcrt.dll opengl32.dll gdiplus.dll iphlpapi.dll dnsapi.dll
 ncrypt.dll powrprof.dll winspool.drv wininet.dll urlmon.dll msimg32.dll d2d1.dll d3d11.dll
 dxgi.dll dwrite.dll windowscodecs.dll hid.dll cfgmgr32.dll rpcrt4.dll normaliz.dll wtsapi32.dll
 netapi32.dll psapi.dll winhttp.dll shcore.dll oleacc.dll uiautomationcore.dll
 synchronization.dll ucrtbase.dll combase.dll "
system_dlls=" $(echo $system_dlls) "
shipped=" webview2loader.dll "
for exe in sotay-app.exe sotay.exe; do
  while read -r dll; do
    lower=$(echo "$dll" | tr '[:upper:]' '[:lower:]')
    if [[ "$system_dlls" == *" $lower "* || "$lower" == api-ms-win-* ]]; then
      continue
    elif [[ "$shipped" == *" $lower "* ]]; then
      ok "$exe imports $dll, shipped in the installer"
    else
      bad "$exe imports $dll, neither a Windows system DLL nor shipped"
    fi
  done < <(x86_64-w64-mingw32-objdump -p "$release/$exe" | awk '/DLL Name:/ {print $3}')
done
check "the app is a GUI program (no console window behind it)" \
  bash -c "x86_64-w64-mingw32-objdump -p '$release/sotay-app.exe' | grep -q 'Subsystem.*Windows GUI'"

# 2–5. Under Wine (64-bit only), in a prefix and a home of our own.
work=$(mktemp -d)
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export HOME="$work/home" WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$HOME"
wine wineboot --init >/dev/null 2>&1
wineserver -w
# Wine 8 lacks a DLL every Windows 10/11 has (see bcryptprimitives_stub.c): give the prefix one.
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$(dirname "$0")/bcryptprimitives_stub.c" -lbcrypt
user_dir="$WINEPREFIX/drive_c/users/$(whoami)"
program="$user_dir/AppData/Local/Programs/So Tay"
start_menu="$user_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Sổ Tay"
data="$user_dir/AppData/Roaming/Binh dan hoc vu so/sotay"
# Wine links the Windows desktop to $HOME; -e follows the link.
desktop_link() { [ -e "$user_dir/Desktop/Sổ Tay.lnk" ] && echo "$user_dir/Desktop/Sổ Tay.lnk" || true; }
run() { wine "$@"; wineserver -w; }

run "$installer" /S
for f in sotay-app.exe sotay.exe WebView2Loader.dll uninstall.exe; do
  check "installed $f" test -f "$program/$f"
done
check "Start-menu shortcut “Sổ Tay”" test -f "$start_menu/Sổ Tay.lnk"
check "Start-menu shortcut to uninstall" test -f "$start_menu/Gỡ cài đặt Sổ Tay.lnk"
check "desktop shortcut “Sổ Tay”" test -n "$(desktop_link)"
check "uninstall entry in Windows settings" \
  bash -c 'wine reg query "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\SoTay" /v DisplayName 2>/dev/null | grep -q "S"'

out=$(SOTAY_PASSPHRASE="hoa sen trắng" wine "C:\\users\\$(whoami)\\AppData\\Local\\Programs\\So Tay\\sotay.exe" init \
  --team "Đội TNTN xã Thử" --org youth --province 38 --commune 14758 --volunteer "Lê Thị Hoa" 2>&1 || true)
wineserver -w
check "the installed CLI runs: ${out//$'\n'/ }" grep -q "Đã khởi tạo đội" <<<"$out"
check "data kept in %APPDATA%\\Binh dan hoc vu so\\sotay\\data" test -f "$data/data/sotay.sqlite"
check "the data is encrypted (SQLCipher)" bash -c "! head -c 15 '$data/data/sotay.sqlite' | grep -q 'SQLite format'"

echo "an older version" > "$program/sotay.exe"
run "$installer" /S
check "installing again replaces the program in place" \
  cmp -s "$program/sotay.exe" "$(dirname "$installer")/stage/sotay.exe"
check "one uninstall entry after the upgrade" \
  bash -c 'test "$(wine reg query "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall" 2>/dev/null | grep -c SoTay)" = 1'

run "$program/uninstall.exe" /S
sleep 2
wineserver -w
check "uninstall removes the program" test ! -e "$program/sotay-app.exe"
check "uninstall removes the Start-menu shortcuts" test ! -e "$start_menu/Sổ Tay.lnk"
check "uninstall removes the desktop shortcut" test -z "$(desktop_link)"
check "uninstall keeps the volunteer's data" test -f "$data/data/sotay.sqlite"

run "$installer" /S
run "$program/uninstall.exe" /S /PURGE
sleep 2
wineserver -w
check "uninstall /PURGE removes the data" test ! -e "$data"

echo "installer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
