//! Adapters: implementations of the ports and glue to transports.

#[cfg(feature = "apigw")]
pub mod apigw;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod memory;
pub mod sockets;
