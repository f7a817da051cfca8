//! An empty Tauri 2 window: a blank page, no commands, no plugins. The memory baseline that
//! `benches/citizens_screen.py` measures beside the app, in the same run (issue #13).
//! `cargo build --release -p sotay-app --example empty_window`

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!(
            "examples/empty-window/tauri.conf.json"
        ))
        .expect("the empty window runs");
}
