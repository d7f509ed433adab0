//! Identifiers shared by every layer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A clinic (tenant) identifier. Its 16 UUID bytes, in RFC 4122 order, are the tenant binding in
/// caller-key derivation and in sealed values' associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClinicId(pub Uuid);

impl ClinicId {
    /// The 16 bytes of the UUID in RFC 4122 (big-endian) order.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for ClinicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ClinicId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(ClinicId)
    }
}
