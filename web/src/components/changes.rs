//! Saying what a save changed: a form names its fields, sends only those that differ from what
//! was last saved, and after a save says which they were ("Saved: time zone and currency
//! changed."), or that nothing had; and sending one save at a time.

use leptos::prelude::*;
use leptos::task::spawn_local;

/// Runs `request` unless one marked `busy` is on its way, marking `busy` while it runs: the
/// buttons showing `busy` as disabled wait for it, so a second click never sends it again.
pub fn one_at_a_time(busy: RwSignal<bool>, request: impl Future<Output = ()> + 'static) {
    if busy.get_untracked() {
        return;
    }
    busy.set(true);
    spawn_local(async move {
        request.await;
        busy.set(false);
    });
}

/// A form's fields by name, and what each held when last saved.
#[derive(Clone, Copy)]
pub struct ChangeTracker {
    fields: StoredValue<Vec<(&'static str, Signal<String>)>>,
    last_saved: StoredValue<Vec<String>>,
}

/// The fields' values at the moment a save was sent, and which of them had changed.
pub struct PendingSave {
    values: Vec<String>,
    changed: Vec<&'static str>,
}

impl PendingSave {
    /// Whether the field named `name` differs from what was last saved: a form sends only such
    /// fields, so a tab left open never writes back values another member has changed since.
    pub fn has(&self, name: &str) -> bool {
        self.changed.contains(&name)
    }
}

impl ChangeTracker {
    /// Tracks `fields` (name, current value), taking what they hold now as saved.
    pub fn new(fields: Vec<(&'static str, Signal<String>)>) -> Self {
        let values = fields
            .iter()
            .map(|(_, value)| value.get_untracked())
            .collect();
        ChangeTracker {
            fields: StoredValue::new(fields),
            last_saved: StoredValue::new(values),
        }
    }

    /// What is about to be saved: call when sending.
    pub fn pending(&self) -> PendingSave {
        let values: Vec<String> = self.fields.with_value(|fields| {
            fields
                .iter()
                .map(|(_, value)| value.get_untracked())
                .collect()
        });
        let changed = self.fields.with_value(|fields| {
            self.last_saved.with_value(|last| {
                fields
                    .iter()
                    .zip(last)
                    .zip(&values)
                    .filter(|((_, before), after)| before != after)
                    .map(|(((name, _), _), _)| *name)
                    .collect()
            })
        });
        PendingSave { values, changed }
    }

    /// Records `pending` as saved and says what it changed.
    pub fn saved(&self, pending: PendingSave) -> String {
        self.last_saved.set_value(pending.values);
        changed_words(&pending.changed)
    }

    /// Records as saved only the fields of `pending` named in `part` (a form saved in parts, one
    /// refused), and says what they changed; the others stay to be saved.
    pub fn saved_part(&self, pending: &PendingSave, part: &[&str]) -> String {
        self.fields.with_value(|fields| {
            self.last_saved.update_value(|last| {
                for ((name, _), (saved, value)) in
                    fields.iter().zip(last.iter_mut().zip(&pending.values))
                {
                    if part.contains(name) {
                        saved.clone_from(value);
                    }
                }
            });
        });
        let changed: Vec<&str> = pending
            .changed
            .iter()
            .copied()
            .filter(|name| part.contains(name))
            .collect();
        changed_words(&changed)
    }
}

/// What a save changed, in words.
pub fn changed_words(changed: &[&str]) -> String {
    match changed {
        [] => "Saved: nothing had changed.".to_owned(),
        [only] => format!("Saved: {only} changed."),
        [first @ .., last] => format!("Saved: {} and {last} changed.", first.join(", ")),
    }
}
