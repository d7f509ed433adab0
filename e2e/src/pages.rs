//! Page objects: what a test may read or do on each dashboard page, by role and test id, so tests
//! read like what a user does and survive markup changes.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::E2eError;

/// How long to wait for something the page is expected to show.
const WAIT: Duration = Duration::from_secs(20);

/// The status page (the dashboard's first page).
pub struct StatusPage<'a> {
    client: &'a Client,
}

impl<'a> StatusPage<'a> {
    /// Opens the dashboard at `base_url` and waits for the server facts to render.
    pub async fn open(client: &'a Client, base_url: &str) -> Result<Self, E2eError> {
        client.goto(base_url).await?;
        let page = Self { client };
        page.wait_for_test_id("server-info").await?;
        Ok(page)
    }

    async fn wait_for_test_id(
        &self,
        test_id: &str,
    ) -> Result<fantoccini::elements::Element, E2eError> {
        let selector = format!("[data-testid=\"{test_id}\"]");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&selector))
            .await
            .map_err(|e| E2eError::Assertion(format!("{test_id} never appeared: {e}")))
    }

    /// The visible text of the element with `test_id`.
    pub async fn text_of(&self, test_id: &str) -> Result<String, E2eError> {
        Ok(self.wait_for_test_id(test_id).await?.text().await?)
    }
}
