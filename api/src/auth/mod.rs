//! Authentication at the edge: who sent an HTTP request ([`request`]) and the client address rate
//! limits count by ([`client_address`]). Principals, credentials, roles, passwords, sessions, tokens
//! and the rate limits themselves are the domain's ([`ringback_domain::auth`]).

pub mod client_address;
pub mod request;

pub use ringback_domain::auth::*;
