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

    /// Types `number` into the number check with `region` selected and returns the reading once
    /// it appears.
    pub async fn check_number(&self, region: &str, number: &str) -> Result<String, E2eError> {
        let select = self.client.find(Locator::Id("number-check-region")).await?;
        select.select_by_value(region).await?;
        let input = self.client.find(Locator::Id("number-check-input")).await?;
        input.clear().await?;
        input.send_keys(number).await?;
        let result = self.wait_for_test_id("number-check-result").await?;
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let text = result.text().await?;
            if !text.is_empty() {
                return Ok(text);
            }
            if std::time::Instant::now() > deadline {
                return Err(E2eError::Assertion(
                    "the number check never answered".to_owned(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
