//! sluicegate: an embedded LLM gateway. Routes, polices and meters LLM calls in-process, with
//! the same behaviour from Rust, C, Python and Node (the bindings are thin layers over this
//! crate and its JSON-shaped API).
//!
//! ```no_run
//! use sluicegate::{Gateway, CallOptions};
//! let gw = Gateway::from_file("gateway.yaml")?;
//! let request = serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
//! let response = gw.chat_blocking(request, CallOptions::default())?;
//! println!("{} cost ${}", response["choices"][0]["message"]["content"], response["gateway"]["cost_usd"]);
//! # Ok::<(), sluicegate::Error>(())
//! ```

pub mod cache;
mod cancel;
pub mod config;
mod engine;
mod error;
mod gateway;
mod json_path;
pub mod log;
mod meter;
pub mod metrics;
pub mod mock;
mod operation;
mod options;
mod pipeline;
pub mod policy;
pub mod pricing;
pub mod providers;
mod request;
pub mod routing;
pub mod runtime;
pub mod secrets;
mod stream;
pub mod telemetry;
pub mod tokens;
mod usage;

pub use cancel::CancelToken;
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use gateway::{Gateway, Hook};
pub use options::{CallOptions, OPTION_KEYS};
pub use stream::ChatStream;
pub use usage::Usage;

/// The library version (the same in every binding).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
