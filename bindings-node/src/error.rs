//! Core errors as JS rejections. napi-rs cannot throw JS `Error` subclasses, so a core error
//! travels as its JSON (`Error::to_json`) behind a fixed prefix, and the JS layer rebuilds it
//! as the matching class (`lib/errors.js`).

use napi::{Error as JsError, Status};
use sluicegate::Error;

/// Marks a rejection whose message is a core error's JSON. Kept in sync with `lib/errors.js`.
pub const PREFIX: &str = "sluicegate-error-json:";

pub fn to_js(error: Error) -> JsError {
    JsError::new(Status::GenericFailure, format!("{PREFIX}{}", error.to_json()))
}

/// A JSON argument from the JS layer that does not parse (the JS layer always sends valid
/// JSON, so this only happens when the native module is called directly).
pub fn bad_json(what: &str, e: serde_json::Error) -> JsError {
    to_js(Error::invalid_request(format!("the {what} is not valid JSON: {e}")))
}

pub fn closed() -> JsError {
    to_js(Error::invalid_request(
        "this gateway is closed; create a new Gateway to make more calls",
    ))
}
