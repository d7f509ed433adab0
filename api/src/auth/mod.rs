//! Authentication at the edge: who sent an HTTP request ([`request`]), the client address rate
//! limits count by ([`client_address`]) and the limits themselves ([`rate_limit`]). Principals,
//! roles, passwords, sessions and tokens are the domain's ([`ringback_domain::auth`]).

pub mod client_address;
pub mod rate_limit;
pub mod request;

pub use ringback_domain::auth::*;
