; Sổ Tay — Windows installer (NSIS 3, built offline by `make windows-installer` with Debian's
; makensis; Tauri's own NSIS bundler downloads a plugin while bundling, so the project owns this).
;
; Per-user: no administrator rights (volunteers' laptops are often managed by someone else).
; Installs to %LOCALAPPDATA%\Programs\So Tay; the data stays in %APPDATA%\Binh dan hoc vu so\sotay
; (where the app keeps it) and survives an uninstall unless the volunteer asks to remove it.
;
; makensis -INPUTCHARSET UTF8 -DVERSION=… -DAPP_EXE=… -DCLI_EXE=… -DLOADER_DLL=… -DICON=… -DOUTFILE=…

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"

!define PRODUCT "Sổ Tay"
!define PUBLISHER "Bình dân học vụ số"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\SoTay"
!define SETTINGS_KEY "Software\Binh dan hoc vu so\SoTay"
; The WebView2 runtime's product code (Evergreen), under EdgeUpdate's client list.
!define WEBVIEW2_GUID "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\So Tay"
; An upgrade installs where the previous version is.
InstallDirRegKey HKCU "${SETTINGS_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=0 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=0 "FileDescription" "${PRODUCT} — cài đặt"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\sotay-app.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Mở Sổ Tay ngay"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "Vietnamese"
!insertmacro MUI_LANGUAGE "English"

Var WebView2Version

; The runtime registers its version per machine (64- or 32-bit view) or per user.
!macro FindWebView2
  StrCpy $WebView2Version ""
  SetRegView 64
  ReadRegStr $WebView2Version HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${If} $WebView2Version == ""
    ReadRegStr $WebView2Version HKLM "SOFTWARE\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
  ${If} $WebView2Version == ""
    ReadRegStr $WebView2Version HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
!macroend

Function .onInit
  StrCpy $LANGUAGE ${LANG_VIETNAMESE}
FunctionEnd

Section "Sổ Tay" SecMain
  SectionIn RO
  ; A running copy would keep its files locked during an upgrade.
  nsExec::Exec 'taskkill /IM sotay-app.exe'
  SetOutPath "$INSTDIR"
  File "/oname=sotay-app.exe" "${APP_EXE}"
  File "/oname=sotay.exe" "${CLI_EXE}"
  File "/oname=WebView2Loader.dll" "${LOADER_DLL}"
  File "/oname=sotay.ico" "${ICON}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS\Sổ Tay"
  CreateShortcut "$SMPROGRAMS\Sổ Tay\Sổ Tay.lnk" "$INSTDIR\sotay-app.exe" "" "$INSTDIR\sotay.ico"
  CreateShortcut "$SMPROGRAMS\Sổ Tay\Gỡ cài đặt Sổ Tay.lnk" "$INSTDIR\uninstall.exe"
  CreateShortcut "$DESKTOP\Sổ Tay.lnk" "$INSTDIR\sotay-app.exe" "" "$INSTDIR\sotay.ico"

  WriteRegStr HKCU "${SETTINGS_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\sotay.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0

  !insertmacro FindWebView2
  ${If} $WebView2Version == ""
  ${OrIf} $WebView2Version == "0.0.0.0"
    DetailPrint "Chưa có Microsoft Edge WebView2 Runtime."
    MessageBox MB_OK|MB_ICONEXCLAMATION "Máy này chưa có Microsoft Edge WebView2 Runtime, thành phần Windows mà Sổ Tay cần để hiển thị.$\r$\n$\r$\nSổ Tay đã được cài, nhưng chỉ mở được sau khi có WebView2. Cách làm: khi có mạng (ví dụ ở trụ sở xã), tải “Evergreen Standalone Installer” (x64) của Microsoft Edge WebView2 Runtime, chép vào USB, rồi chạy nó trên máy này. Windows 10 và 11 cập nhật đầy đủ thường đã có sẵn.$\r$\n$\r$\nThis computer has no Microsoft Edge WebView2 Runtime: install its Evergreen Standalone Installer (x64), then open Sổ Tay." /SD IDOK
  ${Else}
    DetailPrint "WebView2 Runtime $WebView2Version."
  ${EndIf}
SectionEnd

Function un.onInit
  StrCpy $LANGUAGE ${LANG_VIETNAMESE}
FunctionEnd

Section "Uninstall"
  nsExec::Exec 'taskkill /IM sotay-app.exe'
  Delete "$INSTDIR\sotay-app.exe"
  Delete "$INSTDIR\sotay.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\sotay.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Sổ Tay\Sổ Tay.lnk"
  Delete "$SMPROGRAMS\Sổ Tay\Gỡ cài đặt Sổ Tay.lnk"
  RMDir "$SMPROGRAMS\Sổ Tay"
  Delete "$DESKTOP\Sổ Tay.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${SETTINGS_KEY}"

  ; The volunteer's records (and those not yet synced) stay unless asked: /PURGE on the command
  ; line, or "Có" to the question (the default, also in silent mode, is to keep them).
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/PURGE" $1
  ${IfNot} ${Errors}
    RMDir /r "$APPDATA\Binh dan hoc vu so\sotay"
  ${Else}
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "Xóa cả dữ liệu của Sổ Tay trên máy này (danh sách người dân, các buổi hướng dẫn, kể cả những gì chưa đồng bộ)?$\r$\n$\r$\nChọn “Không” để giữ lại: cài lại Sổ Tay sẽ thấy đủ dữ liệu." /SD IDNO IDNO keep
    RMDir /r "$APPDATA\Binh dan hoc vu so\sotay"
    keep:
  ${EndIf}
SectionEnd
