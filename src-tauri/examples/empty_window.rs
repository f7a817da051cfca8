//! An empty Tauri 2 window: a blank page, no commands, no plugins. The memory baseline that
//! `benches/citizens_screen.py` measures beside the app, in the same run (issue #13).
//! With `--like-app`, its web view gets the app's own settings (`sotay_app_lib::webview`), so
//! the bench can also compare like with like.
//! `cargo build --release -p sotay-app --example empty_window`

fn main() {
    let like_app = std::env::args().any(|a| a == "--like-app");
    tauri::Builder::default()
        .setup(move |app| {
            if like_app {
                sotay_app_lib::webview::lighten(app);
            }
            Ok(())
        })
        .run(tauri::generate_context!(
            "examples/empty-window/tauri.conf.json"
        ))
        .expect("the empty window runs");
}
