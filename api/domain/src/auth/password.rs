//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), and the rules a new
//! password must meet. Hashing and checking run at most [`AT_ONCE`] at a time, each on a thread
//! of its own, never on the async executor: a few clients looping wrong passwords must not stall
//! every other request (webhooks included). A thread of its own, not the blocking pool: the
//! allocator keeps a thread's 19 MiB of argon2 memory until that thread ends, and a pool thread
//! lingers idle for seconds, so every sign-in left the server that much bigger for a while (two at
//! once, twice that); a thread that ends with its check gives the memory back at once.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use ringback_shared::password as password_rule;

use ringback_core::error::DomainError;
use tokio::sync::Semaphore;

/// Password hashes computed at once; more wait their turn.
pub const AT_ONCE: usize = 2;

/// The permits for password work.
static PASSWORD_WORK: Semaphore = Semaphore::const_new(AT_ONCE);

/// The name of the threads password work runs on.
const THREAD_NAME: &str = "password-work";

/// Runs `work` on a thread of its own once a permit is free; the thread ends with it and holds
/// the permit until then, so even checks whose requests were dropped count towards [`AT_ONCE`].
async fn off_the_executor<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DomainError> {
    let permit = PASSWORD_WORK
        .acquire()
        .await
        .map_err(|_| DomainError::Internal("password work closed".to_owned()))?;
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || {
            let outcome = work();
            drop(permit);
            // The caller may have gone (its request dropped); the result is then unwanted.
            let _ = done.send(outcome);
        })
        .map_err(|e| DomainError::Internal(format!("password work: {e}")))?;
    result
        .await
        .map_err(|_| DomainError::Internal("password work ended without a result".to_owned()))
}

/// Checks a new password against the shared rules, with a message the user can act on.
pub fn validate(password: &str) -> Result<(), DomainError> {
    password_rule::check(password).map_err(|problem| DomainError::BadUserInput(problem.to_string()))
}

/// Hashes `password` with a fresh salt, in PHC string form, off the executor.
pub async fn hash(password: &str) -> Result<String, DomainError> {
    let password = password.to_owned();
    off_the_executor(move || hash_now(&password)).await?
}

/// True when `password` matches the stored `hash`; checked off the executor.
pub async fn verify(password: &str, hash: &str) -> Result<bool, DomainError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    off_the_executor(move || verify_now(&password, &hash)).await
}

fn hash_now(password: &str) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DomainError::Internal(format!("password hashing: {e}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the work of a real check, against a decoy hash, when the account does not exist, so that
/// timing does not reveal which e-mail addresses have accounts.
pub async fn check_decoy(password: &str) -> Result<(), DomainError> {
    let password = password.to_owned();
    off_the_executor(move || {
        verify_now(&password, decoy_hash());
    })
    .await
}

/// The decoy hash [`check_decoy`] checks against.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_now("decoy password for timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = hash("correct horse battery").await.expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery", &stored)
                .await
                .expect("checked")
        );
        assert!(
            !verify("wrong horse battery", &stored)
                .await
                .expect("checked")
        );
        assert!(!verify("anything", "not a hash").await.expect("checked"));
    }

    /// On a single-threaded runtime another task still runs while a password is checked: the
    /// work is not on the executor's only thread.
    #[tokio::test(flavor = "current_thread")]
    async fn password_work_leaves_the_executor_free() {
        let stored = hash_now("correct horse battery").expect("hash");
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ticking = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                ticking.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        assert!(
            verify("correct horse battery", &stored)
                .await
                .expect("checked")
        );
        ticker.abort();
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }

    /// Each check runs on a password thread (which ends with it), never on the blocking pool,
    /// whose threads keep their argon2 memory while they linger.
    #[tokio::test]
    async fn password_work_runs_on_a_thread_of_its_own() {
        let name = off_the_executor(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some(THREAD_NAME));
    }

    #[test]
    fn rules_are_enforced_with_clear_messages() {
        assert!(validate("short").is_err());
        assert!(validate(&"x".repeat(password_rule::MAX_LENGTH + 1)).is_err());
        assert!(validate("long enough now").is_ok());
    }
}
