//! Many laptops' worth of stores opened at once in one process (as the test suites and the
//! server's tests do): every one of them must open, whatever SQLCipher does on other threads.

use sotay_core::{Passphrase, Store};

#[test]
fn stores_opened_on_many_threads_at_once_all_open() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for thread in 0..8 {
            let dir = dir.path();
            s.spawn(move || {
                for n in 0..4 {
                    let path = dir.join(format!("{thread}-{n}.sqlite"));
                    Store::open(&path, &Passphrase::new("hoa sen trắng"))
                        .unwrap_or_else(|e| panic!("store {thread}-{n}: {e}"));
                }
            });
        }
    });
}
