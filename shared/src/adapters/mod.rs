//! Adapters: implementations of the ports and glue to transports.

pub mod memory;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "apigw")]
pub mod apigw;
