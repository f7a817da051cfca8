//! The one error type crossing into the web view: the application layer's `{kind, message}`
//! (with the fields of a refused form, or the report of a refused import), where `kind` is stable
//! for the UI to react to and `message` is Vietnamese text shown as is.

use serde::Serialize;
use sotay_application::{AppError, ErrorPayload};

#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct CommandError(pub ErrorPayload);

impl From<AppError> for CommandError {
    fn from(e: AppError) -> Self {
        CommandError(e.into())
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
