//! Page objects: what a test may read or do on each dashboard page, by label, role and test id, so
//! tests read like what a user does and survive markup changes. Every wait is for a condition,
//! never a fixed sleep.

use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use crate::E2eError;

pub mod onboarding;

/// How long to wait for something the page is expected to show.
const WAIT: Duration = Duration::from_secs(20);

/// Waits for the element with `test_id`.
async fn wait_for_test_id(client: &Client, test_id: &str) -> Result<Element, E2eError> {
    let selector = format!("[data-testid=\"{test_id}\"]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&selector))
        .await
        .map_err(|e| E2eError::Assertion(format!("{test_id} never appeared: {e}")))
}

/// Sets the value of a control a keyboard cannot type into portably (a slider, a date picker)
/// and fires the `input` event a user's change fires.
async fn set_value(
    client: &Client,
    test_id: &str,
    value: serde_json::Value,
) -> Result<(), E2eError> {
    let control = wait_for_test_id(client, test_id).await?;
    client
        .execute(
            "arguments[0].value = arguments[1]; \
             arguments[0].dispatchEvent(new Event('input', { bubbles: true }));",
            vec![
                serde_json::to_value(&control).map_err(|e| E2eError::WebDriver(e.to_string()))?,
                value,
            ],
        )
        .await?;
    Ok(())
}

/// Pause between two looks at a page that is still changing.
const POLL: Duration = Duration::from_millis(100);

/// The text of every element with `test_id` now on the page, in page order.
async fn texts_of_each(client: &Client, test_id: &str) -> Result<Vec<String>, E2eError> {
    let mut texts = Vec::new();
    for element in client
        .find_all(Locator::Css(&format!("[data-testid={test_id}]")))
        .await?
    {
        texts.push(element.text().await?);
    }
    Ok(texts)
}

/// Runs `check` until it yields a value (`Ok(Ok(_))`); each `Ok(Err(why))` means "not yet", and
/// the last such reason is the failure once [`WAIT`] has passed.
async fn poll<T>(
    mut check: impl AsyncFnMut() -> Result<Result<T, String>, E2eError>,
) -> Result<T, E2eError> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let why = match check().await? {
            Ok(value) => return Ok(value),
            Err(why) => why,
        };
        if std::time::Instant::now() > deadline {
            return Err(E2eError::Assertion(why));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the first element matching `selector` shows text that `accept`s.
async fn wait_for_text(
    client: &Client,
    selector: &str,
    accept: impl Fn(&str) -> bool,
) -> Result<(), E2eError> {
    poll(async || {
        let shown = match client.find(Locator::Css(selector)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        Ok(if accept(&shown) {
            Ok(())
        } else {
            Err(format!("{selector} shows {shown:?}"))
        })
    })
    .await
}

/// Clicks the element with `test_id` once it shows.
async fn click_test_id(client: &Client, test_id: &str) -> Result<(), E2eError> {
    wait_for_test_id(client, test_id).await?.click().await?;
    Ok(())
}

/// Types `text` into the control with id `id`.
async fn type_into(client: &Client, id: &str, text: &str) -> Result<(), E2eError> {
    client.find(Locator::Id(id)).await?.send_keys(text).await?;
    Ok(())
}

/// Clicks the first element matching `selector`.
async fn click_css(client: &Client, selector: &str) -> Result<(), E2eError> {
    client.find(Locator::Css(selector)).await?.click().await?;
    Ok(())
}

/// Waits for the link reading `text`: some links (the header's navigation, Billing) are drawn
/// once a request of their own has answered.
async fn wait_for_link(client: &Client, text: &str) -> Result<Element, E2eError> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText(text))
        .await
        .map_err(|e| E2eError::Assertion(format!("no link {text:?} appeared: {e}")))
}

/// Follows the link (in the header, say) reading `text`, once it shows.
async fn follow_link(client: &Client, text: &str) -> Result<(), E2eError> {
    wait_for_link(client, text).await?.click().await?;
    Ok(())
}

/// Keeps every file the page hands the browser from now on (each `URL.createObjectURL` blob) where
/// [`saved_file`] can read it back: the page's security policy lets no script fetch a `blob:`
/// address, and a download would leave the browser.
async fn keep_saved_files(client: &Client) -> Result<(), E2eError> {
    client
        .execute(
            "if (!window.__savedFiles) { \
               window.__savedFiles = {}; \
               const original = URL.createObjectURL; \
               URL.createObjectURL = (blob) => { \
                 const href = original(blob); \
                 window.__savedFiles[href] = blob; \
                 return href; \
               }; \
             }",
            vec![],
        )
        .await?;
    Ok(())
}

/// What the download link `link` saves: its file name, its type and its text (a file kept since
/// [`keep_saved_files`]; a link to anything else reads as unknown).
async fn saved_file(client: &Client, link: &Element) -> Result<(String, String, String), E2eError> {
    let filename = link.attr("download").await?.unwrap_or_default();
    let element = serde_json::to_value(link).map_err(|e| E2eError::WebDriver(e.to_string()))?;
    let read = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const blob = (window.__savedFiles || {})[arguments[0].href]; \
             if (!blob) { done(['', 'not a file the page kept: ' + arguments[0].href]); } \
             else { blob.text().then((text) => done([blob.type, text])); }",
            vec![element],
        )
        .await?;
    let part = |index: usize| read[index].as_str().unwrap_or_default().to_owned();
    Ok((filename, part(0), part(1)))
}

/// The visible text of the element with `test_id`, once it shows.
async fn text_of(client: &Client, test_id: &str) -> Result<String, E2eError> {
    Ok(wait_for_test_id(client, test_id).await?.text().await?)
}

/// The about page: what the server reports about itself.
pub struct StatusPage<'a> {
    client: &'a Client,
}

impl<'a> StatusPage<'a> {
    /// Opens `url` (the about page, or a deep link to it) and waits for the server facts.
    pub async fn open(client: &'a Client, url: &str) -> Result<Self, E2eError> {
        client.goto(url).await?;
        wait_for_test_id(client, "server-info").await?;
        Ok(Self { client })
    }

    /// The visible text of the element with `test_id`.
    pub async fn text_of(&self, test_id: &str) -> Result<String, E2eError> {
        text_of(self.client, test_id).await
    }
}

/// The sign-in form.
pub struct SignInPage<'a> {
    client: &'a Client,
}

impl<'a> SignInPage<'a> {
    /// Waits until the sign-in form shows (after a redirect, say).
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("form.sign-in"))
            .await
            .map_err(|e| E2eError::Assertion(format!("the sign-in form never appeared: {e}")))?;
        Ok(Self { client })
    }

    /// Fills in the form and submits it.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<(), E2eError> {
        type_into(self.client, "email", email).await?;
        type_into(self.client, "password", password).await?;
        click_test_id(self.client, "sign-in").await?;
        Ok(())
    }

    /// Follows "Forgot your password?" to the page that asks for a reset link.
    pub async fn forgot_password(&self) -> Result<ForgotPasswordPage<'a>, E2eError> {
        click_test_id(self.client, "to-forgot-password").await?;
        wait_for_test_id(self.client, "request-reset").await?;
        Ok(ForgotPasswordPage {
            client: self.client,
        })
    }
}

/// The page that asks for a link to choose a new password.
pub struct ForgotPasswordPage<'a> {
    client: &'a Client,
}

impl ForgotPasswordPage<'_> {
    /// Asks for a link for `email`; returns what the page then says.
    pub async fn ask(&self, email: &str) -> Result<String, E2eError> {
        type_into(self.client, "email", email).await?;
        click_test_id(self.client, "request-reset").await?;
        wait_for_test_id(self.client, "reset-requested").await?;
        text_of(self.client, "reset-requested").await
    }
}

/// The page the link of a password-reset mail opens.
pub struct ResetPasswordPage<'a> {
    client: &'a Client,
}

impl<'a> ResetPasswordPage<'a> {
    /// Opens the reset `link` and waits for the form.
    pub async fn open(client: &'a Client, link: &str) -> Result<Self, E2eError> {
        client.goto(link).await?;
        wait_for_test_id(client, "reset-password").await?;
        Ok(Self { client })
    }

    /// Chooses `password` (typed twice) and saves it; the dashboard then signs in.
    pub async fn choose(&self, password: &str) -> Result<(), E2eError> {
        for field in ["new-password", "new-password-again"] {
            type_into(self.client, field, password).await?;
        }
        click_test_id(self.client, "reset-password").await
    }
}

/// Follows the header's link reading `text` without waiting for what it opens.
pub async fn follow_header_link(client: &Client, text: &str) -> Result<(), E2eError> {
    follow_link(client, text).await
}

/// Signs out from the header of whatever page is open and waits for the sign-in page.
pub async fn sign_out(client: &Client) -> Result<SignInPage<'_>, E2eError> {
    click_test_id(client, "sign-out").await?;
    SignInPage::wait(client).await
}

/// Opens the sign-in page at `base_url`, signs in and waits for the overview.
pub async fn sign_in<'a>(
    client: &'a Client,
    base_url: &str,
    email: &str,
    password: &str,
) -> Result<OverviewPage<'a>, E2eError> {
    client.goto(&format!("{base_url}sign-in")).await?;
    SignInPage::wait(client)
        .await?
        .sign_in(email, password)
        .await?;
    OverviewPage::wait(client).await
}

/// The overview of the chosen period.
pub struct OverviewPage<'a> {
    client: &'a Client,
}

impl<'a> OverviewPage<'a> {
    /// Waits until the figures show.
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        wait_for_test_id(client, "overview-figures").await?;
        Ok(Self { client })
    }

    /// The shown value of figure `test_id` (e.g. `figure-missed-calls`).
    pub async fn figure(&self, test_id: &str) -> Result<String, E2eError> {
        text_of(self.client, test_id).await
    }

    /// Waits until figure `test_id` shows a value that `accept`s (after a switch of clinic, say).
    pub async fn wait_for_figure(
        &self,
        test_id: &str,
        accept: impl Fn(&str) -> bool,
    ) -> Result<(), E2eError> {
        wait_for_text(self.client, &format!("[data-testid=\"{test_id}\"]"), accept).await
    }

    /// Chooses the period whose radio button has `test_id` (e.g. `period-last-30-days`).
    pub async fn choose_period(&self, test_id: &str) -> Result<(), E2eError> {
        click_test_id(self.client, test_id).await
    }

    /// Waits until the period shown (`from`, `to`, ISO dates) is one `accept` takes.
    pub async fn wait_for_range(
        &self,
        accept: impl Fn(&str, &str) -> bool,
    ) -> Result<(String, String), E2eError> {
        poll(async || {
            let (from, to) = self.range().await?;
            Ok(if accept(&from, &to) {
                Ok((from, to))
            } else {
                Err(format!("the overview shows {from} to {to}"))
            })
        })
        .await
    }

    /// The period shown, as `(from, to)` ISO dates.
    pub async fn range(&self) -> Result<(String, String), E2eError> {
        let text = text_of(self.client, "overview-range").await?;
        let mut words = text.split_whitespace();
        let from = words.next().unwrap_or_default().to_owned();
        let to = words
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches(',')
            .to_owned();
        Ok((from, to))
    }

    /// The notice of texts not sent, once it shows; following it opens their page.
    pub async fn undelivered_notice(&self) -> Result<String, E2eError> {
        text_of(self.client, "undelivered-notice").await
    }

    /// Follows the notice of texts not sent.
    pub async fn open_undelivered(&self) -> Result<UndeliveredPage<'a>, E2eError> {
        self.client
            .find(Locator::Css("[data-testid=undelivered-notice] a"))
            .await?
            .click()
            .await?;
        UndeliveredPage::wait(self.client).await
    }

    /// Signs out from the header and waits for the sign-in page (until it shows, the session's
    /// cookie may still be there for the next page to find).
    pub async fn sign_out(&self) -> Result<SignInPage<'a>, E2eError> {
        sign_out(self.client).await
    }

    /// Chooses the clinic called `name` in the header and waits until the header shows it.
    pub async fn switch_clinic(&self, name: &str) -> Result<(), E2eError> {
        let option = format!("//select[@data-testid='clinic-switcher']/option[text()='{name}']");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&option))
            .await
            .map_err(|e| E2eError::Assertion(format!("no clinic {name:?} to choose: {e}")))?
            .click()
            .await?;
        wait_for_text(self.client, "[data-testid=signed-in-as]", |shown| {
            shown.ends_with(name)
        })
        .await
    }

    /// Who the header says is signed in.
    pub async fn signed_in_as(&self) -> Result<String, E2eError> {
        text_of(self.client, "signed-in-as").await
    }
}

/// The worklist of callers waiting for a callback.
pub struct WorklistPage<'a> {
    client: &'a Client,
}

impl<'a> WorklistPage<'a> {
    /// Follows the header's link and waits for the list (or its empty state).
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Worklist").await?;
        Self::wait(client).await
    }

    /// Waits for the list (or its empty state), after a redirect, say.
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(
                "[data-testid=worklist], [data-testid=worklist-empty]",
            ))
            .await
            .map_err(|e| E2eError::Assertion(format!("the worklist never appeared: {e}")))?;
        Ok(Self { client })
    }

    /// Waits, touching nothing, until the list shows `caller_key` (the page reloads itself when
    /// something new happens).
    pub async fn wait_for_caller(&self, caller_key: &str) -> Result<(), E2eError> {
        poll(async || {
            Ok(
                if self
                    .caller_keys()
                    .await?
                    .iter()
                    .any(|key| key == caller_key)
                {
                    Ok(())
                } else {
                    Err(format!("{caller_key} never appeared on the open worklist"))
                },
            )
        })
        .await
    }

    /// Puts the keyboard's focus on the dismissal reason of the row of `caller_key`, as someone
    /// working the list by keyboard would.
    pub async fn focus_reason_of(&self, caller_key: &str) -> Result<(), E2eError> {
        let reason = self
            .client
            .find(Locator::Css(&format!(
                "[data-testid=worklist-row][data-caller-key=\"{caller_key}\"] [data-testid=dismiss-reason]"
            )))
            .await?;
        self.client
            .execute(
                "window.__focused = arguments[0]; arguments[0].focus();",
                vec![
                    serde_json::to_value(&reason)
                        .map_err(|e| E2eError::WebDriver(e.to_string()))?,
                ],
            )
            .await?;
        Ok(())
    }

    /// Whether the control focused by [`Self::focus_reason_of`] is still on the page and focused.
    pub async fn focus_kept(&self) -> Result<bool, E2eError> {
        let kept = self
            .client
            .execute(
                "const was = window.__focused; \
                 return !!was && document.contains(was) && document.activeElement === was;",
                vec![],
            )
            .await?;
        Ok(kept.as_bool().unwrap_or(false))
    }

    /// The caller keys of the rows, in order.
    pub async fn caller_keys(&self) -> Result<Vec<String>, E2eError> {
        let rows = self
            .client
            .find_all(Locator::Css("[data-testid=worklist-row]"))
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            keys.push(row.attr("data-caller-key").await?.unwrap_or_default());
        }
        Ok(keys)
    }

    /// Dismisses the row of `caller_key` for the reason whose value is `reason` (for example
    /// `wrong_number`) and waits until the row is gone.
    pub async fn dismiss(&self, caller_key: &str, reason: &str) -> Result<(), E2eError> {
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        self.client
            .find(Locator::Css(&format!(
                "{row} [data-testid=dismiss-reason] option[value={reason}]"
            )))
            .await?
            .click()
            .await?;
        self.client
            .find(Locator::Css(&format!("{row} [data-testid=dismiss]")))
            .await?
            .click()
            .await?;
        self.wait_until_gone(&row, caller_key).await
    }

    /// Turns pages ("Next 50") until the row of `caller_key` shows; fails when no page has it.
    pub async fn find_row(&self, caller_key: &str) -> Result<(), E2eError> {
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        for _ in 0..20 {
            if self.client.find(Locator::Css(&row)).await.is_ok() {
                return Ok(());
            }
            let Ok(next) = self
                .client
                .find(Locator::Css("[data-testid=worklist-next]"))
                .await
            else {
                break;
            };
            let shown = self.first_row_key().await?;
            next.click().await?;
            // The page shown stays until the next one has loaded.
            poll(async || {
                Ok(if self.first_row_key().await? != shown {
                    Ok(())
                } else {
                    Err("the worklist's next page never showed".to_owned())
                })
            })
            .await?;
        }
        Err(E2eError::Assertion(format!(
            "{caller_key} is on no page of the worklist"
        )))
    }

    /// The caller key of the first row shown, if any.
    async fn first_row_key(&self) -> Result<Option<String>, E2eError> {
        match self
            .client
            .find(Locator::Css("[data-testid=worklist-row]"))
            .await
        {
            // A row drawn anew between finding and reading it counts as none yet.
            Ok(row) => Ok(row.attr("data-caller-key").await.ok().flatten()),
            Err(_) => Ok(None),
        }
    }

    /// The masked tail shown on the row of `caller_key`.
    pub async fn tail_of(&self, caller_key: &str) -> Result<String, E2eError> {
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        Ok(self
            .client
            .find(Locator::Css(&format!("{row} [data-testid=worklist-tail]")))
            .await?
            .text()
            .await?)
    }

    /// Types `number` into "Find a caller by number" and waits for the answer that nothing is
    /// held for that caller.
    pub async fn find_nobody(&self, number: &str) -> Result<String, E2eError> {
        type_into(self.client, "find-caller-number", number).await?;
        click_css(self.client, "[data-testid=find-caller] button[type=submit]").await?;
        text_of(self.client, "find-caller-none").await
    }

    /// Types `number` into "Find a caller by number"; returns the caller key of what was found.
    pub async fn find_caller(&self, number: &str) -> Result<String, E2eError> {
        type_into(self.client, "find-caller-number", number).await?;
        click_css(self.client, "[data-testid=find-caller] button[type=submit]").await?;
        Ok(wait_for_test_id(self.client, "find-caller-result")
            .await?
            .attr("data-caller-key")
            .await?
            .unwrap_or_default())
    }

    /// Presses "Call back" on the row of `caller_key`; returns what the page says is ringing.
    pub async fn call_back(&self, caller_key: &str) -> Result<String, E2eError> {
        self.find_row(caller_key).await?;
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        self.client
            .find(Locator::Css(&format!("{row} [data-testid=call-back]")))
            .await?
            .click()
            .await?;
        text_of(self.client, "call-back-ringing").await
    }

    /// Waits until the row of `caller_key` has left the list (it refreshes by itself after a
    /// callback is placed).
    pub async fn wait_until_called_back(&self, caller_key: &str) -> Result<(), E2eError> {
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        self.wait_until_gone(&row, caller_key).await
    }

    /// The line counting dismissals by reason.
    pub async fn dismissal_counts(&self) -> Result<String, E2eError> {
        text_of(self.client, "dismissal-counts").await
    }

    /// Undoes the latest dismissal and waits until `caller_key` is back on the list.
    pub async fn undo_latest_dismissal(&self, caller_key: &str) -> Result<(), E2eError> {
        self.client
            .find(Locator::Css("[data-testid=undo-dismissal]"))
            .await?
            .click()
            .await?;
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        poll(async || {
            Ok(match self.client.find(Locator::Css(&row)).await {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("{caller_key} is not back after the undo")),
            })
        })
        .await
    }

    async fn wait_until_gone(&self, row: &str, caller_key: &str) -> Result<(), E2eError> {
        poll(async || {
            Ok(match self.client.find(Locator::Css(row)).await {
                Ok(_) => Err(format!("{caller_key} is still on the worklist")),
                Err(_) => Ok(()),
            })
        })
        .await
    }

    /// Logs an answered callback on the row of `caller_key` and waits until the row is gone.
    pub async fn log_answered_callback(&self, caller_key: &str) -> Result<(), E2eError> {
        let row = format!("[data-testid=worklist-row][data-caller-key=\"{caller_key}\"]");
        self.client
            .find(Locator::Css(&format!(
                "{row} [data-testid=callback-answered]"
            )))
            .await?
            .click()
            .await?;
        self.wait_until_gone(&row, caller_key).await
    }
}

/// The appointments page: booking, and each appointment's verdict.
pub struct AppointmentsPage<'a> {
    client: &'a Client,
}

impl<'a> AppointmentsPage<'a> {
    /// Follows the header's link and waits for the booking form.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Appointments").await?;
        Self::wait(client).await
    }

    /// Waits for the booking form (after a reload or a redirect).
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        wait_for_test_id(client, "appointment-create").await?;
        Ok(Self { client })
    }

    /// Books an appointment worth `value` (as typed) for the caller with `caller_key`, listed
    /// among the recent callers.
    pub async fn book(&self, caller_key: &str, value: &str) -> Result<(), E2eError> {
        self.choose_caller(caller_key).await?;
        self.finish_booking(value).await
    }

    /// Books an appointment worth `value` starting at `starts` (`YYYY-MM-DDTHH:MM`, the clinic's
    /// time) for the caller with `caller_key`, found by typing `digits`, the last three of their
    /// number; waits until the page says it is booked.
    pub async fn book_found(
        &self,
        digits: &str,
        caller_key: &str,
        starts: &str,
        value: &str,
    ) -> Result<(), E2eError> {
        type_into(self.client, "appointment-caller-search", digits).await?;
        self.choose_caller(caller_key).await?;
        set_value(self.client, "appointment-starts", starts.into()).await?;
        self.finish_booking(value).await?;
        wait_for_text(self.client, "[data-testid=appointment-done]", |text| {
            text == "Booked."
        })
        .await
    }

    /// Types `starts` (`YYYY-MM-DDTHH:MM`, the clinic's time) as a new booking's start and waits
    /// until the form warns that it clashes with the clinic's Google calendar; the warning.
    pub async fn calendar_clash_at(&self, starts: &str) -> Result<String, E2eError> {
        set_value(self.client, "appointment-starts", starts.into()).await?;
        text_of(self.client, "calendar-clash").await
    }

    /// Opens the dialog of the listed appointment `id` and waits until it says what the clinic's
    /// Google calendar has busy on the booking's day; those words. Fails if the dialog warns of a
    /// clash before the start is changed.
    pub async fn dialog_calendar_of(&self, id: &str) -> Result<String, E2eError> {
        let edit =
            format!("[data-testid=appointment][data-id=\"{id}\"] [data-testid=appointment-edit]");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&edit))
            .await
            .map_err(|e| E2eError::Assertion(format!("appointment {id} is not listed: {e}")))?
            .click()
            .await?;
        self.dialog().await?;
        let busy = "dialog[open] [data-testid=calendar-busy]";
        wait_for_text(self.client, busy, |text| text.contains("that day")).await?;
        let said = self.client.find(Locator::Css(busy)).await?.text().await?;
        let clashes = self
            .client
            .find_all(Locator::Css("dialog[open] [data-testid=calendar-clash]"))
            .await?;
        if !clashes.is_empty() {
            return Err(E2eError::Assertion(format!(
                "the booking's own start clashes: {said}"
            )));
        }
        Ok(said)
    }

    /// Types `starts` (`YYYY-MM-DDTHH:MM`) as the new start in the open dialog and waits until it
    /// warns of a clash with the clinic's Google calendar; the warning. Closes the dialog.
    pub async fn dialog_clash_at(&self, starts: &str) -> Result<String, E2eError> {
        set_value(self.client, "appointment-new-starts", starts.into()).await?;
        let clash = "dialog[open] [data-testid=calendar-clash]";
        wait_for_text(self.client, clash, |text| !text.is_empty()).await?;
        let warning = self.client.find(Locator::Css(clash)).await?.text().await?;
        click_test_id(self.client, "appointment-close").await?;
        Ok(warning)
    }

    async fn choose_caller(&self, caller_key: &str) -> Result<(), E2eError> {
        let option = format!("[data-testid=appointment-caller] option[value=\"{caller_key}\"]");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&option))
            .await
            .map_err(|e| E2eError::Assertion(format!("{caller_key} is not offered: {e}")))?
            .click()
            .await?;
        Ok(())
    }

    async fn finish_booking(&self, value: &str) -> Result<(), E2eError> {
        let input = wait_for_test_id(self.client, "appointment-value").await?;
        input.send_keys(value).await?;
        click_test_id(self.client, "appointment-create").await
    }

    /// Shows only the appointments on the days `from..=to` (`YYYY-MM-DD`, empty for an open end)
    /// for callers whose number ends in `digits` (empty for any). The list shown stays until the
    /// narrowed one has loaded: wait for its rows ([`Self::wait_for_ids`]).
    pub async fn filter(&self, from: &str, to: &str, digits: &str) -> Result<(), E2eError> {
        set_value(self.client, "appointments-from", from.into()).await?;
        set_value(self.client, "appointments-to", to.into()).await?;
        set_value(self.client, "appointments-tail", digits.into()).await?;
        click_test_id(self.client, "appointments-apply").await
    }

    /// Waits until the page lists exactly the appointments `expected`, in that order.
    pub async fn wait_for_ids(&self, expected: &[String]) -> Result<(), E2eError> {
        poll(async || {
            let shown = self.ids().await?;
            Ok(if shown == expected {
                Ok(())
            } else {
                Err(format!("the page lists {shown:?}, not {expected:?}"))
            })
        })
        .await
    }

    /// The masked numbers and start lines of the appointments shown, top to bottom.
    pub async fn rows(&self) -> Result<Vec<(String, String)>, E2eError> {
        let mut rows = Vec::new();
        for row in self
            .client
            .find_all(Locator::Css("[data-testid=appointment]"))
            .await?
        {
            let tail = row
                .find(Locator::Css("[data-testid=appointment-caller-tail]"))
                .await?
                .text()
                .await?;
            let starts = row
                .find(Locator::Css("[data-testid=appointment-starts-at]"))
                .await?
                .text()
                .await?;
            rows.push((tail, starts));
        }
        Ok(rows)
    }

    /// The caller keys the booking form offers, once its callers have loaded (the list then
    /// holds at least one option: a caller, or "No callers yet").
    pub async fn offered_callers(&self) -> Result<Vec<String>, E2eError> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-testid=appointment-caller] option"))
            .await
            .map_err(|e| E2eError::Assertion(format!("the booking form offers no callers: {e}")))?;
        let mut keys = Vec::new();
        for option in self
            .client
            .find_all(Locator::Css("[data-testid=appointment-caller] option"))
            .await?
        {
            keys.push(option.attr("value").await?.unwrap_or_default());
        }
        Ok(keys)
    }

    /// The ids of the appointments on the page shown, top to bottom.
    pub async fn ids(&self) -> Result<Vec<String>, E2eError> {
        let mut ids = Vec::new();
        for row in self
            .client
            .find_all(Locator::Css("[data-testid=appointment]"))
            .await?
        {
            // A row drawn anew between finding and reading it shows as no id: the list is
            // still changing.
            ids.push(row.attr("data-id").await.ok().flatten().unwrap_or_default());
        }
        Ok(ids)
    }

    /// Goes to the older (`true`) or newer page and waits until page `expected` shows.
    pub async fn turn(&self, older: bool, expected: usize) -> Result<(), E2eError> {
        let button = if older {
            "appointments-older"
        } else {
            "appointments-newer"
        };
        click_test_id(self.client, button).await?;
        let label = format!("Page {expected}");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&format!(
                "//*[@data-testid='appointments-page' and text()='{label}']"
            )))
            .await
            .map_err(|e| E2eError::Assertion(format!("{label} never showed: {e}")))?;
        Ok(())
    }

    /// Opens the dialog of the first appointment listed.
    pub async fn open_first_dialog(&self) -> Result<(), E2eError> {
        click_test_id(self.client, "appointment-edit").await?;
        self.dialog().await.map(|_| ())
    }

    /// The appointment dialog, once it is open.
    async fn dialog(&self) -> Result<Element, E2eError> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("dialog[open][data-testid=appointment-dialog]"))
            .await
            .map_err(|e| E2eError::Assertion(format!("the dialog never opened: {e}")))
    }

    /// Opens the dialog of the newest appointment of `caller_key`.
    async fn open_dialog(&self, caller_key: &str) -> Result<Element, E2eError> {
        let row = appointment_row(caller_key);
        click_css(
            self.client,
            &format!("{row} [data-testid=appointment-edit]"),
        )
        .await?;
        self.dialog().await
    }

    /// Changes the value of the newest appointment of `caller_key` in its dialog and waits until
    /// it shows `shown` (e.g. "£60.00").
    pub async fn change_value(
        &self,
        caller_key: &str,
        value: &str,
        shown: &str,
    ) -> Result<(), E2eError> {
        self.edit(caller_key, value, None).await?;
        self.wait_for_amount(caller_key, shown).await
    }

    /// Waits until the newest appointment of `caller_key` shows `shown` as its value.
    pub async fn wait_for_amount(&self, caller_key: &str, shown: &str) -> Result<(), E2eError> {
        let amount = format!(
            "{} [data-testid=appointment-amount]",
            appointment_row(caller_key)
        );
        wait_for_text(self.client, &amount, |text| text == shown).await
    }

    /// Changes the value and (when given) the start (`YYYY-MM-DDTHH:MM`) of the newest
    /// appointment of `caller_key` in its dialog; what the page says the save changed.
    pub async fn edit(
        &self,
        caller_key: &str,
        value: &str,
        starts: Option<&str>,
    ) -> Result<String, E2eError> {
        self.save_in_dialog(caller_key, value, starts).await?;
        wait_for_text(self.client, "[data-testid=appointment-done]", |text| {
            text.starts_with("Saved:")
        })
        .await?;
        text_of(self.client, "appointment-done").await
    }

    /// Opens the dialog of the newest appointment of `caller_key`, types `value` and (when given)
    /// the start, and saves.
    async fn save_in_dialog(
        &self,
        caller_key: &str,
        value: &str,
        starts: Option<&str>,
    ) -> Result<(), E2eError> {
        let dialog = self.open_dialog(caller_key).await?;
        let input = dialog
            .find(Locator::Css("[data-testid=appointment-new-value]"))
            .await?;
        input.clear().await?;
        input.send_keys(value).await?;
        if let Some(starts) = starts {
            set_value(self.client, "appointment-new-starts", starts.into()).await?;
        }
        dialog
            .find(Locator::Css("[data-testid=appointment-save]"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Tries to save `value` with the start emptied for the newest appointment of `caller_key`;
    /// what the dialog says, read while it is still open, then closes it.
    pub async fn refused_edit(&self, caller_key: &str, value: &str) -> Result<String, E2eError> {
        self.save_in_dialog(caller_key, value, Some("")).await?;
        let said = text_of(self.client, "appointment-dialog-error").await?;
        self.dialog().await?;
        click_test_id(self.client, "appointment-close").await?;
        Ok(said)
    }

    /// Cancels the newest appointment of `caller_key` in its dialog and waits until it shows as
    /// cancelled.
    pub async fn cancel(&self, caller_key: &str) -> Result<(), E2eError> {
        let dialog = self.open_dialog(caller_key).await?;
        dialog
            .find(Locator::Css("[data-testid=appointment-cancel]"))
            .await?
            .click()
            .await?;
        self.client.accept_alert().await?;
        let status = format!(
            "{} [data-testid=appointment-status]",
            appointment_row(caller_key)
        );
        wait_for_text(self.client, &status, |text| text == "Cancelled").await
    }

    /// The newest appointment of `caller_key`: its status and reason, once it shows.
    /// Who booked the newest appointment of `caller_key`, when the page says (the AI).
    pub async fn booked_by(&self, caller_key: &str) -> Result<String, E2eError> {
        let row = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&appointment_row(caller_key)))
            .await
            .map_err(|e| E2eError::Assertion(format!("no appointment for {caller_key}: {e}")))?;
        Ok(row
            .find(Locator::Css("[data-testid=appointment-source]"))
            .await?
            .text()
            .await?)
    }

    pub async fn verdict(&self, caller_key: &str) -> Result<(String, String), E2eError> {
        let row = appointment_row(caller_key);
        let row = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&row))
            .await
            .map_err(|e| E2eError::Assertion(format!("no appointment for {caller_key}: {e}")))?;
        let status = row
            .find(Locator::Css("[data-testid=appointment-status]"))
            .await?
            .text()
            .await?;
        let reason = row
            .find(Locator::Css("[data-testid=appointment-reason]"))
            .await?
            .text()
            .await?;
        Ok((status, reason))
    }
}

/// The inbox and one conversation in it.
pub struct InboxPage<'a> {
    client: &'a Client,
}

impl<'a> InboxPage<'a> {
    /// Follows the header's link and waits for the conversation list.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Inbox").await?;
        wait_for_test_id(client, "conversations").await?;
        Ok(Self { client })
    }

    /// Loads the conversation at `path` (as the list links it) afresh and waits for its messages.
    pub async fn open_at(client: &'a Client, base_url: &str, path: &str) -> Result<Self, E2eError> {
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        client.goto(&url).await?;
        wait_for_test_id(client, "messages").await?;
        Ok(Self { client })
    }

    /// The path of the first conversation listed.
    pub async fn first_conversation(&self) -> Result<String, E2eError> {
        let link = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(
                "[data-testid=conversations] a[href^=\"/inbox/\"]",
            ))
            .await
            .map_err(|e| E2eError::Assertion(format!("no conversation listed: {e}")))?;
        link.attr("href")
            .await?
            .ok_or_else(|| E2eError::Assertion("a conversation link without a target".to_owned()))
    }

    /// The paths of the conversations listed, in order.
    pub async fn listed(&self) -> Result<Vec<String>, E2eError> {
        let mut paths = Vec::new();
        for link in self
            .client
            .find_all(Locator::Css(
                "[data-testid=conversations] a[href^=\"/inbox/\"]",
            ))
            .await?
        {
            paths.extend(link.attr("href").await?);
        }
        Ok(paths)
    }

    /// Follows the button below the list to the older conversations and waits until the list
    /// no longer starts with `first`; the conversations then listed.
    pub async fn older(&self, first: &str) -> Result<Vec<String>, E2eError> {
        click_test_id(self.client, "inbox-older").await?;
        poll(async || {
            let listed = self.listed().await?;
            Ok(match listed.first() {
                Some(now) if now != first => Ok(listed),
                _ => Err(format!("the list still starts at {first}")),
            })
        })
        .await
    }

    /// Opens the conversation with the caller whose masked number is `tail`.
    pub async fn open_conversation(&self, tail: &str) -> Result<(), E2eError> {
        follow_link(self.client, tail).await?;
        wait_for_test_id(self.client, "messages").await?;
        Ok(())
    }

    /// Types `text` in the reply box and sends it.
    pub async fn reply(&self, text: &str) -> Result<(), E2eError> {
        wait_for_test_id(self.client, "reply-body")
            .await?
            .send_keys(text)
            .await?;
        click_test_id(self.client, "reply-send").await?;
        Ok(())
    }

    /// What the reply box holds now.
    pub async fn reply_draft(&self) -> Result<String, E2eError> {
        Ok(wait_for_test_id(self.client, "reply-body")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default())
    }

    /// The bodies of the open conversation's messages as shown, oldest first.
    pub async fn message_bodies(&self) -> Result<Vec<String>, E2eError> {
        texts_of_each(self.client, "message-body").await
    }

    /// Waits until the open conversation offers texts that came in since it was read (the page
    /// looks when the clinic's activity changes, every few seconds); what the offer says.
    pub async fn newer_texts_offered(&self) -> Result<String, E2eError> {
        text_of(self.client, "newer-texts").await
    }

    /// Whether the open conversation offers messages newer than those shown, now.
    pub async fn offers_newer_texts(&self) -> Result<bool, E2eError> {
        Ok(!texts_of_each(self.client, "newer-texts").await?.is_empty())
    }

    /// Shows the newer texts offered and waits until the message `text` is among those shown
    /// and the offer is gone.
    pub async fn show_newer_texts(&self, text: &str) -> Result<(), E2eError> {
        click_test_id(self.client, "show-newer-texts").await?;
        poll(async || {
            let offered = self
                .client
                .find_all(Locator::Css("[data-testid=newer-texts]"))
                .await?;
            let bodies = self.message_bodies().await?;
            Ok(if offered.is_empty() && bodies.iter().any(|b| b == text) {
                Ok(())
            } else {
                Err(format!("{text:?} not shown, or still offered: {bodies:?}"))
            })
        })
        .await
    }

    /// Why the last change to the open conversation was refused, once the page says so.
    pub async fn refusal(&self) -> Result<String, E2eError> {
        text_of(self.client, "inbox-error").await
    }

    /// What the open conversation's page says of its state (open or closed, who holds it).
    pub async fn state(&self) -> Result<String, E2eError> {
        text_of(self.client, "conversation-state").await
    }

    /// How many messages of the open conversation the AI wrote.
    pub async fn messages_by_ai(&self) -> Result<usize, E2eError> {
        Ok(self
            .client
            .find_all(Locator::Css("[data-testid=message-by-ai]"))
            .await?
            .len())
    }

    /// What the open conversation says of the AI receptionist, when it says anything.
    pub async fn ai_status(&self) -> Result<Option<String>, E2eError> {
        match self
            .client
            .find_all(Locator::Css("[data-testid=ai-status]"))
            .await?
            .first()
        {
            Some(status) => Ok(status.prop("textContent").await?),
            None => Ok(None),
        }
    }

    /// The answers to the intake questions shown in the open conversation, in their order.
    pub async fn intake_answers(&self) -> Result<Vec<String>, E2eError> {
        let mut answers = Vec::new();
        for answer in self
            .client
            .find_all(Locator::Css("[data-testid=intake-answer]"))
            .await?
        {
            answers.push(answer.prop("textContent").await?.unwrap_or_default());
        }
        Ok(answers)
    }

    /// Whether "E-mail me when the AI receptionist hands a caller to me" is ticked.
    pub async fn mails_hand_offs(&self) -> Result<bool, E2eError> {
        let choice = wait_for_test_id(self.client, "hand-off-mails").await?;
        Ok(choice.prop("checked").await?.as_deref() == Some("true"))
    }

    /// Clicks "E-mail me when the AI receptionist hands a caller to me" and waits until the page
    /// says the choice was saved; what it says.
    pub async fn toggle_hand_off_mails(&self) -> Result<String, E2eError> {
        click_test_id(self.client, "hand-off-mails").await?;
        let saved = "[data-testid=hand-off-mails-saved]";
        wait_for_text(self.client, saved, |said| said.starts_with("Saved")).await?;
        text_of(self.client, "hand-off-mails-saved").await
    }

    /// The steps the AI took in the open conversation, as listed.
    pub async fn ai_steps(&self) -> Result<Vec<String>, E2eError> {
        let mut steps = Vec::new();
        for step in self
            .client
            .find_all(Locator::Css("[data-testid=ai-step]"))
            .await?
        {
            steps.push(step.prop("textContent").await?.unwrap_or_default());
        }
        Ok(steps)
    }

    /// Takes the open conversation over from the AI; what the page then says of the AI.
    pub async fn take_over(&self) -> Result<String, E2eError> {
        click_test_id(self.client, "take-over").await?;
        wait_for_text(self.client, "[data-testid=ai-status]", |shown| {
            shown.contains("the AI stays out of this conversation")
        })
        .await?;
        text_of(self.client, "ai-status").await
    }

    /// Refreshes the conversation until the message `text` shows `status`.
    pub async fn wait_for_status(&self, text: &str, status: &str) -> Result<(), E2eError> {
        poll(async || {
            for message in self
                .client
                .find_all(Locator::Css("[data-testid=message]"))
                .await?
            {
                let body = message
                    .find(Locator::Css("[data-testid=message-body]"))
                    .await?
                    .text()
                    .await?;
                let shown = message
                    .find(Locator::Css("[data-testid=message-status]"))
                    .await?
                    .text()
                    .await?;
                if body == text && shown == status {
                    return Ok(Ok(()));
                }
            }
            click_test_id(self.client, "refresh-conversation").await?;
            Ok(Err(format!("{text:?} never showed {status:?}")))
        })
        .await
    }
}

/// The AI receptionist's settings and price list (admins and owners).
pub struct AiReceptionistPage<'a> {
    client: &'a Client,
}

impl<'a> AiReceptionistPage<'a> {
    /// Follows Settings, then the AI receptionist link, and waits for the form.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Settings").await?;
        wait_for_test_id(client, "settings-save").await?;
        follow_link(client, "AI receptionist").await?;
        wait_for_test_id(client, "ai-save").await?;
        Ok(Self { client })
    }

    /// What the page says turning the AI on means for a dental clinic's privacy notice.
    pub async fn privacy_notice(&self) -> Result<String, E2eError> {
        text_of(self.client, "ai-privacy-notice").await
    }

    /// Ticks "let the AI answer" and saves; the page's confirmation.
    pub async fn turn_on(&self) -> Result<String, E2eError> {
        let on = wait_for_test_id(self.client, "ai-enabled").await?;
        if on.prop("checked").await?.as_deref() != Some("true") {
            on.click().await?;
        }
        click_test_id(self.client, "ai-save").await?;
        text_of(self.client, "ai-saved").await
    }

    /// Adds a service priced `price` (major units) taking `minutes` and worth `value`; waits
    /// until the price list shows it.
    pub async fn add_service(
        &self,
        name: &str,
        price: &str,
        minutes: &str,
        value: &str,
    ) -> Result<(), E2eError> {
        for (id, text) in [
            ("service-name", name),
            ("service-price-from", price),
            ("service-value", value),
        ] {
            type_into(self.client, id, text).await?;
        }
        let length = wait_for_test_id(self.client, "service-minutes").await?;
        length.clear().await?;
        length.send_keys(minutes).await?;
        click_test_id(self.client, "service-add").await?;
        wait_for_text(self.client, "[data-testid=price-list]", |shown| {
            shown.contains(name)
        })
        .await
    }

    /// Types what a standard visit is worth (major units) and saves; the page's confirmation.
    pub async fn set_standard_visit_value(&self, value: &str) -> Result<String, E2eError> {
        let field = wait_for_test_id(self.client, "ai-standard-value").await?;
        field.clear().await?;
        field.send_keys(value).await?;
        click_test_id(self.client, "ai-save").await?;
        text_of(self.client, "ai-saved").await
    }

    /// What a standard visit is worth, as the form shows it.
    pub async fn standard_visit_value(&self) -> Result<String, E2eError> {
        let field = wait_for_test_id(self.client, "ai-standard-value").await?;
        Ok(field.prop("value").await?.unwrap_or_default())
    }

    /// Whether the AI is on, as the form shows it.
    pub async fn is_on(&self) -> Result<bool, E2eError> {
        let on = wait_for_test_id(self.client, "ai-enabled").await?;
        Ok(on.prop("checked").await?.as_deref() == Some("true"))
    }
}

/// The settings page (admins and owners).
pub struct SettingsPage<'a> {
    client: &'a Client,
}

impl<'a> SettingsPage<'a> {
    /// Follows the header's link and waits for the form.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Settings").await?;
        wait_for_test_id(client, "settings-save").await?;
        Ok(Self { client })
    }

    /// Replaces the text of the template field `test_id` (`template-open`, `template-closed`).
    pub async fn write_template(&self, test_id: &str, text: &str) -> Result<(), E2eError> {
        self.write_field(test_id, text).await
    }

    /// Replaces the text of the field `test_id` (`clinic-name`, `booking-link`, …).
    pub async fn write_field(&self, test_id: &str, text: &str) -> Result<(), E2eError> {
        let field = wait_for_test_id(self.client, test_id).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    /// Types `text` as the business hours of weekday `index` (0 is Monday).
    pub async fn write_hours(&self, index: usize, text: &str) -> Result<(), E2eError> {
        let field = wait_for_test_id(self.client, &format!("hours-{index}")).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    /// Adds `date` (ISO) to the holidays with the date picker.
    pub async fn add_holiday(&self, date: &str) -> Result<(), E2eError> {
        set_value(self.client, "holiday-new", date.into()).await?;
        click_test_id(self.client, "holiday-add").await?;
        Ok(())
    }

    /// Saves; `Ok` with the page's confirmation, or the refusal it shows.
    pub async fn save(&self) -> Result<Result<String, String>, E2eError> {
        click_test_id(self.client, "settings-save").await?;
        let outcome = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(
                "[data-testid=settings-saved], [data-testid=settings-error]",
            ))
            .await
            .map_err(|e| E2eError::Assertion(format!("saving settings showed nothing: {e}")))?;
        let text = outcome.text().await?;
        Ok(match outcome.attr("data-testid").await?.as_deref() {
            Some("settings-saved") => Ok(text),
            _ => Err(text),
        })
    }

    /// The address the page asks to share a Google calendar with, and the code it asks to put
    /// in the calendar's description.
    pub async fn calendar_instructions(&self) -> Result<(String, String), E2eError> {
        Ok((
            text_of(self.client, "calendar-share-with").await?,
            text_of(self.client, "calendar-ownership-code").await?,
        ))
    }

    /// Types `calendar` as the Google calendar ID and saves it; `Ok` with the confirmation, or the
    /// refusal the page shows.
    pub async fn choose_calendar(
        &self,
        calendar: &str,
    ) -> Result<Result<String, String>, E2eError> {
        let field = wait_for_test_id(self.client, "calendar-id").await?;
        field.clear().await?;
        field.send_keys(calendar).await?;
        click_test_id(self.client, "calendar-save").await?;
        poll(async || {
            if let Ok(refusal) = self
                .client
                .find(Locator::Css("[data-testid=calendar-error]"))
                .await
            {
                return Ok(Ok(Err(refusal.text().await?)));
            }
            let saved = text_of(self.client, "calendar-saved").await?;
            Ok(if saved.is_empty() {
                Err("saving the calendar showed nothing".to_owned())
            } else {
                Ok(Ok(saved))
            })
        })
        .await
    }

    /// The live preview of template `test_id` and its cost line.
    pub async fn preview(&self, test_id: &str) -> Result<(String, String), E2eError> {
        Ok((
            text_of(self.client, &format!("{test_id}-preview")).await?,
            text_of(self.client, &format!("{test_id}-segments")).await?,
        ))
    }
}

/// The selector of the appointments of `caller_key` (the first match is the newest).
fn appointment_row(caller_key: &str) -> String {
    format!("[data-testid=appointment][data-caller-key=\"{caller_key}\"]")
}

/// The team page (admins and owners).
pub struct TeamPage<'a> {
    client: &'a Client,
}

impl<'a> TeamPage<'a> {
    /// Follows the header's link and waits for the member list.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Team").await?;
        wait_for_test_id(client, "team").await?;
        Ok(Self { client })
    }

    /// Invites `name` at `email` as a receptionist; the link shown once.
    pub async fn invite_receptionist(&self, email: &str, name: &str) -> Result<String, E2eError> {
        for (field, text) in [("invite-email", email), ("invite-name", name)] {
            type_into(self.client, field, text).await?;
        }
        click_test_id(self.client, "invite-create").await?;
        text_of(self.client, "invite-link").await
    }

    /// Invites `name` at `email`, which the server refuses; the refusal shown, once no
    /// invitation link is left on the page.
    pub async fn invite_refused(&self, email: &str, name: &str) -> Result<String, E2eError> {
        for (field, text) in [("invite-email", email), ("invite-name", name)] {
            self.client.find(Locator::Id(field)).await?.clear().await?;
            type_into(self.client, field, text).await?;
        }
        click_test_id(self.client, "invite-create").await?;
        wait_for_text(self.client, "p[role=alert]", |shown| !shown.is_empty()).await?;
        if self
            .client
            .find(Locator::Css("[data-testid=invite-link]"))
            .await
            .is_ok()
        {
            return Err(E2eError::Assertion(
                "the last invitation's link is still shown".to_owned(),
            ));
        }
        Ok(self
            .client
            .find(Locator::Css("p[role=alert]"))
            .await?
            .text()
            .await?)
    }
}

/// The API keys page (admins and owners).
pub struct ApiKeysPage<'a> {
    client: &'a Client,
}

impl<'a> ApiKeysPage<'a> {
    /// Follows the header's link and waits for the form.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "API keys").await?;
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id("key-name"))
            .await?;
        Ok(Self { client })
    }

    /// Creates a key called `name` that may also write; its secret, shown once.
    pub async fn create_writer(&self, name: &str) -> Result<String, E2eError> {
        type_into(self.client, "key-name", name).await?;
        self.client
            .find(Locator::Css("#key-write"))
            .await?
            .click()
            .await?;
        self.client
            .find(Locator::Css("form.settings button[type=submit]"))
            .await?
            .click()
            .await?;
        text_of(self.client, "api-key-secret-value").await
    }

    /// Revokes the key called `name` and waits until the list says so.
    pub async fn revoke(&self, name: &str) -> Result<(), E2eError> {
        let row = format!("[data-testid=api-key][data-name=\"{name}\"]");
        // A key just made shows in the list once the list has loaded again.
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&format!("{row} [data-testid=api-key-revoke]")))
            .await
            .map_err(|e| E2eError::Assertion(format!("{name} is not listed: {e}")))?
            .click()
            .await?;
        // The page asks first: whatever uses the key stops working.
        self.client.accept_alert().await?;
        wait_for_text(self.client, &row, |text| text.contains("revoked")).await
    }
}

/// The export page (admins and owners).
pub struct ExportPage<'a> {
    client: &'a Client,
}

impl<'a> ExportPage<'a> {
    /// Follows the header's link and waits for the form.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Export").await?;
        wait_for_test_id(client, "export-create").await?;
        Ok(Self { client })
    }

    /// The period the form offers, as (from, to) ISO dates.
    pub async fn period(&self) -> Result<(String, String), E2eError> {
        let value = async |id: &str| -> Result<String, E2eError> {
            Ok(self
                .client
                .find(Locator::Id(id))
                .await?
                .prop("value")
                .await?
                .unwrap_or_default())
        };
        Ok((value("export-from").await?, value("export-to").await?))
    }

    /// Downloads the CSV of `what` (`calls`, `appointments`, `metrics`); its file name and text,
    /// read from the download link.
    pub async fn prepare(&self, what: &str) -> Result<(String, String), E2eError> {
        let option = format!("[data-testid=export-what] option[value=\"{what}\"]");
        self.client
            .find(Locator::Css(&option))
            .await?
            .click()
            .await?;
        keep_saved_files(self.client).await?;
        click_test_id(self.client, "export-create").await?;
        let link = wait_for_test_id(self.client, "export-download").await?;
        let (filename, _, text) = saved_file(self.client, &link).await?;
        Ok((filename, text))
    }
}

/// The audit log page (admins and owners).
pub struct AuditLogPage<'a> {
    client: &'a Client,
}

impl<'a> AuditLogPage<'a> {
    /// Follows the header's link and waits for the entries.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Audit log").await?;
        wait_for_test_id(client, "audit-action").await?;
        Ok(Self { client })
    }

    /// The sequence numbers of the entries listed, newest first.
    pub async fn seqs(&self) -> Result<Vec<i64>, E2eError> {
        let mut seqs = Vec::new();
        for cell in self
            .client
            .find_all(Locator::Css("[data-testid=audit-seq]"))
            .await?
        {
            seqs.push(cell.text().await?.trim().parse().unwrap_or(-1));
        }
        Ok(seqs)
    }

    /// Whether the page offers older entries.
    pub async fn offers_older(&self) -> Result<bool, E2eError> {
        Ok(self
            .client
            .find(Locator::Css("[data-testid=audit-older]"))
            .await
            .is_ok())
    }

    /// Shows the older entries and waits until the newest listed is older than `before`.
    pub async fn older(&self, before: i64) -> Result<Vec<i64>, E2eError> {
        click_test_id(self.client, "audit-older").await?;
        poll(async || {
            let seqs = self.seqs().await?;
            Ok(match seqs.first() {
                Some(first) if *first < before => Ok(seqs),
                _ => Err(format!("the page still starts at {seqs:?}")),
            })
        })
        .await
    }

    /// The actions listed, newest first.
    pub async fn actions(&self) -> Result<Vec<String>, E2eError> {
        texts_of_each(self.client, "audit-action").await
    }
}

/// The "texts not sent" page (admins and owners).
pub struct UndeliveredPage<'a> {
    client: &'a Client,
}

impl<'a> UndeliveredPage<'a> {
    /// Waits for the page's refresh button.
    pub async fn wait(client: &'a Client) -> Result<Self, E2eError> {
        wait_for_test_id(client, "undelivered-refresh").await?;
        Ok(Self { client })
    }

    /// Refreshes until a job is listed (the worker gives up in the background); its reason.
    pub async fn first_reason(&self) -> Result<String, E2eError> {
        poll(async || {
            let reasons = self
                .client
                .find_all(Locator::Css("[data-testid=undelivered-reason]"))
                .await?;
            if let Some(reason) = reasons.first() {
                return Ok(Ok(reason.text().await?));
            }
            click_test_id(self.client, "undelivered-refresh").await?;
            Ok(Err("no text was listed as not sent".to_owned()))
        })
        .await
    }

    /// Queues the first listed job again and waits for the confirmation.
    pub async fn retry_first(&self) -> Result<(), E2eError> {
        click_test_id(self.client, "undelivered-retry").await?;
        wait_for_test_id(self.client, "undelivered-done").await?;
        Ok(())
    }

    /// Refreshes until nothing is listed.
    pub async fn wait_until_empty(&self) -> Result<(), E2eError> {
        poll(async || {
            click_test_id(self.client, "undelivered-refresh").await?;
            let none = self
                .client
                .find_all(Locator::Css("[data-testid=undelivered-none]"))
                .await?;
            Ok(if none.is_empty() {
                Err("the retried text stayed listed".to_owned())
            } else {
                Ok(())
            })
        })
        .await
    }
}

/// The page the link of a sign-up confirmation mail opens.
pub struct ConfirmSignUpPage<'a> {
    client: &'a Client,
}

impl<'a> ConfirmSignUpPage<'a> {
    /// Opens the confirmation `link` and waits for the form.
    pub async fn open(client: &'a Client, link: &str) -> Result<Self, E2eError> {
        client.goto(link).await?;
        wait_for_test_id(client, "confirm-sign-up").await?;
        Ok(Self { client })
    }

    /// Creates the clinic with the password chosen when signing up; the dashboard then signs its
    /// owner in.
    pub async fn create_clinic(&self, password: &str) -> Result<(), E2eError> {
        type_into(self.client, "confirmation-password", password).await?;
        click_test_id(self.client, "confirm-sign-up").await
    }
}

/// The page an invitation link opens.
pub struct AcceptInvitePage<'a> {
    client: &'a Client,
}

impl<'a> AcceptInvitePage<'a> {
    /// Opens the invitation `link` and waits for the form.
    pub async fn open(client: &'a Client, link: &str) -> Result<Self, E2eError> {
        client.goto(link).await?;
        wait_for_test_id(client, "accept-invite").await?;
        Ok(Self { client })
    }

    /// Chooses `password` (typed twice) and joins.
    pub async fn join(&self, password: &str) -> Result<(), E2eError> {
        for field in ["new-password", "new-password-again"] {
            type_into(self.client, field, password).await?;
        }
        click_test_id(self.client, "accept-invite").await?;
        Ok(())
    }

    /// Joins with the account signed in now (the page asks no password then); returns what the
    /// page said it would do.
    pub async fn join_signed_in(&self) -> Result<String, E2eError> {
        let said = text_of(self.client, "join-as").await?;
        click_test_id(self.client, "accept-invite").await?;
        Ok(said)
    }

    /// The refusal shown on the form.
    pub async fn error(&self) -> Result<String, E2eError> {
        text_of(self.client, "sign-in-error").await
    }
}

/// Whether the header offers a link with `text` once it has loaded: waits for it up to the
/// usual bound, so a link drawn late is still found (use [`has_link`] to check one is absent).
pub async fn shows_link(client: &Client, text: &str) -> Result<bool, E2eError> {
    Ok(wait_for_link(client, text).await.is_ok())
}

/// Whether the header offers a link with `text` as drawn now.
pub async fn has_link(client: &Client, text: &str) -> Result<bool, E2eError> {
    Ok(!client.find_all(Locator::LinkText(text)).await?.is_empty())
}

/// Waits for the "your role does not allow this" message.
pub async fn wait_for_forbidden(client: &Client) -> Result<String, E2eError> {
    text_of(client, "forbidden").await
}

/// The attribution window page with its what-if preview.
pub struct WhatIfPage<'a> {
    client: &'a Client,
}

impl<'a> WhatIfPage<'a> {
    /// Opens the page from the settings page's link and waits for the figures.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        client
            .find(Locator::Css("a[href=\"/settings/attribution\"]"))
            .await?
            .click()
            .await?;
        wait_for_test_id(client, "whatif-recovered").await?;
        Ok(Self { client })
    }

    /// Moves the window slider to `days`, as a user dragging it would.
    pub async fn set_window(&self, days: u32) -> Result<(), E2eError> {
        set_value(self.client, "whatif-window", days.into()).await
    }

    /// The previewed (recovered, revenue) texts.
    pub async fn preview(&self) -> Result<(String, String), E2eError> {
        Ok((
            text_of(self.client, "whatif-recovered").await?,
            text_of(self.client, "whatif-revenue").await?,
        ))
    }

    /// The saved (recovered, revenue) texts.
    pub async fn saved(&self) -> Result<(String, String), E2eError> {
        Ok((
            text_of(self.client, "saved-recovered").await?,
            text_of(self.client, "saved-revenue").await?,
        ))
    }

    /// The period shown, as (from, to).
    pub async fn period(&self) -> Result<(String, String), E2eError> {
        let period = wait_for_test_id(self.client, "whatif-period").await?;
        Ok((
            period.attr("data-from").await?.unwrap_or_default(),
            period.attr("data-to").await?.unwrap_or_default(),
        ))
    }

    /// Saves the window and waits until the page shows it as the saved one; what the page said
    /// the save changed.
    pub async fn save(&self, days: u32) -> Result<String, E2eError> {
        click_test_id(self.client, "whatif-save").await?;
        let saved = format!("[data-testid=whatif-save][data-saved-days=\"{days}\"]");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&saved))
            .await
            .map_err(|e| {
                E2eError::Assertion(format!("the {days}-day window never showed as saved: {e}"))
            })?;
        text_of(self.client, "whatif-saved").await
    }
}

/// The GraphQL console on `/graphql`.
pub struct ConsolePage<'a> {
    client: &'a Client,
}

impl<'a> ConsolePage<'a> {
    /// Opens the console at `base_url`.
    pub async fn open(client: &'a Client, base_url: &str) -> Result<Self, E2eError> {
        client.goto(&format!("{base_url}graphql")).await?;
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("form#console"))
            .await
            .map_err(|e| E2eError::Assertion(format!("the console never appeared: {e}")))?;
        Ok(Self { client })
    }

    /// Runs the operation in the form as it stands and waits for an answer containing `expected`.
    pub async fn run_and_expect(&self, expected: &str) -> Result<(), E2eError> {
        self.client
            .find(Locator::Css("form#console button"))
            .await?
            .click()
            .await?;
        wait_for_text(self.client, "#answer", |shown| shown.contains(expected)).await
    }
}

/// Records the body of every response the page's `fetch` receives from now on (the dashboard's
/// API calls), for [`recorded_responses`].
pub async fn record_responses(client: &Client) -> Result<(), E2eError> {
    client
        .execute(
            "window.__ringbackResponses = [];
             const original = window.fetch;
             window.fetch = async (...args) => {
               const response = await original(...args);
               response.clone().text().then(text => window.__ringbackResponses.push(text));
               return response;
             };",
            vec![],
        )
        .await?;
    Ok(())
}

/// The bodies recorded since [`record_responses`].
pub async fn recorded_responses(client: &Client) -> Result<Vec<String>, E2eError> {
    let recorded = client
        .execute("return window.__ringbackResponses || [];", vec![])
        .await?;
    Ok(recorded
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|body| body.as_str().map(str::to_owned))
        .collect())
}

/// The billing page (owners), and Stripe's hosted pages it sends the owner to.
pub struct BillingPage<'a> {
    client: &'a Client,
}

impl<'a> BillingPage<'a> {
    /// Follows the header's link and waits for the current plan.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Billing").await?;
        wait_for_test_id(client, "billing-current").await?;
        Ok(Self { client })
    }

    /// The plan's name, its status and the usage line, as shown.
    pub async fn current(&self) -> Result<(String, String, String), E2eError> {
        Ok((
            text_of(self.client, "billing-plan").await?,
            text_of(self.client, "billing-status").await?,
            text_of(self.client, "billing-usage").await?,
        ))
    }

    /// What the page says of the free trial: how long the plans' choice keeps it (before a plan
    /// is chosen) and how much of it is left, each if shown.
    pub async fn trial(&self) -> Result<(Option<String>, Option<String>), E2eError> {
        let shown = |id: &'static str| async move {
            match self
                .client
                .find_all(Locator::Css(&format!("[data-testid={id}]")))
                .await?
                .first()
            {
                Some(element) => Ok::<_, E2eError>(Some(element.text().await?)),
                None => Ok(None),
            }
        };
        Ok((
            shown("billing-trial-kept").await?,
            shown("billing-trial-left").await?,
        ))
    }

    /// Chooses plan `key`, which opens Stripe Checkout, and pays there (the button with id
    /// `pay` on the hosted page); back on the billing page, waits until it shows `plan_name`
    /// without a reload.
    pub async fn choose_and_pay(&self, key: &str, plan_name: &str) -> Result<(), E2eError> {
        click_test_id(self.client, &format!("choose-{key}")).await?;
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id("pay"))
            .await
            .map_err(|e| E2eError::Assertion(format!("Checkout never opened: {e}")))?
            .click()
            .await?;
        wait_for_test_id(self.client, "billing-current").await?;
        wait_for_text(self.client, "[data-testid=billing-plan]", |shown| {
            shown == plan_name
        })
        .await
    }
}

/// Privacy: retention, and a caller's data-protection requests.
pub struct PrivacyPage<'a> {
    client: &'a Client,
}

impl<'a> PrivacyPage<'a> {
    /// Follows the header's link and waits for the retention settings.
    pub async fn open(client: &'a Client) -> Result<Self, E2eError> {
        follow_link(client, "Privacy").await?;
        wait_for_test_id(client, "retention-words").await?;
        Ok(Self { client })
    }

    /// Looks the caller with `number` up; returns how many calls are held for them.
    pub async fn look_up(&self, number: &str) -> Result<usize, E2eError> {
        type_into(self.client, "privacy-number", number).await?;
        click_css(
            self.client,
            "[data-testid=privacy-lookup] button[type=submit]",
        )
        .await?;
        wait_for_test_id(self.client, "caller-record").await?;
        Ok(self
            .client
            .find_all(Locator::Css("[data-testid=caller-calls] li"))
            .await?
            .len())
    }

    /// Prepares the JSON copy; returns what its link saves: its type and its text.
    pub async fn export(&self) -> Result<(String, String), E2eError> {
        keep_saved_files(self.client).await?;
        click_test_id(self.client, "caller-export").await?;
        let link = wait_for_test_id(self.client, "caller-download").await?;
        let (_, content_type, text) = saved_file(self.client, &link).await?;
        Ok((content_type, text))
    }

    /// Types `days` as the call retention and saves; the page's confirmation.
    pub async fn save_call_retention(&self, days: &str) -> Result<String, E2eError> {
        let field = wait_for_test_id(self.client, "call-retention").await?;
        field.clear().await?;
        field.send_keys(days).await?;
        click_test_id(self.client, "retention-save").await?;
        text_of(self.client, "retention-saved").await
    }

    /// Erases the caller after confirming; returns the answer shown.
    pub async fn erase(&self) -> Result<String, E2eError> {
        click_test_id(self.client, "caller-erase").await?;
        click_test_id(self.client, "caller-erase-confirm").await?;
        text_of(self.client, "privacy-notice").await
    }
}
