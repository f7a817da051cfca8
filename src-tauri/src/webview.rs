//! How the window's web view is set up beyond Tauri's defaults: on Linux, WebKitGTK without
//! accelerated compositing and with the document viewer's cache model.
//!
//! Why: Sổ Tay's screens are forms and tables; nothing on them needs the GPU. With compositing
//! on, WebKitGTK on a laptop without a usable GPU driver (and under Xvfb) renders through Mesa's
//! llvmpipe, which costs the web process ~140 MiB and the window its GL context; the document
//! viewer cache model keeps no page or resource caches for a page that is only ever this one
//! bundled app (docs/benchmarks.md, issue #13).

/// Applies the settings to the web view of `app`'s main window (on other platforms: nothing to
/// do). Called from the setup hook, once the configured window exists.
pub fn lighten<R: tauri::Runtime>(app: &tauri::App<R>) {
    use tauri::Manager;
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        let _ = window.with_webview(|webview| {
            use webkit2gtk::{
                CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
            };
            let view = webview.inner();
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
