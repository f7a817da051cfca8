//! The UI's `bindings.ts` must be exactly what the Rust types generate.

use std::path::Path;

#[test]
fn ui_bindings_match_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts");
    let generated = sotay_application::bindings::typescript();
    if std::env::var_os("SOTAY_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/lib/bindings.ts is stale: run SOTAY_UPDATE_BINDINGS=1 cargo test -p sotay-application --test bindings"
    );
}
