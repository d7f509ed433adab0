//! Which phone numbers the deployment's provider account holds. A clinic's number routes calls,
//! receives texts and sends them only once the account is shown to hold it, so nobody can claim a
//! number that is not ours to give.

use crate::sms::ProviderFuture;

/// The provider account's list of numbers, asked one number at a time.
pub trait NumberDirectory: Send + Sync {
    /// Whether the account holds `e164` (a number in E.164 form).
    fn holds<'a>(&'a self, e164: &'a str) -> ProviderFuture<'a, bool>;
}
