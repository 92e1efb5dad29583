//! Relay-compatible dynamic sampling: parse sampling configs, match rules against events and
//! dynamic sampling contexts, and decide keep or drop with a trace-seeded random value.

pub mod api;
pub mod compiled;
pub mod condition;
pub mod config;
pub mod decision;
pub mod dsc;
pub mod envelope;
pub mod evaluation;
pub mod event;
pub mod field;
pub mod glob;
pub mod instance;
pub mod json;
pub mod normalize;
pub mod plan;
pub mod random;
pub mod reservoir;
pub mod shape;
pub mod store;
pub mod value;

pub use compiled::CompiledConfig;
pub use config::{ConfigError, SamplingConfig};
pub use decision::{decide, DecisionInput, ItemType, Outcome, Scratch};
pub use dsc::Dsc;
pub use evaluation::{Decision, Stage};
pub use event::EventView;
