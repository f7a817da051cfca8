//! The passphrase that encrypts the laptop's database: where a command gets it
//! (`SOTAY_PASSPHRASE`, else asked on the terminal without echo) and `sotay passphrase change`.

use super::Ctx;
use anyhow::{bail, Context};
use clap::Subcommand;
use sotay_application::{App, DataPaths};
use sotay_core::{DatabaseFile, Passphrase};
use std::io::IsTerminal;

const ENV: &str = "SOTAY_PASSPHRASE";
const NEW_ENV: &str = "SOTAY_NEW_PASSPHRASE";

#[derive(Subcommand)]
pub enum PassphraseCommand {
    /// Re-encrypt the database under a new passphrase (đổi mật khẩu). The current one comes
    /// from SOTAY_PASSPHRASE or is asked; the new one from SOTAY_NEW_PASSPHRASE or is asked twice.
    Change,
}

pub fn run(cmd: PassphraseCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match cmd {
        PassphraseCommand::Change => {
            let paths = DataPaths::resolve(ctx.db.clone(), None);
            let current = typed(ENV, "Mật khẩu hiện tại: ")?;
            let app = App::open(paths, &Passphrase::new(&current))?;
            let new = match std::env::var(NEW_ENV) {
                Ok(new) => new,
                Err(_) => chosen("Mật khẩu mới")?,
            };
            app.change_passphrase(&current, &new)?;
            println!("Đã đổi mật khẩu. Từ nay hãy mở Sổ Tay bằng mật khẩu mới.");
            Ok(())
        }
    }
}

/// The passphrase for the database at `paths`: typed once to unlock it, or chosen (twice) for
/// a new database or one from before encryption, which is then encrypted with it.
pub fn for_database(paths: &DataPaths) -> anyhow::Result<Passphrase> {
    if let Ok(passphrase) = std::env::var(ENV) {
        return Ok(Passphrase::new(&passphrase));
    }
    match App::database_file(paths) {
        DatabaseFile::Locked => Ok(Passphrase::new(&typed(ENV, "Mật khẩu Sổ Tay: ")?)),
        DatabaseFile::New | DatabaseFile::Plain => {
            eprintln!(
                "Dữ liệu của Sổ Tay được mã hóa bằng một mật khẩu do bạn chọn. Hãy ghi nhớ nó: \
                 quên mật khẩu thì chỉ lấy lại được những gì đã đồng bộ lên máy chủ."
            );
            Ok(Passphrase::new(&chosen("Chọn mật khẩu")?))
        }
    }
}

/// The value of `env` when set, else what the volunteer types at the terminal.
pub fn typed(env: &str, prompt: &str) -> anyhow::Result<String> {
    match std::env::var(env) {
        Ok(value) => Ok(value),
        Err(_) => asked(prompt, env),
    }
}

fn asked(prompt: &str, env: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "cần mật khẩu của dữ liệu: đặt biến môi trường {env} hoặc chạy lệnh trong cửa sổ dòng lệnh để nhập"
        );
    }
    rpassword::prompt_password(prompt).context("không đọc được mật khẩu")
}

/// A new passphrase, asked twice so a typo does not lock the volunteer out.
fn chosen(what: &str) -> anyhow::Result<String> {
    let min = sotay_core::protect::MIN_PASSPHRASE_CHARS;
    let first = asked(&format!("{what} (ít nhất {min} ký tự): "), ENV)?;
    Passphrase::choose(&first)?;
    let again = asked("Nhập lại để xác nhận: ", ENV)?;
    if first != again {
        bail!("hai lần nhập mật khẩu không giống nhau; chưa có gì thay đổi");
    }
    Ok(first)
}
