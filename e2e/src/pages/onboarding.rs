//! Page objects for a new clinic's first steps: the sign-up form, the numbers page (finding and
//! buying a number, the forwarding line) and the guided test call.

use fantoccini::{Client, Locator};

use super::{click_css, click_test_id, poll, text_of, wait_for_test_id, wait_for_text};
use crate::E2eError;

/// The public sign-up form.
pub struct SignUpPage<'a> {
    client: &'a Client,
}

/// What a new owner types into the sign-up form.
pub struct NewClinic<'a> {
    pub clinic: &'a str,
    /// The kind of business's value (`dental`, `trade`, `other`); empty: left as the form has it.
    pub kind: &'a str,
    pub owner: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

impl<'a> SignUpPage<'a> {
    /// Opens the sign-up page at `base_url` and waits for its form.
    pub async fn open(client: &'a Client, base_url: &str) -> Result<Self, E2eError> {
        client.goto(&format!("{base_url}sign-up")).await?;
        wait_for_test_id(client, "sign-up-form").await?;
        Ok(Self { client })
    }

    /// Replaces what the form holds with `clinic`'s details.
    pub async fn fill(&self, clinic: &NewClinic<'_>) -> Result<(), E2eError> {
        for (id, text) in [
            ("clinic-name", clinic.clinic),
            ("owner-name", clinic.owner),
            ("owner-email", clinic.email),
            ("owner-password", clinic.password),
        ] {
            let input = self.client.find(Locator::Id(id)).await?;
            input.clear().await?;
            input.send_keys(text).await?;
        }
        if !clinic.kind.is_empty() {
            let option = format!(
                "[data-testid=clinic-kind] option[value=\"{}\"]",
                clinic.kind
            );
            click_css(self.client, &option).await?;
        }
        Ok(())
    }

    /// What the form says of the password typed so far.
    pub async fn password_rule(&self) -> Result<String, E2eError> {
        text_of(self.client, "password-rule").await
    }

    /// Ticks the acceptance of the terms and the privacy notice.
    pub async fn accept_terms(&self) -> Result<(), E2eError> {
        click_test_id(self.client, "accept-terms").await
    }

    /// Submits the form.
    pub async fn submit(&self) -> Result<(), E2eError> {
        click_test_id(self.client, "sign-up").await
    }

    /// Waits for the form to say why it was refused, in words that `accept`s.
    pub async fn refusal(&self, accept: impl Fn(&str) -> bool) -> Result<String, E2eError> {
        wait_for_text(self.client, "[data-testid=\"sign-in-error\"]", &accept).await?;
        text_of(self.client, "sign-in-error").await
    }
}

/// The setup checklist on the overview.
pub struct SetupChecklist<'a> {
    client: &'a Client,
}

impl<'a> SetupChecklist<'a> {
    /// Waits until the checklist shows.
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        wait_for_test_id(client, "setup-checklist").await?;
        Ok(Self { client })
    }

    /// Whether step `id` (e.g. `texting-number`) is ticked.
    pub async fn done(&self, id: &str) -> Result<bool, E2eError> {
        let step = wait_for_test_id(self.client, &format!("step-{id}")).await?;
        Ok(step.attr("data-done").await?.as_deref() == Some("true"))
    }

    /// Follows step `id`'s link.
    pub async fn follow(&self, id: &str) -> Result<(), E2eError> {
        click_css(self.client, &format!("[data-testid=\"step-{id}\"] a")).await
    }
}

/// The phone numbers page.
pub struct NumbersPage<'a> {
    client: &'a Client,
}

impl<'a> NumbersPage<'a> {
    /// Waits until the clinic's numbers show.
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        wait_for_test_id(client, "held-numbers").await?;
        Ok(Self { client })
    }

    /// Searches the numbers for sale; returns the country's texting rules as shown.
    pub async fn find_numbers(&self) -> Result<String, E2eError> {
        click_test_id(self.client, "search-numbers").await?;
        wait_for_test_id(self.client, "buy-number").await?;
        text_of(self.client, "texting-rules").await
    }

    /// Buys the first number offered; returns what the page then says.
    pub async fn buy_first(&self) -> Result<String, E2eError> {
        let held = self.held().await?;
        click_test_id(self.client, "buy-number").await?;
        // The page asks first: the number is billed every month.
        self.client.accept_alert().await?;
        let said = self.changed(|said| said.contains("is yours")).await?;
        // The page says so as the list of numbers starts loading again; the forwarding form is
        // drawn anew with it, so wait for the list to hold the number.
        poll(async || {
            let now = self.held().await?;
            Ok(if now > held {
                Ok(())
            } else {
                Err(format!(
                    "the page lists {now} numbers after buying, as before"
                ))
            })
        })
        .await?;
        Ok(said)
    }

    /// How many numbers the page lists now.
    async fn held(&self) -> Result<usize, E2eError> {
        Ok(self
            .client
            .find_all(Locator::Css("[data-testid=held-number]"))
            .await?
            .len())
    }

    /// Sets the forwarding line to `number`; returns what the page then says.
    pub async fn set_forwarding_line(&self, number: &str) -> Result<String, E2eError> {
        let input = wait_for_test_id(self.client, "forwarding-line").await?;
        input.send_keys(number).await?;
        click_test_id(self.client, "save-forwarding").await?;
        self.changed(|said| said.contains("ring through")).await
    }

    /// Opens the guided test call.
    pub async fn open_test_call(&self) -> Result<TestCallPage<'a>, E2eError> {
        click_test_id(self.client, "to-test-call").await?;
        wait_for_test_id(self.client, "test-call-ask").await?;
        Ok(TestCallPage {
            client: self.client,
        })
    }

    /// Waits for the page to say what changed, in words that `accept`s.
    async fn changed(&self, accept: impl Fn(&str) -> bool) -> Result<String, E2eError> {
        wait_for_text(self.client, "[data-testid=\"numbers-changed\"]", &accept).await?;
        text_of(self.client, "numbers-changed").await
    }
}

/// The guided test call.
pub struct TestCallPage<'a> {
    client: &'a Client,
}

impl TestCallPage<'_> {
    /// What the page asks the owner to do.
    pub async fn ask(&self) -> Result<String, E2eError> {
        text_of(self.client, "test-call-ask").await
    }

    /// Whether it is waiting for the call.
    pub async fn waiting(&self) -> Result<bool, E2eError> {
        Ok(self
            .client
            .find(Locator::Css("[data-testid=\"test-call-waiting\"]"))
            .await
            .is_ok())
    }

    /// Waits (without reloading) until the call shows as arrived; returns what it says.
    pub async fn arrival(&self) -> Result<String, E2eError> {
        text_of(self.client, "test-call-arrived").await
    }

    /// Waits until the text-back's state reads as `accept`s; returns it.
    pub async fn text_back(&self, accept: impl Fn(&str) -> bool) -> Result<String, E2eError> {
        poll(async || {
            let shown = match self
                .client
                .find(Locator::Css("[data-testid=\"test-call-text-back\"]"))
                .await
            {
                Ok(line) => line.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            Ok(if accept(&shown) {
                Ok(shown)
            } else {
                Err(format!("the text-back reads {shown:?}"))
            })
        })
        .await
    }

    /// Waits until the page says the step is done.
    pub async fn step_done(&self) -> Result<String, E2eError> {
        text_of(self.client, "test-call-step-done").await
    }
}

/// The first words of the first conversation the open inbox lists.
pub async fn first_inbox_preview(client: &Client) -> Result<String, E2eError> {
    text_of(client, "conversation-preview").await
}

/// The unread count beside the inbox link in the navigation.
pub async fn unread_in_navigation(client: &Client) -> Result<String, E2eError> {
    text_of(client, "inbox-unread").await
}
